"""A ``LexicalIndex`` in PostgreSQL: ``tsvector`` under a GIN index, ranked by ``ts_rank``.

Server mode's keyword index: several API processes and ingestion workers share it. It lives in
the catalog's database (``rag.stores.postgres``: the collection's schema, on the same
connection, so a document's catalog rows and keyword rows commit together) and owns one table
there (``lexical_chunks`` unless named) that holds each chunk's filter
columns beside its weighted ``tsvector`` (title and section path ``A``, text ``B``,
neighbouring chunks ``D``), so a filtered search runs in one query. Words are stemmed by an
English Snowball dictionary without a stop-word list (as SQLite's porter tokenizer): the
question's stop words are dropped in Python by the SQLite index's rule, and kept where the
question has nothing else. A second table counts the rows holding each lexeme, kept in step in
the same transactions, so a question whose words match more rows than the budget is searched
by its rarest words, by the same rule as the SQLite index (``within_budget``): ``ts_rank``
reads every matching row's ``tsvector``, and that is the search's cost.

Example::

    index = PostgresLexicalIndex(PostgresDatabase("postgresql://rag@db.internal/ragstead"))
    hits = index.search("parental leave", k=10, filters=Filters(doc_types=("pdf",)))
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rag.errors import StoreError
from rag.filters import Filters
from rag.stores.lexical_index import (
    CUT_ABOVE,
    MAX_TERMS,
    PRUNE_ABOVE,
    lexical_rows,
    searched_words,
)
from rag.stores.pg_filters import pg_where
from rag.stores.postgres import PostgresDatabase
from rag.types import Chunk

_SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'ragstead_stem'
                 AND dictnamespace = current_schema()::regnamespace) THEN
    CREATE TEXT SEARCH DICTIONARY ragstead_stem (TEMPLATE = snowball, Language = english);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'ragstead'
                 AND cfgnamespace = current_schema()::regnamespace) THEN
    CREATE TEXT SEARCH CONFIGURATION ragstead (COPY = english);
    ALTER TEXT SEARCH CONFIGURATION ragstead ALTER MAPPING
      FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH ragstead_stem;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS {table} (
    id text PRIMARY KEY,
    doc_id text NOT NULL,
    source text NOT NULL,
    doc_type text NOT NULL,
    section text NOT NULL,
    mtime double precision NOT NULL,
    tags text NOT NULL,
    groups text NOT NULL,
    tsv tsvector NOT NULL
);
CREATE INDEX IF NOT EXISTS {tsv_index} ON {table} USING gin (tsv);
CREATE INDEX IF NOT EXISTS {doc_index} ON {table} (doc_id);
CREATE TABLE IF NOT EXISTS {words} (word text PRIMARY KEY, n bigint NOT NULL);
"""
#: the rows holding each lexeme, kept in step with the rows (as FTS5's vocabulary table is), so
#: a question's cost is known before it runs. Each add and removal reads its rows' lexemes
#: (``{rows}`` selects them); the counts change once per transaction (``_flush``), since
#: updating one word's row for every document would chain its versions inside the transaction.
_LEXEMES = """
SELECT u.lexeme, count(*) FROM {table} c, unnest(c.tsv) AS u WHERE {rows} GROUP BY u.lexeme
"""
_ADD_COUNTS = """
INSERT INTO {words} (word, n) VALUES (%s, %s)
ON CONFLICT (word) DO UPDATE SET n = {words}.n + EXCLUDED.n
"""
_FREQUENCIES = """
SELECT t.w, coalesce(max(x.n), 0) FROM unnest(%s::text[]) AS t(w)
LEFT JOIN LATERAL unnest(to_tsvector('ragstead', t.w)) AS l ON true
LEFT JOIN {words} x ON x.word = l.lexeme GROUP BY t.w
"""
_INSERT = """
INSERT INTO {table} (id, doc_id, source, doc_type, section, mtime, tags, groups, tsv)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s,
  setweight(to_tsvector('ragstead', %s), 'A') || setweight(to_tsvector('ragstead', %s), 'B')
  || setweight(to_tsvector('ragstead', %s), 'D'))
ON CONFLICT (id) DO UPDATE SET doc_id = EXCLUDED.doc_id, source = EXCLUDED.source,
  doc_type = EXCLUDED.doc_type, section = EXCLUDED.section, mtime = EXCLUDED.mtime,
  tags = EXCLUDED.tags, groups = EXCLUDED.groups, tsv = EXCLUDED.tsv
"""


