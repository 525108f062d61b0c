"""End-to-end ingestion speed against the embedder's own speed, on real document sets.

Ingests, each into the same fresh data directory with the real embedder and Chroma:

1. ``enterprise``: the 40 PDFs under ``--data``/enterprise (SEC 10-Qs and NTSB reports);
2. ``covidqa``: the 98 articles of ``--data``/covidqa/corpus.jsonl, written out as .txt files.

For each: pages/s, chunks/s, parse and embed seconds, and the ratio of end-to-end throughput
(chunks / wall time of the ingestion runs, model load included) to the raw throughput of the
same embedder on the same texts in the same process (``embed_chunks``: the chunk texts, and
their sentences when ``chunking.sentence_vectors`` is on, as the pipeline embeds them).
Each set is ingested in ``--slices`` runs, each followed by its raw embedding, so that both
are measured under the same load on a shared machine. Then:
a re-run over both sets with nothing changed (in-process, and as the ``ragstead ingest``
command), peak RSS (main process and parse workers), and the time to delete a 1,000-chunk
document. Prints a table and writes ``benchmarks/results/ingest.json``.

    .venv/bin/python benchmarks/ingest.py [--data ../shared/data] [--limit N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

RESULTS = REPO_ROOT / "benchmarks" / "results" / "ingest.json"
DEFAULT_DATA = Path("../shared/data")


class PeakRss:
    """Samples the RSS of this process and of its children (the parse workers) every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.main = 0
        self.workers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.2):
            try:
                self.main = max(self.main, self.process.memory_info().rss)
                children = self.process.children(recursive=True)
                self.workers = max(self.workers, sum(c.memory_info().rss for c in children))
            except psutil.Error:
                continue

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _part(folder: Path, index: int, slices: int) -> Path:
    return folder / f"part{index % slices + 1}"


def write_covidqa(corpus: Path, folder: Path, limit: int | None, slices: int) -> int:
    """Each record as ``<_id>.txt`` (its text, which starts with the title); returns count."""
    count = 0
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and count >= limit:
                break
            record = json.loads(line)
            part = _part(folder, count, slices)
            part.mkdir(parents=True, exist_ok=True)
            (part / f"{record['_id']}.txt").write_text(record["text"], encoding="utf-8")
            count += 1
    return count


def copy_pdfs(source: Path, folder: Path, limit: int | None, slices: int) -> int:
    """The enterprise PDFs, copied (keeping their sub-folders); returns count."""
    pdfs = sorted(source.rglob("*.pdf"))[:limit]
    for index, pdf in enumerate(pdfs):
        target = _part(folder, index, slices) / pdf.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pdf, target)
    return len(pdfs)


