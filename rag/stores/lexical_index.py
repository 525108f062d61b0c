"""The ``LexicalIndex`` seam (BM25 over chunk texts) and its SQLite FTS5 implementation.

A lexical index finds chunk ids by the words of a question, among the chunks a ``Filters``
allows, and is kept in step with the catalog: the catalog calls ``remove`` and ``add`` inside
the transaction that swaps a document's chunks, so a query sees a document's old chunks or its
new ones. The SQLite implementation lives in the catalog's file and joins its transactions;
a PostgreSQL one would live in the catalog's database the same way.

Example::

    index = SqliteLexicalIndex(db)
    hits = index.search("parental leave", k=10, filters=Filters(doc_types=("pdf",)))
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from rag.errors import StoreError
from rag.filters import Filters
from rag.stores.freshness import DataVersion
from rag.stores.sql_filters import sql_where
from rag.stores.sqlite import SqliteDatabase
from rag.types import Chunk


@runtime_checkable
class LexicalIndex(Protocol):
    """Keyword search over chunk texts, filtered inside the search."""

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index chunks (all of one document, so each can be matched with its neighbours)."""
        ...

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Forget every chunk of these documents (unknown ids are ignored)."""
        ...

    def search(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        *,
        title_weight: float = 2.0,
        context_weight: float = 0.5,
    ) -> list[tuple[str, float]]:
        """Up to ``k`` chunk ids with scores (higher is better), best first."""
        ...

    def count(self) -> int:
        """Chunks indexed."""
        ...

    def indexed_ids(self) -> set[str]:
        """Every chunk id indexed (``ragstead doctor`` compares them with the live chunks)."""
        ...

    def clear(self) -> None:
        """Forget every chunk (``ragstead doctor --repair`` indexes the live ones again)."""
        ...


_TOKENIZER = "porter unicode61 remove_diacritics 2"
_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    head, body, context, tokenize='{_TOKENIZER}'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, 'row');
"""
#: the lexical index's columns: the title and section path ("head"), the chunk text, and the
#: text of the chunks just before and after it in its document ("context"), weighed lower: a
#: passage that matches half the question while its neighbour matches the rest is found.
#: Measured on SciFact train: lexical nDCG@10 0.694 -> 0.709, hybrid +0.7 point (README).
_FTS_COLUMNS = ["head", "body", "context"]
_FTS_INSERT = "INSERT INTO chunks_fts(rowid, head, body, context) VALUES (?, ?, ?, ?)"