class PostgresLexicalIndex:
    """Keyword search in PostgreSQL, on the database's connection of each thread."""

    def __init__(
        self,
        database: PostgresDatabase,
        table: str = "lexical_chunks",
        *,
        max_terms: int | None = MAX_TERMS,
        prune_above: int = PRUNE_ABOVE,
        cut_above: int | None = CUT_ABOVE,
    ) -> None:
        import psycopg
        from psycopg import sql

        self._psycopg = psycopg
        self.database = database
        self.max_terms = max_terms
        self.prune_above = prune_above
        self.cut_above = cut_above
        self.table = sql.Identifier(table)
        self.words = sql.Identifier(f"{table}_words")
        self._insert = sql.SQL(_INSERT).format(table=self.table)
        script = sql.SQL(_SCHEMA).format(
            table=self.table,
            words=self.words,
            tsv_index=sql.Identifier(f"{table}_tsv"),
            doc_index=sql.Identifier(f"{table}_doc"),
        )
        try:
            database.schema_script(script.as_string())
            self._count_all_words()
        except StoreError as exc:
            raise StoreError(f"cannot open the lexical index: {exc}") from exc

    def _count_words(self, sign: int, rows: str, params: Sequence[Any]) -> None:
        """Add (``sign`` 1) or take away (-1) the lexemes of the rows ``rows`` selects, in the
        counts the open transaction writes when it commits."""
        from psycopg import sql

        statement = sql.SQL(_LEXEMES).format(table=self.table, rows=sql.SQL(rows))  # type: ignore[arg-type]
        delta = self._delta()
        for lexeme, n in self._conn().execute(statement, params):
            delta[lexeme] += sign * int(n)

    def _delta(self) -> Counter[str]:
        """The open transaction's changes to the word counts (written by ``_flush``)."""
        return self.database.transaction_state(f"words:{self.table}", Counter, self._flush)

    def _flush(self, delta: Counter[str]) -> None:
        """Write a transaction's changes to the counts, each word once."""
        changed = [(w, n) for w, n in delta.items() if n]
        if not changed:
            return
        with self._conn().cursor() as cur:
            cur.executemany(self._sql(_ADD_COUNTS), changed)
        if any(n < 0 for _, n in changed):
            self._conn().execute(self._sql("DELETE FROM {words} WHERE n <= 0"))

    def _count_all_words(self) -> None:
        """Count the words of an index written before the counts were kept (once)."""
        with self.database.transaction() as conn:
            counted = conn.raw.execute(self._sql("SELECT 1 FROM {words} LIMIT 1")).fetchone()
            rows = conn.raw.execute(self._sql("SELECT 1 FROM {table} LIMIT 1")).fetchone()
            if rows and not counted:
                self._count_words(1, "true", ())  # written when this block commits

    def _conn(self) -> Any:
        return self.database.raw()

    def _sql(self, text: str) -> Any:
        """``text`` with ``{table}`` and ``{words}`` replaced by this index's tables, quoted."""
        from psycopg import sql

        return sql.SQL(text).format(table=self.table, words=self.words)  # type: ignore[arg-type]

    def frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """Rows holding each of ``words`` (the commonest of its lexemes; 0 if none)."""
        rows = self._conn().execute(self._sql(_FREQUENCIES), [list(words)]).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def searched_words(self, question: str) -> list[str]:
        """The words searched for, pruned as the SQLite index prunes them
        (``rag.stores.lexical_index.searched_words``)."""
        return searched_words(
            question, self.frequencies, self.max_terms, self.prune_above, self.cut_above
        )

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index chunks (a document's chunks together, so each is matched with its neighbours)."""
        if not chunks:
            return
        rows = []
        for _, group in itertools.groupby(chunks, key=lambda c: c.doc_id):
            doc_chunks = list(group)
            for c, (head, body, context) in zip(doc_chunks, lexical_rows(doc_chunks), strict=True):
                rows.append(
                    (c.id, c.doc_id, c.source, c.doc_type, c.section, c.mtime,
                     ",".join(c.tags), ",".join(c.groups), head, body, context)
                )  # fmt: skip
        ids = [r[0] for r in rows]
        try:
            with self.database.transaction() as conn, conn.raw.cursor() as cur:
                self._count_words(-1, "c.id = ANY(%s)", [ids])  # rows indexed again
                cur.executemany(self._insert, rows)
                self._count_words(1, "c.id = ANY(%s)", [ids])
        except self._psycopg.Error as exc:
            raise StoreError(f"cannot index chunks in PostgreSQL: {exc}") from exc

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Forget every chunk of these documents (unknown ids are ignored)."""
        if not doc_ids:
            return
        try:
            with self.database.transaction() as conn:
                self._count_words(-1, "c.doc_id = ANY(%s)", [list(doc_ids)])
                conn.raw.execute(
                    self._sql("DELETE FROM {table} WHERE doc_id = ANY(%s)"), [list(doc_ids)]
                )
        except self._psycopg.Error as exc:
            raise StoreError(f"cannot remove chunks from PostgreSQL: {exc}") from exc

    def count(self) -> int:
        """Chunks indexed."""
        row = self._conn().execute(self._sql("SELECT count(*) FROM {table}")).fetchone()
        return int(row[0])

    def indexed_ids(self) -> set[str]:
        """Every chunk id indexed."""
        return {r[0] for r in self._conn().execute(self._sql("SELECT id FROM {table}"))}

    def clear(self) -> None:
        """Forget every chunk."""
        try:
            with self.database.transaction() as conn:
                conn.raw.execute(self._sql("DELETE FROM {table}"))
                conn.raw.execute(self._sql("DELETE FROM {words}"))
                # what this transaction counted before is gone with the rows
                self._delta().clear()
        except self._psycopg.Error as exc:
            raise StoreError(f"cannot clear the lexical index in PostgreSQL: {exc}") from exc

    def search(
        self,
        question: str,
        k: int,
        filters: Filters | None = None,
        *,
        title_weight: float = 2.0,
        context_weight: float = 0.5,
    ) -> list[tuple[str, float]]:
        """``k`` best chunk ids by ``ts_rank`` (higher is better), filtered in SQL."""
        try:
            terms = self.searched_words(question)
        except self._psycopg.Error as exc:
            raise StoreError(f"lexical search failed: {exc}") from exc
        if not terms:
            return []
        query = " || ".join(["plainto_tsquery('ragstead', %s)"] * len(terms))
        where_sql, where_params = pg_where(filters, "c") if filters is not None else ("", [])
        top = max(title_weight, 1.0, context_weight)  # ts_rank takes weights up to 1
        weights = [context_weight / top, 0.0, 1.0 / top, title_weight / top]  # D, C, B, A
        sql = (
            f"SELECT c.id, ts_rank(%s::float4[], c.tsv, q) AS s FROM {{table}} c,"
            f" ({'SELECT ' + query}) AS t(q) WHERE c.tsv @@ q"
            + (f" AND ({where_sql})" if where_sql else "")
            + " ORDER BY s DESC, c.id LIMIT %s"
        )
        params: list[Any] = [weights, *terms, *where_params, k]
        try:
            rows = self._conn().execute(self._sql(sql), params).fetchall()
        except self._psycopg.Error as exc:
            raise StoreError(f"lexical search failed: {exc}") from exc
        return [(r[0], float(r[1])) for r in rows]
