"""``Filters`` in PostgreSQL: the condition the PostgreSQL stores apply inside their queries.

The same rules as ``rag.stores.sql_filters`` (SQLite) and ``rag.filters.matches``, in
PostgreSQL's dialect with psycopg's ``%s`` placeholders.
"""

from __future__ import annotations

import re
from typing import Any

from rag.filters import Filters, section_path


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
        pattern = filters.source
        if pattern.startswith("/") or pattern.startswith("*"):
            parts.append(f"{alias}.source ~ %s")
            params.append(glob_regex(pattern))
        else:
            parts.append(f"({alias}.source ~ %s OR {alias}.source ~ %s)")
            params.extend([glob_regex(pattern), glob_regex(f"*/{pattern}")])
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
        allowed = [f"{alias}.groups = ''"]
        for group in sorted(filters.groups):
            allowed.append(_listed(f"{alias}.groups"))
            params.append(group)
        parts.append("(" + " OR ".join(allowed) + ")")
    return " AND ".join(parts), params
