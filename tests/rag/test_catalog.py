"""The SQLite catalog: atomic swaps, deletes and BM25 search."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import NotFoundError
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.lexical_index import (
    MIN_TERMS,
    SqliteLexicalIndex,
    content_words,
    match_expression,
    rarest,
    within_budget,
)
from rag.types import Chunk


def _chunks(doc_id: str, texts: list[str], tag: str = "v1") -> list[Chunk]:
    return [
        Chunk(
            id=f"{doc_id}-{tag}-{i}", doc_id=doc_id, text=t, source=f"/{doc_id}.md", chunk_index=i
        )
        for i, t in enumerate(texts)
    ]


def test_replace_swaps_chunks_and_returns_old_ids(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "i.sqlite3")
    rec = DocumentRecord(doc_id="d1", source="/d1.md")
    assert cat.replace_document(rec, _chunks("d1", ["alpha parking", "beta badges"])) == []
    old = cat.replace_document(rec, _chunks("d1", ["gamma parking"], tag="v2"))
    assert sorted(old) == ["d1-v1-0", "d1-v1-1"]
    assert [c.text for c in cat.chunks_of("d1")] == ["gamma parking"]
    assert [cid for cid, _ in cat.lexical.search("parking", 10)] == ["d1-v2-0"]
    assert cat.lexical.search("badges", 10) == []


def test_search_ranks_by_bm25_and_stems(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "i.sqlite3")
    cat.replace_document(
        DocumentRecord(doc_id="d", source="/d.md"),
        _chunks("d", ["employees travelling by train", "travel policy for trains and trains", "x"]),
    )
    ids = [cid for cid, _ in cat.lexical.search("How do I travel by train?", 10)]
    assert ids[:2] == ["d-v1-1", "d-v1-0"]


def test_delete_unknown_document_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        Catalog(tmp_path / "i.sqlite3").delete_document("nope")


def test_match_expression_quotes_terms_and_drops_stopwords() -> None:
    assert match_expression('What is "the" NEAR(x) policy?') == '"near" OR "x" OR "policy"'
    assert match_expression("???") == ""


def test_rarest_keeps_the_words_fewest_chunks_hold_in_question_order() -> None:
    words = ["cells", "mitochondria", "patients", "tumour"]
    counts = {"cells": 900, "mitochondria": 2, "patients": 800}  # "tumour": none
    assert rarest(words, counts, 2) == ["mitochondria", "tumour"]
    assert rarest(words, counts, 8) == words


def test_within_budget_drops_the_commonest_words_down_to_the_fewest_kept() -> None:
    words = ["cells", "mitochondria", "patients", "tumour", "growth", "mice"]
    counts = {"cells": 900, "mitochondria": 2, "patients": 800, "growth": 50, "mice": 40}
    assert within_budget(words, counts, 5000) == words  # under the budget: all stay
    kept = within_budget(words, counts, 100)  # the rarest MIN_TERMS stay, in question order
    assert kept == ["mitochondria", "tumour", "growth", "mice"] and len(kept) == MIN_TERMS
    assert within_budget(words, counts, 1000) == [
        "mitochondria",
        "patients",
        "tumour",
        "growth",
        "mice",
    ]


def test_past_the_cut_even_the_fewest_words_go_down_to_the_rarest() -> None:
    words = ["cells", "mitochondria", "patients", "growth", "mice", "study"]
    counts = {"cells": 90_000, "patients": 80_000, "growth": 50_000, "mice": 40_000}
    counts |= {"study": 70_000, "mitochondria": 300}
    four = ["mitochondria", "growth", "mice", "study"]
    assert within_budget(rarest(words, counts, 8), counts, 20_000) == four
    assert within_budget(words, counts, 20_000, cut_above=200_000) == four  # under the cut
    assert within_budget(words, counts, 20_000, cut_above=60_000) == ["mitochondria", "mice"]
    assert within_budget(words, counts, 20_000, cut_above=1_000) == ["mitochondria"]
    assert within_budget(["cells"], counts, 0, cut_above=0) == ["cells"]  # one word stays


def _common_words_and_one_rare(path: Path) -> Catalog:
    """Eight chunks of common words, and one about mitochondria (in mice)."""
    cat = Catalog(path)
    for i in range(8):
        cat.replace_document(
            DocumentRecord(doc_id=f"d{i}", source=f"/d{i}.md"),
            _chunks(f"d{i}", ["patients cells study results in mice"]),
        )
    cat.replace_document(
        DocumentRecord(doc_id="m", source="/m.md"), _chunks("m", ["Mitochondria of mice."])
    )
    return cat


def test_a_short_question_past_the_cut_keeps_its_rarest_words(tmp_path: Path) -> None:
    cat = _common_words_and_one_rare(tmp_path / "i.sqlite3")
    question = "patients cells mitochondria mice"  # 4 words, 26 matching chunk-words
    assert SqliteLexicalIndex(cat.db, prune_above=5, cut_above=None).searched_words(
        question
    ) == content_words(question)
    cut = SqliteLexicalIndex(cat.db, prune_above=5, cut_above=10)
    assert cut.searched_words(question) == ["cells", "mitochondria"]
    assert [cid for cid, _ in cut.search(question, 1)] == ["m-v1-0"]


def test_a_short_question_of_common_words_is_pruned_on_a_large_index(tmp_path: Path) -> None:
    cat = _common_words_and_one_rare(tmp_path / "i.sqlite3")
    lexical = SqliteLexicalIndex(cat.db, prune_above=20)
    question = "patients cells study results mitochondria mice"  # 6 words: never "long"
    searched = lexical.searched_words(question)
    assert len(searched) == MIN_TERMS and "mitochondria" in searched and "mice" not in searched
    assert cat.lexical.searched_words(question) == content_words(question)  # cheap: whole
    assert [cid for cid, _ in lexical.search(question, 1)] == ["m-v1-0"]


def test_a_long_question_is_searched_by_its_rarest_words(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "i.sqlite3")
    assert isinstance(cat.lexical, SqliteLexicalIndex) and cat.lexical.prune_above > 100
    lexical = SqliteLexicalIndex(cat.db, prune_above=50)  # a big index's costly question
    assert lexical.max_terms is not None
    common = "patients cells study results effect treatment disease risk levels"
    for i in range(6):
        cat.replace_document(
            DocumentRecord(doc_id=f"d{i}", source=f"/d{i}.md"), _chunks(f"d{i}", [common])
        )
    question = f"{common} mitochondria"
    words = content_words(question)
    assert lexical.frequencies(words)["mitochondria"] == 0
    # The count follows the index: a chunk added since is counted (porter stems: "mitochondrion").
    cat.replace_document(
        DocumentRecord(doc_id="m", source="/m.md"), _chunks("m", ["Mitochondria and cells."])
    )
    assert lexical.frequencies(words)["mitochondria"] == 1
    assert lexical.frequencies(words)["cells"] == 7
    assert cat.lexical.searched_words(question) == words  # 56 matches: cheap, all searched
    searched = lexical.searched_words(question)  # pruned: the rare word stays, and wins
    assert len(searched) == lexical.max_terms < len(words) and "mitochondria" in searched
    assert [cid for cid, _ in lexical.search(question, 1)] == ["m-v1-0"]


def test_a_chunk_is_also_found_by_its_neighbours_words_ranked_below_its_own(
    tmp_path: Path,
) -> None:
    cat = Catalog(tmp_path / "i.sqlite3")
    rec = DocumentRecord(doc_id="d", source="/d.md")
    texts = ["The bicycle shed is behind the canteen.", "It opens at seven.", "Lunch menu."]
    cat.replace_document(rec, _chunks("d", texts))
    # "opens" is chunk 1's own word and the context of chunks 0 and 2.
    assert [cid for cid, _ in cat.lexical.search("shed", 10)] == ["d-v1-0", "d-v1-1"]
    ranked = [cid for cid, _ in cat.lexical.search("when does it open", 10)]
    assert ranked[0] == "d-v1-1" and set(ranked) == {"d-v1-0", "d-v1-1", "d-v1-2"}
    # Half the question in a chunk and half in its neighbour beats either half alone.
    cat.replace_document(
        DocumentRecord(doc_id="e", source="/e.md"),
        _chunks("e", ["The bicycle shed is far away.", "Nothing else here.", "zz"]),
    )
    assert next(cid for cid, _ in cat.lexical.search("shed opens", 10)) == "d-v1-0"
    # The context follows the document: a new version drops the old neighbours' words.
    cat.replace_document(rec, _chunks("d", ["The bicycle shed.", "Closed."], tag="v2"))
    assert [cid for cid, _ in cat.lexical.search("seven", 10)] == []
    assert [cid for cid, _ in cat.lexical.search("closed", 10)] == ["d-v2-1", "d-v2-0"]
