"""Hybrid search at scale: 10k, 100k (and 1M) chunks derived from SciFact, in embedded mode
or in server mode (``--mode server``: PostgreSQL and ``chroma run`` started on loopback).

The base is the SciFact corpus index that ``benchmarks/retrieval_scifact.py`` (and ``ragstead
eval retrieval``) use, built here if absent: its chunks (the project's chunker) with the vectors
the project's embedder gave them, chunk and sentence vectors. Each size is filled with copies
of it under other chunk and document ids; a copy's vectors are the base vectors moved by a
small seeded random perturbation and normalised again (cosine ~0.995 to the original), so 1M
chunks need no more embedding than one copy of the corpus. A copy's text is the original's,
so every word's document frequency grows with the copies (the lexical worst case: real text
at that size would have more distinct words). Chunks go through the project's own stores
(``Catalog`` with its SQLite FTS5 ``LexicalIndex`` and local Chroma, or the catalog and
keyword index in PostgreSQL and the vectors in the Chroma server), as ``IndexWriter`` writes
them; then SciFact's queries run through ``Retriever.retrieve(top_k=10)`` with the default
retrieval settings (query embedding included, cold query cache).

Each size runs in a fresh process (its RSS is its own) and reports build time, disk, RSS,
hybrid p50/p95 and the parts (query embedding, chunk and sentence vector search, BM25,
fusion), with the CPU and the load average before and after; then how each figure grows from
one size to the next (an exponent: 1 is linear).

    python benchmarks/hybrid_scale.py [--data ../shared/data] [--sizes 10k,100k]
        [--mode embedded|server] [--queries 200] [--query-seconds 300]
        [--build-seconds 3600] [--work-dir DIR] [--keep]

In server mode the disk figure is the PostgreSQL database plus the Chroma server's folder, and
the RSS figures are the benchmark process's (the Chroma server's own is reported beside them).
Writes ``benchmarks/results/hybrid_scale.json`` (``hybrid_scale_server.json`` in server mode).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, cpu_facts, open_index, require, write
from benchmarks.search_latency import time_queries
from rag.container import Container
from rag.embedders import Embedder
from rag.evaluation.datasets import read_queries
from rag.evaluation.metrics import percentile
from rag.stores.catalog import DocumentRecord
from rag.types import Chunk

#: the largest size this benchmark builds (memory: ~6 sentence vectors per chunk in Chroma).
MAX_CHUNKS = 2_000_000
#: chunks written per store call (``IndexWriter`` writes batches of this order).
BATCH = 2000
#: scale of the perturbation of a copy's vectors (per dimension: NOISE / sqrt(dim)).
NOISE = 0.1


@dataclasses.dataclass
class Base:
    """One copy of the corpus: documents with their chunks, and their stored vectors."""

    docs: list[tuple[DocumentRecord, list[Chunk]]]
    vectors: dict[str, np.ndarray]
    parts: dict[str, np.ndarray]

    @property
    def chunks(self) -> int:
        """Chunks in one copy."""
        return sum(len(chunks) for _, chunks in self.docs)


def parse_size(text: str) -> int:
    """'10k' -> 10000, '1M' -> 1000000, '2500' -> 2500 (at most ``MAX_CHUNKS``)."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    n = int(float(text[:-1] if scale > 1 else text) * scale)
    if not 0 < n <= MAX_CHUNKS:
        raise argparse.ArgumentTypeError(f"a size from 1 to {MAX_CHUNKS} chunks, not {text}")
    return n


def load_base(container: Container) -> Base:
    """The corpus index's documents, chunks, chunk vectors and sentence vectors."""
    catalog = container.catalog
    docs = [
        (record, catalog.chunks_of(record.doc_id))
        for record in catalog.documents()
        if record.status == "indexed"
    ]
    ids = [c.id for _, chunks in docs for c in chunks]
    store = container.vector_store
    return Base(docs=docs, vectors=store.get_vectors(ids), parts=store.get_parts(ids))


