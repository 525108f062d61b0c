"""Keyword search at scale: SQLite FTS5 (embedded mode) against PostgreSQL (server mode).

Builds N chunks from SciFact abstracts (two sentences each; copies of the corpus with other
chunk ids where N is larger than one copy), indexes them through the catalog into both lexical
indexes, then runs SciFact's queries top 10 alternating between them, and prints build time,
search p50/p95 and size on disk for each, with the CPU and the load average. The FTS5 index is
searched twice: as configured (a long question's rarest ``MAX_TERMS`` words) and with every
word of the question (``sqlite-fts5-all``, the same file), so the pruning is measured under
the same load.

    python benchmarks/lexical_scale.py [--data ../shared/data] [--chunks 10000]
        [--queries 200] [--postgres-url URL | --no-postgres]

Without ``--postgres-url`` it starts a PostgreSQL on loopback in a temporary folder (Debian's
server, as the tests do) and stops it after.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, cpu_facts, require, write
from rag.evaluation.datasets import read_corpus, read_queries
from rag.evaluation.metrics import percentile
from rag.stores.catalog import Catalog, DocumentRecord
from rag.stores.lexical_index import SqliteLexicalIndex
from rag.stores.sqlite import SqliteDatabase
from rag.types import Chunk

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def synthetic_docs(corpus: Path, n_chunks: int) -> Iterator[list[Chunk]]:
    """Documents of two-sentence chunks from the corpus, copied until ``n_chunks`` are made."""
    records = list(read_corpus(corpus))
    made, copy = 0, 0
    while made < n_chunks:
        for rec in records:
            sentences = [s for s in _SENTENCE.split(rec.text) if s]
            doc_id = f"{rec.id}-{copy}"
            chunks = []
            for i in range(0, len(sentences), 2):
                if made >= n_chunks:
                    break
                chunks.append(
                    Chunk(id=f"{doc_id}-{i}", doc_id=doc_id, text=" ".join(sentences[i : i + 2]),
                          source=f"/corpus/{copy}/{rec.id}.txt", title=rec.title, doc_type="txt",
                          mtime=1.0, chunk_index=i // 2)
                )  # fmt: skip
                made += 1
            if chunks:
                yield chunks
            if made >= n_chunks:
                return
        copy += 1


@contextmanager
def started_postgres() -> Iterator[str]:
    """A PostgreSQL on loopback for this run (the tests' helper)."""
    from tests.pg_server import fresh_database, postgres_server

    with postgres_server() as url:
        yield fresh_database(url)


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--postgres-url", default=None)
    ap.add_argument("--no-postgres", action="store_true", help="SQLite FTS5 only")
    args = ap.parse_args()
    corpus = require(args.data / "scifact" / "corpus.jsonl", "SciFact corpus")
    queries = read_queries(require(args.data / "scifact" / "queries.jsonl", "SciFact queries"))
    questions = list(queries.values())[: args.queries]
    from rag.stores.pg_lexical_index import PostgresLexicalIndex
    from rag.stores.postgres import PostgresDatabase

    server = (
        nullcontext(args.postgres_url)
        if args.postgres_url or args.no_postgres
        else started_postgres()
    )
    with tempfile.TemporaryDirectory() as tmp, server as url:
        catalogs = {"sqlite-fts5": Catalog(Path(tmp) / "a.sqlite3")}
        if url is not None:
            catalogs["postgresql"] = Catalog(PostgresDatabase(url))
        build: dict[str, float] = {}
        for name, catalog in catalogs.items():
            start = time.perf_counter()
            for chunks in synthetic_docs(corpus, args.chunks):
                catalog.replace_document(DocumentRecord(chunks[0].doc_id, chunks[0].source), chunks)
            build[name] = time.perf_counter() - start
            print(
                f"{name}: {catalog.lexical.count()} chunks in {build[name]:.1f} s", file=sys.stderr
            )
        indexes = {name: catalog.lexical for name, catalog in catalogs.items()}
        fts5 = catalogs["sqlite-fts5"]
        assert isinstance(fts5.db, SqliteDatabase)
        indexes["sqlite-fts5-all"] = SqliteLexicalIndex(fts5.db, max_terms=None)
        build["sqlite-fts5-all"] = build["sqlite-fts5"]
        times: dict[str, list[float]] = {name: [] for name in indexes}
        for q in questions:  # alternating, so all see the same load
            for name, index in indexes.items():
                start = time.perf_counter()
                index.search(q, 10)
                times[name].append((time.perf_counter() - start) * 1000)
        disk = {name: fts5.db.path.stat().st_size for name in ("sqlite-fts5", "sqlite-fts5-all")}
        if "postgresql" in catalogs:
            pg = catalogs["postgresql"].lexical
            assert isinstance(pg, PostgresLexicalIndex)
            sql = "SELECT pg_total_relation_size('lexical_chunks')"
            disk["postgresql"] = pg._conn().execute(sql).fetchone()[0]
    facts = cpu_facts()
    rows = {
        name: {
            "build_s": round(build[name], 2),
            "p50_ms": round(percentile(times[name], 50), 2),
            "p95_ms": round(percentile(times[name], 95), 2),
            "disk_mb": round(disk[name] / 1e6, 1),
        }
        for name in indexes
    }
    print(f"{args.chunks} chunks, {len(questions)} queries top 10; {facts}")
    for name, row in rows.items():
        print(f"  {name:12s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    path = write(f"lexical_scale_{args.chunks}", {"chunks": args.chunks, "cpu": facts, **rows})
    print(f"written {path}")


if __name__ == "__main__":
    main()
