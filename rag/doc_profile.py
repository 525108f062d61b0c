"""Document profiles: the periods and names a document is about, and how a question matches them.

A profile is built at ingestion from a document's title, file name and first page: the periods
(quarters ``2023Q2``, fiscal years ``FY2023``, months ``2023-06``, years ``2023``) and the names
(capitalised words: companies, products) found there. At query time the same extraction runs on
the question; a question that names a period, company, product or title then prefers the
documents whose profile matches it over near-identical siblings (``Retriever`` boosts them).

Example::

    profile = build_profile("Q2 2023 earnings call", "acme-q2-2023.pdf", first_page)
    match(question_profile("What did Acme say in the Q2 2023 call?"), profile)  # 1.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january february march april may june july august september october november december"
        ).split(),
        1,
    )
}
_YEAR = r"((?:19|20)\d{2}|'?\d{2})"
_QUARTER_PATTERNS = (
    # Q2 2023, Q2'23, Q2 FY23, Q2-2023
    (re.compile(rf"\bq([1-4])[\s\-_]*(?:fy|of)?[\s\-_]*{_YEAR}\b", re.I), 1, 2),
    # 2023 Q2, 2023-Q2
    (re.compile(r"\b((?:19|20)\d{2})[\s\-_]*q([1-4])\b", re.I), 2, 1),
    # 2Q23, 2Q 2023
    (re.compile(rf"\b([1-4])q[\s\-_]*{_YEAR}\b", re.I), 1, 2),
    # second quarter of 2023, third fiscal quarter 2022, first quarter of fiscal 2023
    (
        re.compile(
            r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(?:fiscal\s+)?quarter"
            r"(?:\s+of)?(?:\s+fiscal(?:\s+year)?)?\s+((?:19|20)\d{2})\b",
            re.I,
        ),
        1,
        2,
    ),
)
_FISCAL_YEAR = re.compile(r"\b(?:fy|fiscal\s+(?:year\s+)?)[\s\-_']*((?:19|20)\d{2}|\d{2})\b", re.I)
_MONTH_YEAR = re.compile(
    r"\b(" + "|".join(_MONTHS) + r")\s+(?:\d{1,2},?\s+)?((?:19|20)\d{2})\b", re.I
)
_BARE_YEAR = re.compile(r"(?<![\d\-])((?:19|20)\d{2})(?![\d])")
_CAPITALISED = re.compile(r"\b([A-Z][A-Za-z0-9&\-]*[A-Za-z0-9])(?:'s|’s)?")
_NOT_NAMES = frozenset(
    """a an the and or of in on at for to by with from what which who whom whose when where why
    how is are was were be been did does do has have had can could will would should may might
    this that these those it its their our your my his her they we you i inc corp corporation
    company co ltd llc plc quarter quarterly fiscal year annual report form call transcript
    earnings page table note notes item part section united states securities exchange
    commission washington according tell give list describe explain compare please""".split()
) | frozenset(_MONTHS)
#: characters of the first page that are read for names (the cover, not the whole page).
FIRST_PAGE_CHARS = 1500


def _year(text: str) -> int:
    digits = text.lstrip("'")
    year = int(digits)
    return year + 2000 if len(digits) == 2 else year


def periods(text: str) -> set[str]:
    """The periods ``text`` names: ``2023Q2``, ``FY2023``, ``2023-06`` and ``2023``."""
    found: set[str] = set()
    for pattern, q_group, y_group in _QUARTER_PATTERNS:
        for m in pattern.finditer(text):
            raw_q = m.group(q_group).lower()
            quarter = _ORDINALS.get(raw_q) or int(raw_q)
            year = _year(m.group(y_group))
            found |= {f"{year}Q{quarter}", str(year)}
    for m in _FISCAL_YEAR.finditer(text):
        year = _year(m.group(1))
        found |= {f"FY{year}", str(year)}
    for m in _MONTH_YEAR.finditer(text):
        found |= {f"{m.group(2)}-{_MONTHS[m.group(1).lower()]:02d}", m.group(2)}
    found |= {m.group(1) for m in _BARE_YEAR.finditer(text)}
    return found


def names(text: str) -> set[str]:
    """Lower-cased capitalised words of ``text`` that may name a company, product or title."""
    out: set[str] = set()
    for m in _CAPITALISED.finditer(text):
        word = m.group(1).lower()
        if word in _NOT_NAMES or len(word) < 2 or word[0].isdigit():
            continue
        if re.fullmatch(r"q[1-4]|fy\d*|\d+q", word):
            continue
        out.add(word)
    return out


def _words(text: str) -> set[str]:
    """Every word of a title or file name (lower-cased), which may name the document."""
    return {
        w
        for w in re.findall(r"[a-z][a-z0-9&]+", text.lower())
        if w not in _NOT_NAMES and not re.fullmatch(r"q[1-4]|fy\d*", w)
    }


def first_page_text(elements: Sequence[Any]) -> str:
    """The text of a parsed document's first page (its opening elements where it has no pages)."""
    pages = [e.page for e in elements if getattr(e, "page", None) is not None]
    first = min(pages) if pages else None
    out: list[str] = []
    size = 0
    for element in elements:
        if first is not None and element.page != first:
            continue
        out.append(element.text)
        size += len(element.text)
        if size >= FIRST_PAGE_CHARS:
            break
    return "\n".join(out)


