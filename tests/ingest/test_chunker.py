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


def test_sheet_name_joins_the_section_path_unless_it_is_the_title() -> None:
    rows = Element("Product | Price\nStarter | 49", kind="table", header="Product | Price")
    prices = Element(rows.text, kind="table", header=rows.header, sheet="Prices")
    drafts = chunk_elements([prices], title="Book", count_tokens=words, max_tokens=100)
    assert [d.section for d in drafts] == ["Prices"]
    csv = Element(rows.text, kind="table", header=rows.header, sheet="price-list")
    drafts = chunk_elements([csv], title="price-list", count_tokens=words, max_tokens=100)
    assert [d.section for d in drafts] == [""]


def test_consecutive_table_blocks_do_not_repeat_the_header_inside_a_chunk() -> None:
    header = "Name | Seats"
    blocks = [
        Element("\n".join([header, f"user{i} | {i}"]), kind="table", header=header)
        for i in range(3)
    ]
    [draft] = chunk_elements(blocks, title="", count_tokens=words, max_tokens=100)
    assert draft.text.split("\n") == [header, "user0 | 0", "user1 | 1", "user2 | 2"]


def test_small_neighbour_sections_merge_with_their_headings_in_the_text() -> None:
    elements = [
        Element("Leave", kind="heading", section=()),
        Element("Intro", kind="heading", section=("Leave",)),
        Element("Short intro.", section=("Leave", "Intro")),
        Element("Rules", kind="heading", section=("Leave",)),
        Element(" ".join(["Staff get 28 days."] * 5), section=("Leave", "Rules")),
    ]
    drafts = chunk_elements(elements, title="HR", count_tokens=words, max_tokens=100, min_tokens=10)
    assert len(drafts) == 1
    assert drafts[0].section == "Leave"
    assert drafts[0].text.startswith("Intro\nShort intro.\nRules\nStaff get 28 days.")


def test_sections_stay_apart_when_both_are_big_enough() -> None:
    elements = [
        Element(" ".join(["Alpha text."] * 10), section=("A",)),
        Element(" ".join(["Beta text."] * 10), section=("B",)),
    ]
    drafts = chunk_elements(elements, title="", count_tokens=words, max_tokens=100, min_tokens=5)
    assert [d.section for d in drafts] == ["A", "B"]


def test_every_chunk_is_counted_whole_and_split_if_the_sum_was_optimistic() -> None:
    # A tokenizer whose count of a joined text exceeds the sum of its parts (one token per line
    # break): packing by sums overshoots, and the final whole count must catch it.
    def count(text: str) -> int:
        return len(text.split()) + text.count("\n")

    elements = [Element(f"row {i} text here", kind="list") for i in range(40)]
    drafts = chunk_elements(elements, title="T", count_tokens=count, max_tokens=30)
    assert drafts and all(d.tokens == count(f"T\n{d.text}") <= 30 for d in drafts)
    assert "\n".join(d.text for d in drafts).split("\n") == [e.text for e in elements]


def test_a_long_unbroken_token_run_is_cut_to_fit() -> None:
    def chars(text: str) -> int:
        return len(text.replace(" ", "")) // 4 + 2

    blob = "".join(__import__("random").Random(0).choices("abcdefghij", k=2000))  # no repeats
    drafts = chunk_elements([Element(blob)], title="", count_tokens=chars, max_tokens=64)
    assert all(d.tokens <= 64 for d in drafts)
    assert "".join(d.text.replace(" ", "") for d in drafts) == blob


def test_an_overlong_section_path_is_shortened_from_the_outside() -> None:
    path = tuple(f"Heading number {i} with words" for i in range(12))
    drafts = chunk_elements(
        [Element("Body text.", section=path)], title="T", count_tokens=words, max_tokens=60
    )
    [draft] = drafts
    assert draft.section.endswith("Heading number 11 with words")
    assert "Heading number 0 " not in draft.section
    assert draft.tokens <= 60 and "Body text." in draft.text


def test_repeated_chunks_of_a_document_are_kept_once() -> None:
    line = "The same boilerplate line again and again."
    elements = [Element(line, section=("A",)) for _ in range(50)] + [Element("Unique.")]
    drafts = chunk_elements(elements, title="T", count_tokens=words, max_tokens=12)
    texts = [(d.section, d.text) for d in drafts]
    assert len(texts) == len(set(texts)) and any("Unique." in t for _, t in texts)
