"""Prompt packing, citation mapping, the grounding check and extractive answers.

Passages are built in memory; the embedder is the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import pytest

from ingest.chunker import chunk_elements
from ingest.elements import Element
from rag.assistant import until_repeating
from rag.embedders import SentenceTransformerEmbedder
from rag.extractive import ExtractiveAnswerer
from rag.grounding import GroundingChecker, claims_of, clean_markers
from rag.prompting import build_messages, passage_label, trim_history
from rag.text import drop_repeated_sentences, marker_numbers, numbers_in, sentence_spans
from rag.types import Chunk, Passage

LEAVE = (
    "Full-time employees receive 28 days of annual leave per calendar year. "
    "Part-time employees receive a pro-rata share of the full-time entitlement."
)
PASSWORDS = (
    "Every password for a Northwind account must be at least 14 characters long. "
    "Passwords are changed only after a suspected compromise."
)
EXPENSES = "The mileage allowance is 0.30 EUR/km for the distance actually driven."


def passage(text: str, source: str, n: int = 0, page: int | None = None, **kw: object) -> Passage:
    chunk = Chunk(id=f"c{n}", doc_id=f"d{n}", text=text, source=source, page=page, **kw)  # type: ignore[arg-type]
    return Passage(chunk=chunk, score=1.0 / (n + 1))


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture()
def passages() -> list[Passage]:
    return [
        passage(LEAVE, "/docs/leave-policy.md", 0),
        passage(PASSWORDS, "/docs/it-security.html", 1),
        passage(EXPENSES, "/docs/expenses.pdf", 2, page=4),
    ]


def words(text: str) -> int:
    return len(text.split())


# -- prompt packing ----------------------------------------------------------------------------


def test_tight_budget_keeps_the_best_passages_that_fit_in_rank_order() -> None:
    long = passage(" ".join(["filler"] * 120), "/docs/long.md", 1)
    ranked = [
        passage(LEAVE, "/docs/leave.md", 0),
        long,
        passage(PASSWORDS, "/docs/security.html", 2),
        passage(EXPENSES, "/docs/expenses.pdf", 3, page=4),
    ]
    messages, kept = build_messages("How many days?", ranked, count_tokens=words, budget=115)
    assert [p.chunk.source for p in kept] == ["/docs/leave.md", "/docs/security.html"]
    user = messages[-1]["content"]
    assert "[1] leave.md" in user and "[2] security.html" in user and "[3]" not in user
    assert "filler" not in user  # the long one was skipped, the smaller one after it fit
    assert sum(words(m["content"]) + 6 for m in messages) <= 115
    assert "cite" in messages[0]["content"] and "How many days?" in user


def test_when_nothing_fits_whole_the_best_passage_is_cut_to_the_budget() -> None:
    big = passage(" ".join(f"w{i}" for i in range(400)), "/docs/big.md", 0)
    messages, kept = build_messages("q?", [big], count_tokens=words, budget=150)
    assert len(kept) == 1 and 32 <= words(kept[0].chunk.text) < 400
    assert kept[0].chunk.text in messages[-1]["content"]
    assert sum(words(m["content"]) + 6 for m in messages) <= 150


def test_history_is_trimmed_to_its_budget_newest_first() -> None:
    history = [
        {"role": "user", "content": "first question " * 20},
        {"role": "assistant", "content": "first answer " * 20},
        {"role": "user", "content": "How many days of leave?"},
        {"role": "assistant", "content": "28 days [1]."},
    ]
    kept = trim_history(history, 30, words)
    assert kept == history[2:]
    messages, _ = build_messages(
        "and part-time?", [], count_tokens=words, budget=500, history=history, history_budget=30
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]


def test_labels_name_the_file_page_and_section() -> None:
    p = passage("x", "/docs/report.pdf", 0, page=3, page_end=4, section="Results")
    assert passage_label(p) == "report.pdf, pages 3-4 (Results)"
    assert passage_label(passage("x", "/c/corpus.jsonl#630", 1)) == "corpus.jsonl#630"


# -- citation markers and grounding ------------------------------------------------------------


def test_markers_pointing_at_nothing_are_removed_and_reported() -> None:
    text, removed = clean_markers("Leave is 28 days [1][7]. Also [2, 9] and [12].", 3)
    assert removed == [7, 9, 12]
    assert text == "Leave is 28 days [1]. Also [2] and."
    assert marker_numbers("1-3") == [1, 2, 3] and marker_numbers("2; 4") == [2, 4]
    claims = claims_of("Leave is 28 days. [1] Passwords need 14 characters [2].")
    assert [(c.text, c.cited) for c in claims] == [
        ("Leave is 28 days.", [1]),
        ("Passwords need 14 characters.", [2]),
    ]


def test_citations_map_to_passages_with_quotes(
    embedder: SentenceTransformerEmbedder, passages: list[Passage]
) -> None:
    result = GroundingChecker(embedder).check(
        "Full-time employees get 28 days of annual leave [1]. Passwords need at least "
        "14 characters [2]. The sky is green [5].",
        passages,
    )
    assert result.removed == [5]
    by_n = {c.n: c for c in result.citations}
    assert set(by_n) == {1, 2}
    assert by_n[1].source == "/docs/leave-policy.md" and by_n[1].chunk_id == "c0"
    assert by_n[1].quote.startswith("Full-time employees receive 28 days")
    assert by_n[2].quote.startswith("Every password") and not by_n[2].inferred
    assert [s.supported for s in result.sentences] == [True, True, False]
    assert result.sentences[2].citations == []  # its only marker pointed at nothing
    assert not result.grounded


def test_a_wrong_number_is_flagged_even_when_the_sentence_is_similar(
    embedder: SentenceTransformerEmbedder, passages: list[Passage]
) -> None:
    result = GroundingChecker(embedder).check(
        "The minimum password length is 12 characters [2].", passages
    )
    [sentence] = result.sentences
    assert not sentence.supported and sentence.missing == ["12"]
    assert "12" in sentence.reason and not result.grounded
    right = GroundingChecker(embedder).check(
        "The minimum password length is 14 characters [2].", passages
    )
    assert right.grounded and right.sentences[0].score >= 0.6


def test_an_uncited_supported_sentence_gets_the_passage_that_supports_it(
    embedder: SentenceTransformerEmbedder, passages: list[Passage]
) -> None:
    result = GroundingChecker(embedder).check(
        "The mileage allowance is 0.30 EUR per km driven.", passages
    )
    [citation] = result.citations
    assert citation.n == 3 and citation.inferred and citation.page == 4
    assert result.grounded
    invented = GroundingChecker(embedder).check("Employees may bring dogs to work.", passages)
    assert invented.citations == [] and not invented.grounded
    assert invented.sentences[0].reason.startswith("no passage supports")


def test_names_must_occur_in_the_cited_passage(
    embedder: SentenceTransformerEmbedder, passages: list[Passage]
) -> None:
    result = GroundingChecker(embedder).check(
        "Every password for a Contoso account must be at least 14 characters long [2].",
        passages,
    )
    assert result.sentences[0].missing == ["Contoso"] and not result.grounded


def test_a_refusal_is_not_a_claim(
    embedder: SentenceTransformerEmbedder, passages: list[Passage]
) -> None:
    result = GroundingChecker(embedder).check(
        "The documents do not cover the parking rules.", passages
    )
    assert result.sentences[0].kind == "refusal" and result.grounded


def test_the_cited_page_is_the_page_that_holds_the_quote(
    embedder: SentenceTransformerEmbedder,
) -> None:
    elements = [
        Element("Travel is booked through the portal.", page=2),
        Element("The hotel cap is 140 EUR per night including breakfast.", page=3),
    ]
    [draft] = chunk_elements(
        elements, title="Travel", count_tokens=words, max_tokens=200, min_tokens=40
    )
    assert (draft.page, draft.page_end) == (2, 3) and len(draft.page_breaks) == 1
    chunk = Chunk(
        id="t",
        doc_id="t",
        text=draft.text,
        source="/docs/travel.pdf",
        page=draft.page,
        page_end=draft.page_end,
        page_breaks=tuple(draft.page_breaks),
    )
    result = GroundingChecker(embedder).check(
        "Hotels are capped at 140 EUR per night [1].", [Passage(chunk, 1.0)]
    )
    assert result.citations[0].page == 3
    assert result.citations[0].quote.startswith("The hotel cap")
    assert chunk.page_at(0) == 2


# -- extractive answers ------------------------------------------------------------------------


def test_extractive_answer_is_the_best_sentence_cited(
    embedder: SentenceTransformerEmbedder, passages: list[Passage]
) -> None:
    text = ExtractiveAnswerer(embedder).answer("What is the minimum password length?", passages)
    assert text.startswith("Every password for a Northwind account must be at least 14")
    assert "[2]" in text
    assert GroundingChecker(embedder).check(text, passages).grounded


# -- text helpers ------------------------------------------------------------------------------


def test_sentences_numbers_and_repeats() -> None:
    text = "It costs 7,442 EUR. The rate is 2.50 per km.\nRow | 1 | 2\n1. First item."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "It costs 7,442 EUR.",
        "The rate is 2.50 per km.",
        "Row | 1 | 2",
        "1. First item.",
    ]
    assert numbers_in("7,442 and 2.50 and 0.30") == ["7442", "2.5", "0.3"]
    looping = "1. The policy is set out.\n2. The policy is set out.\n3. Another point."
    assert drop_repeated_sentences(looping) == "1. The policy is set out.\n3. Another point."
    pieces = ["The policy ", "is set out. ", "The policy is ", "set out. ", "More text ", "here."]
    assert "".join(until_repeating(iter(pieces))).count("The policy") == 2
    assert "here" not in "".join(until_repeating(iter(pieces)))
    near = [
        "All staff must lock their screens. ",
        "All employees must lock their screens. ",
        "More. ",
        "Never reached.",
    ]
    assert "Never" not in "".join(until_repeating(iter(near)))  # stopped at the near-repeat
    assert drop_repeated_sentences("".join(near[:2])) == near[0].strip()
    kept = "Full-time staff get 28 days. Part-time staff get 17 days."
    assert drop_repeated_sentences(kept) == kept  # different facts are not repeats
