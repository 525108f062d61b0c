"""``Filters`` in SQL: the condition the SQLite stores apply inside their queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag.filters import Filters, section_path


def _listed(column: str) -> str:
    return f"(',' || {column} || ',') LIKE ('%,' || ? || ',%')"


def source_sql(pattern: str, column: str = "source") -> tuple[str, list[Any]]:
    """SQL matching a source glob: the whole path, or its end for a relative pattern."""
    if pattern.startswith("/") or pattern.startswith("*"):
        return f"{column} GLOB ?", [pattern]
    return f"({column} GLOB ? OR {column} GLOB ?)", [pattern, f"*/{pattern}"]


def sql_where(filters: Filters, alias: str = "c") -> tuple[str, list[Any]]:
    """A SQL condition on the ``chunks`` table (as ``alias``) and its parameters."""
    parts: list[str] = []
    params: list[Any] = []
    if filters.source:
        sql, p = source_sql(filters.source, f"{alias}.source")
        parts.append(sql)
        params.extend(p)
    if filters.doc_ids is not None:
        ids = sorted(filters.doc_ids)
        parts.append(f"{alias}.doc_id IN ({','.join('?' * len(ids))})" if ids else "0")
        params.extend(ids)
    if filters.doc_types:
        parts.append(f"{alias}.doc_type IN ({','.join('?' * len(filters.doc_types))})")
        params.extend(filters.doc_types)
    if filters.section:
        section = section_path(filters.section)
        parts.append(f"({alias}.section = ? OR {alias}.section LIKE ? ESCAPE '\\')")
        escaped = section.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.extend([section, f"{escaped} > %"])
    if filters.date_from is not None:
        parts.append(f"{alias}.mtime >= ?")
        params.append(filters.date_from)
    if filters.date_to is not None:
        parts.append(f"{alias}.mtime <= ?")
        params.append(filters.date_to)
    for tag in filters.tags:
        parts.append(_listed(f"{alias}.tags"))
        params.append(tag)
    if filters.groups is not None:
        sql, p = groups_sql(filters.groups, f"{alias}.groups")
        parts.append(sql)
        params.extend(p)
    return " AND ".join(parts), params


def groups_sql(
    groups: frozenset[str], column: str = "groups", listed: Callable[[str], str] = _listed
) -> tuple[str, list[Any]]:
    """SQL for "unrestricted, or shared with one of ``groups``" on a comma-joined column
    (``listed`` writes "the parameter is one of the column's items" in the dialect)."""
    allowed = [f"{column} = ''"]
    params: list[Any] = []
    for group in sorted(groups):
        allowed.append(listed(column))
        params.append(group)
    return "(" + " OR ".join(allowed) + ")", params
