"""Table rows in passages: find a row's header, and answer with the header's meaning.

Parsers write a table as lines of cells joined by `` | ``, the header line first (repeated at
the top of every chunk that holds rows). A row chosen as an answer is rendered as its key (the
first cell) followed by the asked columns with their headers, not as a bare row:

    asked "How much does Insight Pro cost?", the row
    "Insight Pro | Cloud | 119 EUR | per user/month | 5 | ..." is answered
    "Insight Pro: List price 119 EUR, Billing unit per user/month"

Example::

    header = header_for(chunk_text, row_start)
    render_row(row, header, profile)
"""

from __future__ import annotations

import re

from rag.questions import QuestionProfile, answer_type_strength, matched_terms

CELL_SEPARATOR = " | "
_AMOUNT_HEADER = re.compile(
    r"\b(price|cost|fee|rate|amount|eur|usd|total|charge|allowance|salary|budget)\b", re.I
)
_UNIT_HEADER = re.compile(r"\b(unit|per|billing|currency)\b", re.I)


def is_row(text: str) -> bool:
    """Whether ``text`` is a table line (cells joined by `` | ``)."""
    return text.count(CELL_SEPARATOR) >= 1


def cells(row: str) -> list[str]:
    """The cells of a table line, stripped."""
    return [c.strip() for c in row.split("|")]


def header_for(text: str, start: int) -> str | None:
    """The header line of the table holding the line at ``start`` of ``text`` (None if the line
    is itself the header or no table line precedes it)."""
    lines_before = text[:start].split("\n")
    header: str | None = None
    for line in reversed(lines_before[:-1] if not lines_before[-1].strip() else lines_before):
        if not is_row(line):
            break
        header = line.strip()
    if header is None or header == text[start:].split("\n", 1)[0].strip():
        return None
    return header


def asked_columns(values: list[str], headers: list[str], profile: QuestionProfile) -> list[int]:
    """Columns (other than the key) that answer ``profile``: headers naming its terms first, then
    the cells holding the kind of thing asked for."""
    named = [i for i in range(1, len(headers)) if matched_terms(profile, headers[i])]
    named = [i for i in named if values[i] not in ("", "-")]
    if named:
        return named
    if profile.kind in ("amount", "count", "percent", "duration", "when"):
        typed = [
            i
            for i in range(1, len(headers))
            if values[i] not in ("", "-") and answer_type_strength(profile.kind, values[i]) >= 1.0
        ]
        if profile.kind == "amount":
            money = [i for i in typed if _AMOUNT_HEADER.search(headers[i])]
            typed = money or typed
        if typed:
            chosen = typed[:1]
            # a price's unit goes with it ("119 EUR" "per user/month")
            after = chosen[0] + 1
            if after < len(headers) and _UNIT_HEADER.search(headers[after]):
                chosen.append(after)
            return chosen
    return []


def render_row(row: str, header: str | None, profile: QuestionProfile) -> str:
    """The row as its key followed by the asked columns with their headers (every column when
    none is asked for); the bare row when it has no header."""
    values = cells(row)
    if header is None:
        return row.strip()
    headers = cells(header)
    if len(headers) != len(values) or len(values) < 2:
        return row.strip()
    chosen = asked_columns(values, headers, profile) or [
        i for i in range(1, len(values)) if values[i] not in ("", "-")
    ]
    parts = [f"{headers[i]} {values[i]}" for i in chosen]
    return f"{values[0]}: {', '.join(parts)}"
