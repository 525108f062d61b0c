"""Metrics against hand-computed values; fusion arithmetic; filter parsing; index migration."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from rag.errors import InvalidRequestError
from rag.evaluation.datasets import split_ids
from rag.evaluation.metrics import (
    contains_answer,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
)
from rag.filters import Filters, parse_date
from rag.fusion import blend, min_max, rrf
from rag.stores.catalog import Catalog
from rag.stores.sql_filters import sql_where
from rag.stores.vector_store import chroma_where


def test_ndcg_by_hand() -> None:
    # relevant a (rank 1) and c (rank 3): DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(["a", "b", "c"], {"a": 1, "c": 1}) == pytest.approx(
        1.5 / (1 + 1 / math.log2(3))
    )
    assert ndcg_at_k(["a", "b"], {"a": 1}) == 1.0
    assert ndcg_at_k(["b", "a"], {"a": 1}) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["x"] * 10 + ["a"], {"a": 1}, 10) == 0.0
    # graded gains: the ideal order puts the gain-2 document first
    assert ndcg_at_k(["b", "a"], {"a": 1, "b": 2}) == 1.0
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 2}) == pytest.approx(
        (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    )


def test_recall_and_mrr_by_hand() -> None:
    ranking = ["x", "a", "y", "b"]
    rel = {"a": 1, "b": 1, "c": 1, "z": 0}
    assert recall_at_k(ranking, rel, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, rel, 10) == pytest.approx(2 / 3)
    assert mrr_at_k(ranking, rel, 10) == 0.5
    assert mrr_at_k(ranking, rel, 1) == 0.0
    assert recall_at_k(ranking, {}, 10) == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile(list(range(101)), 95) == 95.0
    assert percentile([], 50) == 0.0


def test_contains_answer_normalises_whitespace_only() -> None:
    passages = ["The rate is\n 15-45%  [1].", "nothing here"]
    assert contains_answer(passages, ["rate is 15-45%"], 1)
    assert not contains_answer(passages, ["Rate is 15-45%"], 1)  # case matters
    assert not contains_answer(passages[::-1], ["rate is 15-45%"], 1)
    assert contains_answer(passages[::-1], ["rate is 15-45%"], 2)


def test_rrf_by_hand() -> None:
    fused = rrf([[("a", 9.0), ("b", 1.0)], [("b", 5.0), ("c", 4.0)]], k=60)
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


def test_blend_by_hand() -> None:
    dense = [("a", 0.9), ("b", 0.7), ("c", 0.5)]
    lexical = [("c", 12.0), ("a", 4.0)]
    assert min_max(dense) == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    fused = blend([dense, lexical], [0.25, 0.75])
    assert fused == pytest.approx({"a": 0.25, "b": 0.125, "c": 0.75})
    assert min_max([("x", 3.0), ("y", 3.0)]) == {"x": 1.0, "y": 1.0}


def test_filters_parse_cli_expressions() -> None:
    f = Filters.parse(
        ["type=PDF,.docx", "section=Benefits > Leave", "after=2024-01-01", "tag=hr", "tag=eu"]
    )
    assert f.doc_types == ("pdf", "docx")
    assert f.section == "Benefits > Leave"
    assert f.date_from == parse_date("2024-01-01") == 1704067200.0
    assert f.tags == ("hr", "eu")
    assert f.groups is None
    assert Filters.parse(["group="]).groups == frozenset()
    assert Filters.parse(["group=hr,finance"]).groups == frozenset({"hr", "finance"})
    assert parse_date("2024-01-01", end_of_day=True) == pytest.approx(1704153599.999999)


@pytest.mark.parametrize(
    "bad",
    [["nokey"], ["colour=red"], ["after=yesterday"], ["after=2024-02-01", "before=2024-01-01"]],
)
def test_bad_filters_are_invalid_requests(bad: list[str]) -> None:
    with pytest.raises(InvalidRequestError) as info:
        Filters.parse(bad)
    assert info.value.message


def test_filter_translations_agree_on_access_groups() -> None:
    assert chroma_where(Filters()) is None
    assert sql_where(Filters()) == ("", [])
    assert chroma_where(Filters(groups=frozenset())) == {"restricted": False}
    where = chroma_where(Filters(groups=frozenset({"hr"}), doc_types=("pdf",)))
    assert where == {
        "$and": [
            {"doc_type": {"$in": ["pdf"]}},
            {"$or": [{"restricted": False}, {"groups": {"$contains": "hr"}}]},
        ]
    }
    sql, params = sql_where(Filters(groups=frozenset()))
    assert sql == "(c.groups = '')" and params == []


def test_split_is_deterministic_and_disjoint() -> None:
    ids = [str(i) for i in range(200)]
    tune, held = split_ids(ids, holdout=0.3)
    assert (tune, held) == split_ids(ids, holdout=0.3)
    assert not set(tune) & set(held) and len(tune) + len(held) == 200
    assert 40 < len(held) < 80


def test_an_index_from_the_earlier_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
            doc_id TEXT NOT NULL, chunk_index INTEGER NOT NULL, text TEXT NOT NULL,
            source TEXT NOT NULL, title TEXT NOT NULL DEFAULT '', section TEXT NOT NULL DEFAULT '',
            page INTEGER, page_end INTEGER, kinds TEXT NOT NULL DEFAULT 'text',
            content_hash TEXT NOT NULL DEFAULT '', mtime REAL NOT NULL DEFAULT 0,
            doc_type TEXT NOT NULL DEFAULT '', groups TEXT NOT NULL DEFAULT '');
        CREATE VIRTUAL TABLE chunks_fts USING fts5(body, tokenize='porter unicode61');
        INSERT INTO chunks (rowid, id, doc_id, chunk_index, text, source, title)
            VALUES (1, 'c1', 'd1', 0, 'Bicycles are parked behind the canteen.', '/d1.md', 'Site');
        INSERT INTO chunks_fts (rowid, body)
            VALUES (1, 'Site Bicycles are parked behind the canteen.');
        INSERT INTO chunks (rowid, id, doc_id, chunk_index, text, source, title)
            VALUES (2, 'c2', 'd1', 1, 'The shed opens at seven.', '/d1.md', 'Site');
        INSERT INTO chunks_fts (rowid, body) VALUES (2, 'Site The shed opens at seven.');
        """
    )
    conn.commit()
    conn.close()
    catalog = Catalog(path)
    assert [cid for cid, _ in catalog.lexical.search("bicycle parking", 5)] == ["c1", "c2"]
    assert {cid for cid, _ in catalog.lexical.search("site", 5)} == {
        "c1",
        "c2",
    }  # titles are indexed
    # the neighbours' text is indexed too (the new context column), below a chunk's own
    assert [cid for cid, _ in catalog.lexical.search("canteen", 5)] == ["c1", "c2"]
    assert catalog.chunks_by_id(["c1"])["c1"].tags == ()
