"""``Filters`` in PostgreSQL: the condition the PostgreSQL stores apply inside their queries.

The same rules as ``rag.stores.sql_filters`` (SQLite) and ``rag.filters.matches``, in
PostgreSQL's dialect with psycopg's ``%s`` placeholders.
"""

from __future__ import annotations

import re
from typing import Any

from rag.filters import Filters, section_path
from rag.stores.sql_filters import groups_sql


def glob_regex(pattern: str) -> str:
    """A POSIX regular expression matching what ``fnmatch.fnmatchcase(pattern)`` matches."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 1 if pattern[i : i + 1] in ("!", "]") else i)
            if end < 0:
                out.append(re.escape(ch))
                continue
            body = pattern[i:end].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    return "^" + "".join(out) + "$"


def _listed(column: str) -> str:
    return f"position(',' || %s || ',' in ',' || {column} || ',') > 0"


def pg_where(filters: Filters, alias: str = "c") -> tuple[str, list[Any]]:
    """A PostgreSQL condition on a table with the chunk filter columns and its parameters."""
    parts: list[str] = []
    params: list[Any] = []
    if filters.source:
        sql, p = pg_source_sql(filters.source, f"{alias}.source")
        parts.append(sql)
        params.extend(p)
    if filters.doc_ids is not None:
        parts.append(f"{alias}.doc_id = ANY(%s)")
        params.append(sorted(filters.doc_ids))
    if filters.doc_types:
        parts.append(f"{alias}.doc_type = ANY(%s)")
        params.append(list(filters.doc_types))
    if filters.section:
        section = section_path(filters.section)
        parts.append(f"({alias}.section = %s OR starts_with({alias}.section, %s))")
        params.extend([section, f"{section} > "])
    if filters.date_from is not None:
        parts.append(f"{alias}.mtime >= %s")
        params.append(filters.date_from)
    if filters.date_to is not None:
        parts.append(f"{alias}.mtime <= %s")
        params.append(filters.date_to)
    for tag in filters.tags:
        parts.append(_listed(f"{alias}.tags"))
        params.append(tag)
    if filters.groups is not None:
        sql, p = pg_groups_sql(filters.groups, f"{alias}.groups")
        parts.append(sql)
        params.extend(p)
    return " AND ".join(parts), params


def pg_source_sql(pattern: str, column: str = "source") -> tuple[str, list[Any]]:
    """SQL matching a source glob: the whole path, or its end for a relative pattern."""
    if pattern.startswith("/") or pattern.startswith("*"):
        return f"{column} ~ %s", [glob_regex(pattern)]
    return f"({column} ~ %s OR {column} ~ %s)", [glob_regex(pattern), glob_regex(f"*/{pattern}")]


def pg_groups_sql(groups: frozenset[str], column: str = "groups") -> tuple[str, list[Any]]:
    """SQL for "unrestricted, or shared with one of ``groups``" on a comma-joined column."""
    return groups_sql(groups, column, listed=_listed)