def perturbed(matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows moved by seeded Gaussian noise and normalised again (cosine ~0.995 to the row)."""
    scale = NOISE / math.sqrt(matrix.shape[-1])
    moved = matrix + rng.standard_normal(matrix.shape, dtype=np.float32) * scale
    return moved / np.linalg.norm(moved, axis=-1, keepdims=True)


def copy_doc(
    record: DocumentRecord, chunks: list[Chunk], copy: int
) -> tuple[DocumentRecord, list[Chunk]]:
    """A document and its chunks under the ids and source of copy number ``copy``."""
    doc_id = f"{record.doc_id}~{copy}"
    source = f"{record.source}~{copy}"
    return (
        dataclasses.replace(record, doc_id=doc_id, source=source),
        [dataclasses.replace(c, id=f"{c.id}~{copy}", doc_id=doc_id, source=source) for c in chunks],
    )


def batches(base: Base, n_chunks: int) -> Iterator[list[tuple[DocumentRecord, list[Chunk]]]]:
    """Documents of copies 0, 1, ... of the base, ``BATCH`` chunks or so at a time, until
    ``n_chunks`` chunks are made (the last document cut short)."""
    made, batch, copy = 0, [], 0
    while True:
        for record, chunks in base.docs:
            keep = chunks[: n_chunks - made]
            batch.append(copy_doc(record, keep, copy))
            made += len(keep)
            if made >= n_chunks or sum(len(cs) for _, cs in batch) >= BATCH:
                yield batch
                batch = []
            if made >= n_chunks:
                return
        copy += 1


def batch_vectors(
    base: Base, batch: list[tuple[DocumentRecord, list[Chunk]]], rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The chunk and sentence vectors of a batch: the base's, perturbed for copies past 0."""
    vectors, parts = [], []
    dim = next(iter(base.vectors.values())).shape[-1]
    for _, chunks in batch:
        for c in chunks:
            original, copy = c.id.rsplit("~", 1)
            vector = base.vectors[original][None, :]
            sentences = base.parts.get(original, np.zeros((0, dim), dtype=np.float32))
            if copy != "0":
                vector = perturbed(vector, rng)
                sentences = perturbed(sentences, rng) if len(sentences) else sentences
            vectors.append(vector[0])
            parts.append(sentences.astype(np.float32))
    return np.stack(vectors).astype(np.float32), parts


class OutOfTime(Exception):
    """The build passed its time limit."""


def build(
    container: Container, base: Base, n_chunks: int, seconds: float, *, present: int = 0
) -> int:
    """Write ``n_chunks`` chunks through the stores as ``IndexWriter`` does (vectors first,
    then each document's catalog swap); returns the chunks written. The first ``present``
    chunks (whole batches, from an earlier run over a kept index) are not written again.
    OutOfTime past ``seconds``."""
    rng = np.random.default_rng(20261203)
    store, catalog = container.vector_store, container.catalog
    stop = time.monotonic() + seconds
    written = 0
    for batch in batches(base, n_chunks):
        chunks = [c for _, cs in batch for c in cs]
        if written + len(chunks) <= present:
            written += len(chunks)
            continue
        vectors, parts = batch_vectors(base, batch, rng)
        store.upsert([c.id for c in chunks], vectors, [c.metadata() for c in chunks], parts)
        with catalog.atomic():
            for record, doc_chunks in batch:
                catalog.replace_document(record, doc_chunks)
        written += len(chunks)
        if written // 20_000 != (written - len(chunks)) // 20_000:
            print(f"  {written} chunks written", file=sys.stderr, flush=True)
        if time.monotonic() > stop:
            raise OutOfTime(f"{written} of {n_chunks} chunks written in {seconds:.0f} s")
    return written


def memory_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak (MB), from /proc/self/status."""
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": found.get("VmRSS", 0.0), "peak_rss_mb": found.get("VmHWM", 0.0)}


def disk_mb(folder: Path) -> float:
    """Bytes of every file under ``folder``, in MB."""
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """p50 and p95 (ms) of each part."""
    return {
        name: {"p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)}
        for name, v in times.items()
    }


def pid_rss_mb(pid: int) -> float:
    """Resident memory of another process (MB), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def server_disk_mb(settings: Any, chroma_path: Path) -> float:
    """The PostgreSQL database's size plus the Chroma server's folder, in MB."""
    import psycopg

    with psycopg.connect(settings.store.postgres_url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round((row[0] if row else 0) / 1e6 + disk_mb(chroma_path), 1)


def run_size(n_chunks: int, options: dict[str, Any]) -> dict[str, Any]:
    """Build ``n_chunks`` chunks in a fresh data directory and time the searches there."""
    before = cpu_facts()
    index = open_index(Path(options["corpus"]), None)
    base = load_base(index.container)
    embedder: Embedder = index.container.embedder
    server = options.get("server")
    with ExitStack() as stack:
        if options.get("keep"):  # kept for later runs, which add what an earlier one left out
            work = Path(options["work_dir"] or tempfile.gettempdir())
            tmp = str(work / f"hybrid-scale-{n_chunks}")
            Path(tmp).mkdir(parents=True, exist_ok=True)
        else:
            tmp = stack.enter_context(
                tempfile.TemporaryDirectory(dir=options["work_dir"], prefix="hybrid-scale-")
            )
        update: dict[str, Any] = {"data_dir": Path(tmp)}
        if server:
            store = index.container.settings.store.model_copy(
                update={
                    "mode": "server",
                    "postgres_url": server["postgres_url"],
                    "chroma_host": server["chroma_host"],
                    "chroma_port": server["chroma_port"],
                    "collection": f"scale{n_chunks}",
                }
            )
            update["store"] = store
        settings = index.container.settings.model_copy(update=update)
        container = Container(settings, embedder=embedder)
        started = time.perf_counter()
        row: dict[str, Any] = {
            "chunks": n_chunks,
            "mode": "server" if server else "embedded",
            "copies_of": base.chunks,
        }
        row["before_build"] = memory_mb()  # the model and one copy of the corpus
        present = container.catalog.chunk_count()
        if present:
            row["present_before"] = present  # a kept index: its build time is not all here
        try:
            row["written"] = build(
                container, base, n_chunks, options["build_seconds"], present=present
            )
        except OutOfTime as exc:
            row["build_incomplete"] = str(exc)
            row["written"] = container.catalog.chunk_count()
        row["build_s"] = round(time.perf_counter() - started, 1)
        row["disk_mb"] = (
            server_disk_mb(settings, Path(server["chroma_path"])) if server else disk_mb(Path(tmp))
        )
        row["after_build"] = memory_mb()
        container.retriever.retrieve("warm up the model and the caches", top_k=10)
        times = time_queries(container, options["questions"], seconds=options["query_seconds"])
        row["queries"] = len(times["total"])
        row["search"] = summary(times)
        row["after_search"] = memory_mb()
        if server:
            row["chroma_server_rss_mb"] = pid_rss_mb(server["chroma_pid"])
    row["cpu_before"], row["cpu_after"] = before, cpu_facts()
    return row


def in_child(n_chunks: int, options: dict[str, Any]) -> dict[str, Any]:
    """``run_size`` in a fresh process, so each size's memory is its own."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(run_size, (n_chunks, options))
    return result


def index_rss_mb(row: dict[str, Any]) -> float:
    """Peak RSS over what the process held before the build (the model, one corpus copy)."""
    return round(row["after_search"]["peak_rss_mb"] - row["before_build"]["rss_mb"], 1)


def figures(row: dict[str, Any]) -> dict[str, float]:
    """The figures of one size whose growth is reported."""
    search = row["search"]
    return {
        "build_s": row["build_s"],
        "disk_mb": row["disk_mb"],
        "index_rss_mb": index_rss_mb(row),
        **{f"{p}_p95_ms": search[p]["p95_ms"] for p in ("total", "dense", "sentences", "lexical")},
    }


def growth(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """How each figure grows between consecutive sizes: log(ratio) / log(size ratio), so 1
    is linear, 0 flat and 2 quadratic."""
    out: dict[str, dict[str, float]] = {}
    for a, b in itertools.pairwise(rows):
        size = math.log(b["written"] / a["written"])
        fa, fb = figures(a), figures(b)
        out[f"{a['written']}->{b['written']}"] = {
            name: round(math.log(max(fb[name], 1e-3) / max(fa[name], 1e-3)) / size, 2)
            for name in fa
        }
    return out


def print_row(row: dict[str, Any]) -> None:
    """One size's figures, then its parts."""
    s = row["search"]
    print(
        f"{row['written']:>9} chunks  build {row['build_s']:7.1f} s  disk {row['disk_mb']:8.1f} MB"
        f"  peak RSS {row['after_search']['peak_rss_mb']:7.1f} MB"
        f" ({index_rss_mb(row):.0f} over the model)  hybrid top-10 p50"
        f" {s['total']['p50_ms']:7.1f} ms  p95 {s['total']['p95_ms']:7.1f} ms"
        f"  ({row['queries']} queries; load {row['cpu_before']['load_average'][0]}"
        f" -> {row['cpu_after']['load_average'][0]})"
    )
    print("           " + "  ".join(
        f"{part} {v['p50_ms']}/{v['p95_ms']}" for part, v in s.items() if part != "total"
    ) + " ms (p50/p95)")  # fmt: skip
    if "build_incomplete" in row:
        print(f"           build stopped: {row['build_incomplete']}")
    if "present_before" in row:
        print(f"           {row['present_before']} chunks were there from an earlier --keep run")


def start_servers(stack: ExitStack, work_dir: Path | None) -> dict[str, Any]:
    """PostgreSQL and ``chroma run`` on loopback for this run (the tests' helpers)."""
    from tests.chroma_server import chroma_server_at
    from tests.pg_server import fresh_database, postgres_server

    url = fresh_database(stack.enter_context(postgres_server()))
    chroma_path = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=work_dir)))
    host, port, pid = stack.enter_context(chroma_server_at(chroma_path))
    return {
        "postgres_url": url, "chroma_host": host, "chroma_port": port, "chroma_pid": pid,
        "chroma_path": str(chroma_path),
    }  # fmt: skip