def ingest_set(container: Any, folder: Path, workers: int | None) -> dict[str, Any]:
    """Ingest a set slice by slice, each slice followed by a raw embedding of its chunk texts.

    Alternating keeps both measurements under the same machine load (the machine is shared),
    and each slice is a complete run of its own (worker start and model use included).
    """
    from ingest.service import build_ingestor
    from rag.chunk_vectors import embed_chunks, sentence_texts

    embedder = container.embedder
    totals: dict[str, Any] = {"files": 0, "pages": 0, "chunks": 0, "seconds": 0.0}
    totals.update(parse=0.0, embed=0.0, raw=0.0, failed=[], tokens=[], loads=[], sentences=0)
    sentences = container.settings.chunking.sentence_vectors
    with PeakRss() as rss:
        for part in sorted(folder.iterdir()):
            ingestor = build_ingestor(container)
            if workers is not None:
                ingestor.workers = workers
            started = time.perf_counter()
            report = ingestor.ingest(part)
            totals["seconds"] += time.perf_counter() - started
            totals["files"] += len(report.added)
            totals["pages"] += report.pages
            totals["chunks"] += report.chunks
            totals["parse"] += report.parse_seconds
            totals["embed"] += report.embed_seconds
            totals["failed"] += [{"path": p, "reason": r} for p, r in report.failed]
            prefix = str(part.resolve()) + os.sep
            chunks = [
                c
                for d in container.catalog.documents()
                if d.source.startswith(prefix)
                for c in container.catalog.chunks_of(d.doc_id)
            ]
            # The same model work the pipeline did: chunk texts, and their sentences when
            # sentence vectors are on.
            started = time.perf_counter()
            embed_chunks(embedder, chunks, sentences=sentences)
            totals["raw"] += time.perf_counter() - started
            totals["tokens"] += [embedder.count_tokens(c.embed_text()) for c in chunks]
            totals["sentences"] += sum(len(sentence_texts(c)) for c in chunks) if sentences else 0
            totals["loads"].append(round(os.getloadavg()[0], 2))
    tokens, wall, raw_seconds = totals["tokens"], totals["seconds"], totals["raw"]
    e2e = totals["chunks"] / wall
    raw = len(tokens) / raw_seconds
    return {
        "files": totals["files"],
        "failed": totals["failed"],
        "pages": totals["pages"],
        "chunks": totals["chunks"],
        "sentence_vectors": totals["sentences"],
        "mean_tokens_per_chunk": round(sum(tokens) / max(len(tokens), 1), 1),
        "max_tokens_per_chunk": max(tokens, default=0),
        "seconds": round(wall, 2),
        "parse_seconds_in_workers": round(totals["parse"], 2),
        "embed_seconds": round(totals["embed"], 2),
        "pages_per_s": round(totals["pages"] / wall, 2),
        "chunks_per_s": round(e2e, 2),
        "raw_embed_chunks_per_s": round(raw, 2),
        "raw_embed_seconds": round(raw_seconds, 2),
        "ratio_end_to_end_to_raw": round(e2e / raw, 3),
        "peak_rss_main_mb": round(rss.main / 2**20),
        "peak_rss_workers_mb": round(rss.workers / 2**20),
        "load_average_after_each_slice": totals["loads"],
    }


