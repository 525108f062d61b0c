"""Metadata filters: Ragstead's own value, which every store translates into its own dialect.

The vector store (``rag.stores.vector_store``: a Chroma ``where``) and the lexical index
(``rag.stores.sql_filters``: SQL) apply a ``Filters`` inside their searches, never after;
``matches`` re-checks a chunk with the same rules.

A ``Filters`` value says which chunks a search may return. Every field is optional and the
fields combine with AND:

- ``source``: a glob on the source path (``*`` also crosses folders); a relative pattern
  matches the end of the path, so ``handbook/*.md`` finds ``/srv/docs/handbook/leave.md``;
- ``doc_types``: file types without the dot (``pdf``, ``md``); any of them;
- ``section``: a section path (``Benefits`` or ``Benefits > Leave``); its subsections match too;
- ``date_from`` / ``date_to``: the document's date (file modification time), inclusive,
  as Unix seconds;
- ``tags``: labels the chunk must all carry;
- ``groups``: the caller's access groups. ``None`` means no access check (a trusted local
  caller); a set, even an empty one, sees unrestricted documents plus those shared with one
  of its groups;
- ``doc_ids``: the documents a search may use (the retriever resolves ``source`` into it).

Example::

    f = Filters.parse(["type=pdf", "section=Benefits", "after=2024-01-01"])
    passages = retriever.retrieve("parental leave", filters=f.with_groups({"hr"}))
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from rag.errors import InvalidRequestError
from rag.types import Chunk

_KEYS = {
    "source": "source",
    "path": "source",
    "type": "doc_types",
    "doc_type": "doc_types",
    "doc_types": "doc_types",
    "section": "section",
    "after": "date_from",
    "date_from": "date_from",
    "before": "date_to",
    "date_to": "date_to",
    "tag": "tags",
    "tags": "tags",
    "group": "groups",
    "groups": "groups",
}


def parse_date(value: str | float | int | date, *, end_of_day: bool = False) -> float:
    """Unix seconds from a number, an ISO date (``2024-05-01``) or date-time (UTC if naive)."""
    if isinstance(value, bool):
        raise InvalidRequestError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.max if end_of_day else time.min)
    else:
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                moment = datetime.combine(day, time.max if end_of_day else time.min)
            else:
                moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidRequestError(
                f"not a date: {value!r}", hint="use ISO 8601, e.g. 2024-05-01 or 2024-05-01T12:00"
            ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


@dataclass(frozen=True)
class Filters:
    """Which chunks a search may return (see the module docstring)."""

    source: str | None = None
    doc_types: tuple[str, ...] = ()
    section: str | None = None
    date_from: float | None = None
    date_to: float | None = None
    tags: tuple[str, ...] = ()
    groups: frozenset[str] | None = None
    #: the documents the search may use (None: any). The retriever resolves ``source`` into it
    #: for stores that cannot match a glob (Chroma).
    doc_ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("doc_types", "tags"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
        for name in ("groups", "doc_ids"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value))
        if (
            self.date_from is not None
            and self.date_to is not None
            and self.date_from > self.date_to
        ):
            raise InvalidRequestError(
                "the date range is empty: 'after' is later than 'before'",
                hint="swap the two dates",
            )
        for name in ("doc_types", "tags"):
            if any("," in v for v in getattr(self, name)):
                raise InvalidRequestError(f"{name} may not contain commas")

    def with_groups(self, groups: Iterable[str] | None) -> Filters:
        """The same filters for a caller in ``groups`` (None: no access check)."""
        return dataclasses.replace(
            self, groups=None if groups is None else frozenset(_names(groups))
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Filters:
        """Filters from a JSON-like mapping (the API body), with the same keys as ``parse``."""
        fields: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            name = _KEYS.get(key)
            if name is None:
                raise InvalidRequestError(
                    f"unknown filter {key!r}", hint=f"known filters: {', '.join(sorted(_KEYS))}"
                )
            if name in ("doc_types", "tags", "groups"):
                items = [value] if isinstance(value, str) else list(value)
                fields[name] = (*fields.get(name, ()), *_names(str(v) for v in items))
            elif name in ("date_from", "date_to"):
                fields[name] = parse_date(value, end_of_day=name == "date_to")
            else:
                fields[name] = str(value).strip() or None
        if "doc_types" in fields:
            fields["doc_types"] = tuple(t.lower().lstrip(".") for t in fields["doc_types"])
        if "groups" in fields:
            fields["groups"] = frozenset(fields["groups"])
        return cls(**fields)

    @classmethod
    def parse(cls, expressions: Sequence[str]) -> Filters:
        """Filters from ``key=value`` expressions (``ragstead ask --filter``); repeats add up.

        Keys: ``source`` (glob), ``type``, ``section``, ``after``, ``before``, ``tag``,
        ``group`` (``group=`` alone: the empty set, i.e. unrestricted documents only). A value
        may list several items separated by commas (``type=pdf,docx``).
        """
        data: dict[str, Any] = {}
        for expr in expressions:
            key, sep, value = expr.partition("=")
            key = key.strip().lower()
            if not sep or not key:
                raise InvalidRequestError(
                    f"not a filter: {expr!r}", hint="write key=value, e.g. type=pdf"
                )
            name = _KEYS.get(key)
            if name in ("doc_types", "tags", "groups"):
                items = [v for v in value.split(",") if v.strip()]
                data[key] = [*data.get(key, []), *items]
            else:
                data[key] = value
        return cls.from_mapping(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (for reports and logs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            out[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return out


def section_path(section: str) -> str:
    """A section path in its stored form: parts joined by " > " without stray spaces."""
    return " > ".join(p.strip() for p in section.split(">") if p.strip())


def matches(filters: Filters, chunk: Chunk) -> bool:
    """True when ``chunk`` satisfies ``filters`` (the same rules as the SQL and Chroma forms)."""
    if filters.source:
        pattern = filters.source
        relative = not (pattern.startswith("/") or pattern.startswith("*"))
        if not fnmatch.fnmatchcase(chunk.source, pattern) and not (
            relative and fnmatch.fnmatchcase(chunk.source, f"*/{pattern}")
        ):
            return False
    if filters.doc_types and chunk.doc_type not in filters.doc_types:
        return False
    if filters.doc_ids is not None and chunk.doc_id not in filters.doc_ids:
        return False
    if filters.section:
        section = section_path(filters.section)
        if not (chunk.section == section or chunk.section.startswith(section + " > ")):
            return False
    if filters.date_from is not None and chunk.mtime < filters.date_from:
        return False
    if filters.date_to is not None and chunk.mtime > filters.date_to:
        return False
    if any(t not in chunk.tags for t in filters.tags):
        return False
    return not (
        filters.groups is not None
        and chunk.groups
        and not filters.groups.intersection(chunk.groups)
    )