def main() -> None:
    """Run the benchmark at each size and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--sizes",
        type=lambda t: [parse_size(x) for x in t.split(",")],
        default=[10_000, 100_000],
        help="chunks per run, comma-separated (10k,100k,1M)",
    )
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--query-seconds", type=float, default=300.0, help="per size")
    ap.add_argument("--build-seconds", type=float, default=3600.0, help="per size")
    ap.add_argument("--work-dir", type=Path, default=None, help="where the indexes are built")
    ap.add_argument("--mode", choices=("embedded", "server"), default="embedded")
    ap.add_argument(
        "--keep",
        action="store_true",
        help="keep each index (WORK_DIR/hybrid-scale-N); a later --keep run completes it",
    )
    args = ap.parse_args()
    root = require(args.data / "scifact", "SciFact")
    corpus = require(root / "corpus.jsonl", "SciFact corpus")
    questions = list(read_queries(require(root / "queries.jsonl", "SciFact queries")).values())
    open_index(corpus, None)  # built once here, before the sizes reuse it
    options = {
        "corpus": str(corpus),
        "questions": questions[: args.queries],
        "query_seconds": args.query_seconds,
        "build_seconds": args.build_seconds,
        "work_dir": str(args.work_dir) if args.work_dir else None,
        "keep": args.keep,
    }
    facts = cpu_facts()
    print(f"{facts['cpu']}, {facts['cores']} cores; load average {facts['load_average']}")
    rows = []
    with ExitStack() as servers:
        if args.mode == "server":
            options["server"] = start_servers(servers, args.work_dir)
        for n in sorted(args.sizes):
            rows.append(in_child(n, options))
            print_row(rows[-1])
    grows = growth(rows)
    for step, exponents in grows.items():
        print(f"growth {step} (1 = linear): " + "  ".join(f"{k} {v}" for k, v in exponents.items()))
    after = cpu_facts()
    print(f"load average after {after['load_average']}")
    name = "hybrid_scale" if args.mode == "embedded" else "hybrid_scale_server"
    path = write(name, {"cpu": facts, "cpu_after": after, "sizes": rows, "growth": grows})
    print(f"written {path}")


if __name__ == "__main__":
    main()
