"""The ``LexicalIndex`` contract, run on every implementation: SQLite FTS5 beside the catalog,
and PostgreSQL full-text search beside the catalog's PostgreSQL tables, on a server started on
loopback (``postgres_url``).

The catalog drives the index, as in production: a document's chunks are swapped with
``replace_document`` and removed with ``delete_document``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag.filters import Filters, matches
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.lexical_index import LexicalIndex
from rag.types import Chunk

DOCS: dict[str, list[Chunk]] = {
    "leave": [
        Chunk(id="l-0", doc_id="leave", text="Full-time staff receive 28 days of annual leave.",
              source="/docs/leave.md", title="Leave policy", section="Benefits > Leave",
              doc_type="md", mtime=100.0, chunk_index=0, tags=("policy",)),
        Chunk(id="l-1", doc_id="leave", text="Requests go to your line manager.",
              source="/docs/leave.md", title="Leave policy", section="Benefits > Leave",
              doc_type="md", mtime=100.0, chunk_index=1),
    ],
    "pay": [
        Chunk(id="p-0", doc_id="pay", text="Salaries are paid on the 25th of each month.",
              source="/hr/pay.pdf", title="Payroll", section="Pay", doc_type="pdf",
              mtime=200.0, chunk_index=0, groups=("hr",)),
    ],
    "pension": [
        Chunk(id="n-0", doc_id="pension", text="The employer adds 5 percent to the pension.",
              source="/fin/pension.pdf", title="Pension", section="Benefits > Pension",
              doc_type="pdf", mtime=300.0, chunk_index=0, groups=("finance",),
              tags=("policy", "q1")),
    ],
}  # fmt: skip
ALL = [c for chunks in DOCS.values() for c in chunks]


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "index.sqlite3")
    if request.param == "postgresql":
        from rag.stores.postgres import PostgresDatabase
        from tests.pg_server import fresh_database

        url = fresh_database(request.getfixturevalue("postgres_url"))
        catalog = Catalog(PostgresDatabase(url, schema="contract"))
    for doc_id, chunks in DOCS.items():
        catalog.replace_document(DocumentRecord(doc_id, chunks[0].source), chunks)
    return catalog


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [cid for cid, _ in hits]


def test_it_is_a_lexical_index(catalog: Catalog) -> None:
    assert isinstance(catalog.lexical, LexicalIndex)
    assert catalog.lexical.count() == len(ALL)


def test_best_match_first_with_scores_falling(catalog: Catalog) -> None:
    hits = catalog.lexical.search("how many days of annual leave", 10)
    assert ids(hits)[0] == "l-0"
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert ids(catalog.lexical.search("salaries paid", 1)) == ["p-0"]


def test_titles_sections_and_neighbours_are_matched(catalog: Catalog) -> None:
    assert set(ids(catalog.lexical.search("payroll", 10))) == {"p-0"}  # the title
    assert set(ids(catalog.lexical.search("pension", 10))) == {"n-0"}
    # "manager" is in l-1 only; l-0 is found through its neighbour, ranked below l-1
    assert ids(catalog.lexical.search("line manager", 10)) == ["l-1", "l-0"]


def test_a_swap_replaces_and_a_delete_removes(catalog: Catalog) -> None:
    new = Chunk(id="l-9", doc_id="leave", text="Staff receive 30 days of holiday.",
                source="/docs/leave.md", chunk_index=0)  # fmt: skip
    catalog.replace_document(DocumentRecord("leave", "/docs/leave.md"), [new])
    assert ids(catalog.lexical.search("annual leave manager", 10)) == []
    assert ids(catalog.lexical.search("holiday", 10)) == ["l-9"]
    catalog.delete_document("pay")
    assert catalog.lexical.search("salaries", 10) == []
    assert catalog.lexical.count() == 2


def test_questions_without_words_find_nothing_and_stop_words_alone_still_search(
    catalog: Catalog,
) -> None:
    assert catalog.lexical.search("?!", 10) == []
    assert catalog.lexical.search("", 10) == []
    assert ids(catalog.lexical.search("to the", 10))  # nothing but stop words: used as they are


FILTERS = [
    Filters(),
    Filters(doc_types=("pdf",)),
    Filters(groups=frozenset()),
    Filters(groups=frozenset({"hr"})),
    Filters(section="Benefits"),
    Filters(tags=("policy",)),
    Filters(tags=("policy", "q1")),
    Filters(date_from=150.0, date_to=250.0),
    Filters(doc_ids=frozenset({"leave", "pension"})),
    Filters(doc_ids=frozenset()),
    Filters(source="*.pdf"),
    Filters(source="docs/leave.md"),
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f.to_dict()) for f in FILTERS])
def test_filters_allow_exactly_what_matches_allows(catalog: Catalog, filters: Filters) -> None:
    question = "leave salaries pension days paid employer manager"
    expected = {c.id for c in ALL if matches(filters, c)}
    assert set(ids(catalog.lexical.search(question, 50, filters))) == expected


def test_word_counts_follow_the_rows_and_price_a_question(catalog: Catalog) -> None:
    """Each index knows how many rows hold a word, in step with every add and removal, and
    prunes a question past its budget to the rarest words (``within_budget``)."""
    lexical: Any = catalog.lexical
    words = ["leave", "pension", "salaries", "zebra"]
    assert lexical.frequencies(words) == {"leave": 2, "pension": 1, "salaries": 1, "zebra": 0}
    catalog.delete_document("leave")
    assert lexical.frequencies(["leave", "pension"]) == {"leave": 0, "pension": 1}
    for _ in range(2):  # indexed again, and again: counted once
        catalog.replace_document(DocumentRecord("leave", "/docs/leave.md"), DOCS["leave"])
    assert lexical.frequencies(["leave", "staff"]) == {"leave": 2, "staff": 2}
    question = "leave pension salaries zebra staff month"
    assert lexical.searched_words(question) == question.split()  # under the budget
    lexical.prune_above = 0
    assert lexical.searched_words(question) == ["pension", "salaries", "zebra", "month"]


def test_a_rolled_back_swap_leaves_the_word_counts(catalog: Catalog) -> None:
    lexical: Any = catalog.lexical
    before = lexical.frequencies(["leave", "payroll", "zebra"])
    with pytest.raises(RuntimeError), catalog.atomic():
        catalog.delete_document("leave")
        catalog.replace_document(
            DocumentRecord("z", "/docs/z.md"),
            [Chunk(id="z-0", doc_id="z", text="A zebra crossing.", source="/docs/z.md")],
        )
        raise RuntimeError("crash mid-swap")
    assert lexical.frequencies(["leave", "payroll", "zebra"]) == before
    catalog.delete_document("pay")  # and a committed one counts at once
    assert lexical.frequencies(["payroll"]) == {"payroll": 0}