_STOPWORDS = frozenset(
    """a an the and or of to in on at for by with from as is are was were be been being it its
    this that these those what which who whom whose when where why how do does did can could
    should would will shall may might must i you he she we they me my our your their there
    than then so if not no yes about into over under any all each some such""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


def lexical_fields(chunk: Chunk) -> tuple[str, str]:
    """What the lexical index holds for a chunk: its title and section path, and its text."""
    return " > ".join(p for p in (chunk.title, chunk.section) if p), chunk.text


def lexical_rows(chunks: Sequence[Chunk]) -> list[tuple[str, str, str]]:
    """(head, body, context) for each of one document's chunks, in the order given.

    The context of a chunk is the text of the chunks with the index just before and after it.
    """
    by_index = {c.chunk_index: c.text for c in chunks}
    rows = []
    for c in chunks:
        around = (by_index.get(c.chunk_index - 1, ""), by_index.get(c.chunk_index + 1, ""))
        rows.append((*lexical_fields(c), "\n".join(t for t in around if t)))
    return rows


def content_words(question: str) -> list[str]:
    """The question's content words, lower-cased and unique (all its words if none is)."""
    words = [w.lower() for w in _WORD.findall(question)]
    return list(dict.fromkeys([w for w in words if w not in _STOPWORDS] or words))


def rarest(words: Sequence[str], frequency: Mapping[str, int], n: int) -> list[str]:
    """The ``n`` words fewest chunks hold (``frequency``; unknown words count as 0), in the
    question's order: a word most chunks hold adds little to a BM25 score and costs its
    scoring in every one of them."""
    if len(words) <= n:
        return list(words)
    keep = set(sorted(words, key=lambda w: frequency.get(w, 0))[:n])
    return [w for w in words if w in keep]


def within_budget(
    words: Sequence[str],
    frequency: Mapping[str, int],
    budget: int,
    cut_above: int | None = None,
) -> list[str]:
    """``words`` less their commonest while the chunks holding them number more than
    ``budget`` (each would be scored), keeping at least ``MIN_TERMS``: on a large index even
    a question's rarest words can be held by tens of thousands of chunks. Past ``cut_above``
    even those go, down to the rarest word: on a very large index a question of common words
    would otherwise score hundreds of thousands of chunks."""
    kept = list(words)

    def total() -> int:
        return sum(frequency.get(w, 0) for w in kept)

    while len(kept) > 1 and total() > budget:
        if len(kept) <= MIN_TERMS and (cut_above is None or total() <= cut_above):
            break
        kept.remove(max(kept, key=lambda w: frequency.get(w, 0)))
    return kept


def searched_words(
    question: str,
    frequencies: Callable[[Sequence[str]], Mapping[str, int]],
    max_terms: int | None,
    prune_above: int,
    cut_above: int | None = None,
) -> list[str]:
    """The question's content words, or, where the chunks holding them number more than
    ``prune_above`` (each would be scored), its ``max_terms`` rarest less the commonest while
    still over it, down to ``MIN_TERMS``, and past ``cut_above`` down to one
    (``within_budget``; ``frequencies``: the chunks holding each word)."""
    words = content_words(question)
    if max_terms is None or len(words) <= 1:
        return words
    counts = frequencies(words)
    if sum(counts.values()) <= prune_above:
        return words
    return within_budget(rarest(words, counts, max_terms), counts, prune_above, cut_above)


def match_expression(question: str, words: Sequence[str] | None = None) -> str:
    """An FTS5 MATCH expression: the question's content words (or ``words``), OR-ed, each
    quoted."""
    terms = content_words(question) if words is None else words
    return " OR ".join(f'"{t}"' for t in terms)


#: the most words of a long question BM25 searches for where it is costly: its rarest
#: (``rarest``). FTS5 scores every chunk that holds any of the words, and that scoring is most
#: of a search's time (100k chunks: counting the matches alone is ~15x faster than ranking
#: them), while the words most chunks hold add little to a score. None: every content word.
MAX_TERMS: int | None = 8
#: matches (chunks holding a word, summed over the question's words) above which a question
#: is pruned, to its ``MAX_TERMS`` rarest words and then, while those are still held by more,
#: less its commonest (``within_budget``): ~50 ms of FTS5 scoring on a loaded 2-core EPYC.
#: SciFact's 12,708 chunks stay under it for 96% of its questions (its nDCG@10 unchanged);
#: 100k chunks of the same text pass it for 94%. Short questions are pruned too: "Cellular
#: clocks are associated with mitosis timing in NIH 3T3 cells" summed 98k matches at 100k.
PRUNE_ABOVE = 20_000
#: the fewest words a pruned question keeps while they are held by no more than
#: ``CUT_ABOVE`` chunks.
MIN_TERMS = 4
#: matches past which even a pruned question's ``MIN_TERMS`` rarest words are cut, down to
#: the rarest: at 1M chunks "CHEK2 is not associated with breast cancer." matched 489,585
#: chunk-words with its four rarest (37,079 with "chek2 breast"; keyword p95 171.6 -> 52.9
#: ms). Three budgets: no index under ~15k chunks reaches it (four words held by every chunk).
CUT_ABOVE = 3 * PRUNE_ABOVE


class WordFrequencies:
    """How many chunks hold each word (the FTS5 vocabulary of its porter stem), cached until
    another connection commits to the file (``DataVersion``: microseconds to ask)."""

    _CACHED = 100_000  # stems remembered at most

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self._version = DataVersion(db.path)
        self._seen: int | None = None
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self, words: Sequence[str]) -> dict[str, int]:
        """Chunks holding each of ``words`` (0 for a word the index does not hold)."""
        stems = self._stems(words)
        with self._lock:
            version = self._version.read()
            if version is None or version != self._seen or len(self._counts) > self._CACHED:
                self._counts = {}
                self._seen = version
            counts = self._counts
        missing = {s for s in stems.values() if s not in counts}
        conn = self.db.connect()
        for stem in missing:
            row = conn.execute(
                "SELECT doc FROM chunks_fts_vocab WHERE term = ?", (stem,)
            ).fetchone()
            counts[stem] = int(row[0]) if row else 0
        return {w: counts.get(stems.get(w, ""), 0) for w in words}

    def _stems(self, words: Sequence[str]) -> dict[str, str]:
        """Each word's first token as FTS5's tokenizer indexes it (one word a row of an
        in-memory FTS5 table, read back from its vocabulary)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(":memory:")
            conn.executescript(
                f"CREATE VIRTUAL TABLE words USING fts5(word, tokenize='{_TOKENIZER}');"
                " CREATE VIRTUAL TABLE tokens USING fts5vocab(words, 'instance');"
            )
            self._local.conn = conn
        conn.execute("DELETE FROM words")
        conn.executemany("INSERT INTO words(rowid, word) VALUES (?, ?)", enumerate(words))
        stems: dict[str, str] = {}
        for term, row in conn.execute("SELECT term, doc FROM tokens ORDER BY doc, offset"):
            stems.setdefault(words[row], term)
        return stems


class SqliteLexicalIndex:
    """BM25 in an FTS5 table beside the catalog's ``chunks`` table (rowids shared with it).

    It owns ``chunks_fts``; it reads ``chunks`` for the rowids of a document's chunks and for
    the columns a filter tests, so ``add`` runs after the catalog wrote the chunk rows and
    ``remove`` before it deletes them (``Catalog.replace_document`` does both in order).
    """

    def __init__(
        self,
        db: SqliteDatabase,
        *,
        max_terms: int | None = MAX_TERMS,
        prune_above: int = PRUNE_ABOVE,
        cut_above: int | None = CUT_ABOVE,
    ) -> None:
        self.db = db
        self.max_terms = max_terms
        self.prune_above = prune_above
        self.cut_above = cut_above
        self.frequencies = WordFrequencies(db)
        try:
            conn = db.connect()  # executescript commits: no transaction around it
            columns = [r[1] for r in conn.execute("PRAGMA table_info(chunks_fts)")]
            if columns and columns != _FTS_COLUMNS:  # written by an earlier version
                conn.execute("DROP TABLE chunks_fts")
                conn.executescript(_SCHEMA)
                self._refill()
            else:
                conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the lexical index at {db.path}: {exc}") from exc

    def _refill(self) -> None:
        """Index every stored chunk again (after a change of columns)."""
        from rag.stores.catalog import chunk_from_row

        with self.db.transaction() as conn:
            rows = conn.execute("SELECT * FROM chunks ORDER BY doc_id, chunk_index").fetchall()
            for _, group in itertools.groupby(rows, key=lambda r: r["doc_id"]):
                doc_rows = list(group)
                fields = lexical_rows([chunk_from_row(r) for r in doc_rows])
                conn.executemany(
                    _FTS_INSERT,
                    [(r["rowid"], *f) for r, f in zip(doc_rows, fields, strict=True)],
                )

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index chunks whose rows the catalog has just written (same transaction)."""
        if not chunks:
            return
        with self.db.transaction() as conn:
            for doc_id, group in itertools.groupby(chunks, key=lambda c: c.doc_id):
                doc_chunks = list(group)
                rowids = {
                    r["id"]: r["rowid"]
                    for r in conn.execute("SELECT rowid, id FROM chunks WHERE doc_id=?", (doc_id,))
                }
                conn.executemany(
                    _FTS_INSERT,
                    [
                        (rowids[c.id], *fields)
                        for c, fields in zip(doc_chunks, lexical_rows(doc_chunks), strict=True)
                    ],
                )

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Forget the chunks of these documents (before the catalog deletes their rows)."""
        with self.db.transaction() as conn:
            for doc_id in doc_ids:
                conn.execute(
                    "DELETE FROM chunks_fts WHERE rowid IN"
                    " (SELECT rowid FROM chunks WHERE doc_id=?)",
                    (doc_id,),
                )

    def count(self) -> int:
        """Chunks indexed."""
        return int(self.db.connect().execute("SELECT count(*) FROM chunks_fts").fetchone()[0])

    def indexed_ids(self) -> set[str]:
        """Every chunk id indexed."""
        sql = "SELECT c.id FROM chunks_fts f JOIN chunks c ON c.rowid = f.rowid"
        return {r[0] for r in self.db.connect().execute(sql)}

    def clear(self) -> None:
        """Forget every chunk."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM chunks_fts")

    def searched_words(self, question: str) -> list[str]:
        """The words BM25 searches for (``searched_words``)."""
        return searched_words(
            question, self.frequencies, self.max_terms, self.prune_above, self.cut_above
        )

    def search(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        *,
        title_weight: float = 2.0,
        context_weight: float = 0.5,
    ) -> list[tuple[str, float]]:
        """BM25: ``k`` best chunk ids with scores (higher is better), filtered in SQL.

        ``title_weight`` and ``context_weight`` weigh matches in the title and section path and
        in the neighbouring chunks against matches in the chunk's own text.
        """
        words = self.searched_words(question)
        expr = match_expression(question, words)
        if not expr:
            return []
        where_sql, params = sql_where(filters) if filters is not None else ("", [])
        if where_sql:
            sql = (
                "SELECT c.id, bm25(chunks_fts, ?, 1.0, ?) AS s FROM chunks_fts"
                " JOIN chunks c ON c.rowid = chunks_fts.rowid"
                f" WHERE chunks_fts MATCH ? AND ({where_sql}) ORDER BY s LIMIT ?"
            )
        else:  # rank first, then look up only the k winners (about 2x faster)
            sql = (
                "SELECT c.id, f.s FROM (SELECT rowid, bm25(chunks_fts, ?, 1.0, ?) AS s"
                " FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?) f"
                " JOIN chunks c ON c.rowid = f.rowid ORDER BY f.s"
            )
        try:
            rows = (
                self.db.connect()
                .execute(sql, (title_weight, context_weight, expr, *params, k))
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"lexical search failed: {exc}") from exc
        return [(r[0], -float(r[1])) for r in rows]