def build_profile(title: str, file_name: str, first_page: str) -> dict[str, list[str]]:
    """A document's profile (JSON-ready): its periods and names from title, file name, cover."""
    cover = first_page[:FIRST_PAGE_CHARS]
    head = f"{title}\n{file_name}"
    return {
        "periods": sorted(periods(head) | periods(cover)),
        "names": sorted(_words(head) | names(cover)),
    }


_LATEST = re.compile(r"\b(?:latest|most\s+recent|newest|last|current)\b", re.I)


def question_profile(question: str) -> dict[str, Any]:
    """The periods and names a question mentions (empty lists where it names none), and
    whether it asks for the latest period ("the most recent 10-Q") without naming one."""
    found = periods(question)
    return {
        "periods": sorted(found),
        "names": sorted(names(question)),
        "latest": not found and bool(_LATEST.search(question)),
    }


def resolve_latest(
    question: Mapping[str, Any], profiles: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """A question asking for the latest period, given the newest period among the documents
    that match its names (quarters or months, else years); others are returned unchanged."""
    if not question.get("latest"):
        return dict(question)
    asked = {**question, "latest": False}
    named = [p for p in profiles.values() if match(asked, p) == 1.0] or list(profiles.values())
    held = {x for p in named for x in p.get("periods", ())}
    for kind in (r"\d{4}Q\d", r"\d{4}-\d{2}", r"FY\d{4}", r"\d{4}"):
        newest = [x for x in held if re.fullmatch(kind, x)]
        if newest:
            asked["periods"] = [max(newest)]
            break
    return asked


def _most_specific(found: set[str]) -> set[str]:
    """Quarters and months where the question gives them, else fiscal years, else years."""
    for kind in (r"\d{4}Q\d|\d{4}-\d{2}", r"FY\d{4}", r"\d{4}"):
        chosen = {p for p in found if re.fullmatch(kind, p)}
        if chosen:
            return chosen
    return set()


def match(question: Mapping[str, Any], document: Mapping[str, Any]) -> float:
    """How well a document's profile matches what the question names, 0..1 (0: names nothing)."""
    parts: list[float] = []
    asked_periods = _most_specific(set(question.get("periods", ())))
    if asked_periods:
        parts.append(1.0 if asked_periods & set(document.get("periods", ())) else 0.0)
    asked_names = set(question.get("names", ()))
    if asked_names:
        doc_names = set(document.get("names", ()))
        parts.append(len(asked_names & doc_names) / len(asked_names))
    return sum(parts) / len(parts) if parts else 0.0


def names_something(question: Mapping[str, Any]) -> bool:
    """Whether the question names a period or a name a profile can match."""
    return bool(question.get("periods") or question.get("names") or question.get("latest"))