def delete_thousand(container: Any) -> dict[str, float]:
    """Time deleting a 1,000-chunk document from the populated index (vectors are random)."""
    import numpy as np

    from ingest.service import build_ingestor
    from rag.stores.catalog import DocumentRecord
    from rag.types import Chunk

    record = DocumentRecord(doc_id="bench-delete", source="bench://contract", content_hash="x")
    chunks = [
        Chunk(
            id=f"bench-delete-{i:05d}",
            doc_id=record.doc_id,
            text=f"Clause {i}: " + " ".join(f"term{j}" for j in range(60)),
            source=record.source,
            chunk_index=i,
        )
        for i in range(1000)
    ]
    vectors = np.random.default_rng(0).standard_normal((1000, container.embedder.dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    container.vector_store.upsert(
        [c.id for c in chunks], vectors.astype(np.float32), [c.metadata() for c in chunks]
    )
    container.catalog.replace_document(record, chunks)
    started = time.perf_counter()
    build_ingestor(container).delete(record.doc_id)
    return {"chunks": 1000, "seconds": round(time.perf_counter() - started, 3)}


def rerun(container: Any, root: Path, data_dir: Path) -> dict[str, Any]:
    """A second run over both sets with nothing changed: in-process and as the command."""
    from ingest.service import build_ingestor

    started = time.perf_counter()
    report = build_ingestor(container).ingest(root)
    in_process = time.perf_counter() - started
    assert report.chunks == 0 and not report.added and not report.updated, report.to_dict()
    env = {**os.environ, "RAGSTEAD_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", str(root), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    command = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ragstead ingest failed: {done.stderr}")
    return {
        "files": len(report.unchanged),
        "seconds_in_process": round(in_process, 3),
        "seconds_command": round(command, 3),
    }


def main() -> int:
    """Run the benchmark; 2 when the data folder is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="evaluation data folder")
    parser.add_argument("--limit", type=int, default=None, help="files per set (quick runs)")
    parser.add_argument("--workers", type=int, default=None, help="parse processes")
    parser.add_argument("--slices", type=int, default=4, help="runs per set, each timed raw too")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON report path")
    args = parser.parse_args()
    data: Path = args.data if args.data.is_absolute() else (REPO_ROOT / args.data)
    enterprise, covidqa = data / "enterprise", data / "covidqa" / "corpus.jsonl"
    if not enterprise.is_dir() or not covidqa.is_file():
        print(
            f"ingest benchmark: evaluation data not found under {data}\n"
            "It needs enterprise/ (PDFs) and covidqa/corpus.jsonl (../shared/data beside the"
            " repository); pass another folder with --data DIR.",
            file=sys.stderr,
        )
        return 2

    from rag.container import Container
    from rag.settings import Settings

    with tempfile.TemporaryDirectory(prefix="ragstead-bench-") as tmp:
        root = Path(tmp) / "corpus"
        sets = {"enterprise": root / "enterprise", "covidqa": root / "covidqa"}
        copy_pdfs(enterprise, sets["enterprise"], args.limit, args.slices)
        write_covidqa(covidqa, sets["covidqa"], args.limit, args.slices)
        data_dir = Path(tmp) / "data"
        container = Container(Settings(data_dir=data_dir))
        results: dict[str, Any] = {}
        for name, folder in sets.items():
            print(f"ingesting {name} ...", flush=True)
            results[name] = ingest_set(container, folder, args.workers)
        total_seconds = sum(r["seconds"] for r in results.values())
        total_chunks = sum(r["chunks"] for r in results.values())
        raw_seconds = sum(r["raw_embed_seconds"] for r in results.values())
        results["both"] = {
            "chunks": total_chunks,
            "seconds": round(total_seconds, 2),
            "chunks_per_s": round(total_chunks / total_seconds, 2),
            "raw_embed_chunks_per_s": round(total_chunks / raw_seconds, 2),
            "ratio_end_to_end_to_raw": round(raw_seconds / total_seconds, 3),
        }
        print("re-running with nothing changed ...", flush=True)
        results["rerun_unchanged"] = rerun(container, root, data_dir)
        results["rerun_unchanged"]["fraction_of_first_run"] = round(
            results["rerun_unchanged"]["seconds_command"] / total_seconds, 4
        )
        results["delete_1000_chunks"] = delete_thousand(container)

    report = {
        "data": str(data),
        "limit": args.limit,
        "workers": args.workers,
        "slices": args.slices,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
        "results": results,
    }
    head = f"{'set':<12}{'files':>6}{'pages':>7}{'chunks':>8}{'seconds':>9}{'pages/s':>9}"
    print(head + f"{'chunks/s':>10}{'raw/s':>8}{'ratio':>7}{'RSS MB':>12}")
    for name in sets:
        r = results[name]
        print(
            f"{name:<12}{r['files']:>6}{r['pages']:>7}{r['chunks']:>8}{r['seconds']:>9}"
            f"{r['pages_per_s']:>9}{r['chunks_per_s']:>10}{r['raw_embed_chunks_per_s']:>8}"
            f"{r['ratio_end_to_end_to_raw']:>7}"
            f"{r['peak_rss_main_mb']:>6}+{r['peak_rss_workers_mb']:<5}"
        )
    b, u = results["both"], results["rerun_unchanged"]
    print(f"both: ratio {b['ratio_end_to_end_to_raw']} over {b['seconds']} s")
    print(
        f"re-run unchanged: {u['seconds_command']} s as a command"
        f" ({u['fraction_of_first_run']:.1%} of the first run), {u['seconds_in_process']} s"
        " in-process"
    )
    print(f"delete of a 1,000-chunk document: {results['delete_1000_chunks']['seconds']} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
