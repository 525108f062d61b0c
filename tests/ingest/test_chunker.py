"""Chunking: sections first, token budgets respected, tables split between rows."""

from __future__ import annotations

from ingest.chunker import chunk_elements, split_sentences
from ingest.elements import Element


def words(text: str) -> int:
    return len(text.split())


def test_sections_are_not_mixed() -> None:
    elements = [
        Element("Leave", kind="heading", section=("Leave",)),
        Element("Full-time staff get 28 days.", section=("Leave",)),
        Element("Expenses", kind="heading", section=("Expenses",)),
        Element("Mileage is 0.30 EUR per km.", section=("Expenses",)),
    ]
    drafts = chunk_elements(elements, title="Handbook", count_tokens=words, max_tokens=100)
    assert [(d.section, d.text) for d in drafts] == [
        ("Leave", "Full-time staff get 28 days."),
        ("Expenses", "Mileage is 0.30 EUR per km."),
    ]


def test_long_text_is_split_within_budget_without_losing_words() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(60))
    drafts = chunk_elements(
        [Element(text, section=("A",))], title="T", count_tokens=words, max_tokens=40
    )
    assert len(drafts) > 1
    assert all(words(f"T > A\n{d.text}") <= 40 for d in drafts)
    assert " ".join(d.text for d in drafts).split() == text.split()


def test_table_split_between_rows_with_header_repeated() -> None:
    header = "city | per diem | overnight"
    rows = [f"City{i} | {i} EUR | {i * 2} EUR" for i in range(40)]
    table = Element("\n".join([header, *rows]), kind="table", header=header, section=("Rates",))
    drafts = chunk_elements([table], title="Expenses", count_tokens=words, max_tokens=60)
    assert len(drafts) > 1
    seen = []
    for d in drafts:
        lines = d.text.split("\n")
        assert lines[0] == header
        seen.extend(lines[1:])
    assert seen == rows


def test_pages_are_tracked() -> None:
    elements = [Element(f"Page {p} text.", page=p) for p in (1, 2, 3)]
    drafts = chunk_elements(elements, title="", count_tokens=words, max_tokens=100)
    assert [(d.page, d.page_end) for d in drafts] == [(1, 1), (2, 2), (3, 3)]


def test_small_pieces_merge_up_to_the_budget() -> None:
    elements = [Element(f"Item {i}.", kind="list", section=("S",)) for i in range(10)]
    drafts = chunk_elements(elements, title="", count_tokens=words, max_tokens=100)
    assert len(drafts) == 1 and drafts[0].text.count("Item") == 10


def test_split_sentences() -> None:
    assert split_sentences("One. Two! Three?\nFour") == ["One.", "Two!", "Three?", "Four"]
