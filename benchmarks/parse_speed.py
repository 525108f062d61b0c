"""How fast ``ingest.parsers.parse`` reads PDFs, in pages per second on this machine.

Parses every PDF under ``--data`` (default ``../shared/data/enterprise`` beside the repository)
once, single-threaded, after one untimed warm-up parse, timing each file, and reports pages/s
per format, per folder and overall, beside a baseline: pypdfium2's plain text extraction alone
(what the layout analysis costs on top).
``--all-formats`` also times every other supported file there (pages count as 1 per file for
formats without pages). Prints a table and writes ``benchmarks/results/parse_speed.json``.

    .venv/bin/python benchmarks/parse_speed.py [--data DIR] [--all-formats]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ingest.parsers import is_supported, parse  # noqa: E402
from rag.errors import IngestError  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "parse_speed.json"
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "enterprise"


def time_file(path: Path) -> dict[str, Any]:
    """Parse one file; its pages, elements, seconds and error (if any)."""
    start = time.perf_counter()
    try:
        doc = parse(path)
    except IngestError as exc:
        return {
            "pages": 0,
            "elements": 0,
            "seconds": time.perf_counter() - start,
            "error": str(exc),
        }
    seconds = time.perf_counter() - start
    pages = int(doc.metadata.get("pages") or doc.metadata.get("slides") or 1)
    return {"pages": pages, "elements": len(doc.elements), "seconds": seconds, "error": None}


def pdfium_text_only(paths: list[Path]) -> dict[str, Any]:
    """Baseline: pages/s of pypdfium2's plain text extraction alone, with no layout analysis."""
    import pypdfium2 as pdfium

    pages, start = 0, time.perf_counter()
    for path in paths:
        pdf = pdfium.PdfDocument(str(path))
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
            pages += 1
        pdf.close()
    seconds = time.perf_counter() - start
    return {"pages": pages, "seconds": round(seconds, 3), "pages_per_s": round(pages / seconds, 1)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and rates of a group of timed files."""
    pages = sum(r["pages"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    size = sum(r["bytes"] for r in rows)
    return {
        "files": len(rows),
        "errors": sum(r["error"] is not None for r in rows),
        "pages": pages,
        "elements": sum(r["elements"] for r in rows),
        "seconds": round(seconds, 3),
        "pages_per_s": round(pages / seconds, 1) if seconds else None,
        "mb_per_s": round(size / 1e6 / seconds, 2) if seconds else None,
    }


def main() -> int:
    """Run the benchmark; 2 when the data folder is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder to parse")
    parser.add_argument("--all-formats", action="store_true", help="time every supported file")
    args = parser.parse_args()
    data: Path = args.data if args.data.is_absolute() else (REPO_ROOT / args.data)
    if not data.is_dir():
        print(
            f"parse_speed: data folder not found: {data}\n"
            "It holds the evaluation PDFs (../shared/data/enterprise beside the repository); "
            "pass another folder with --data DIR.",
            file=sys.stderr,
        )
        return 2
    files = sorted(
        p
        for p in data.rglob("*")
        if p.is_file() and (p.suffix.lower() == ".pdf" or (args.all_formats and is_supported(p)))
    )
    if not files:
        print(f"parse_speed: no files to parse under {data}", file=sys.stderr)
        return 2

    time_file(files[0])  # warm-up, untimed: imports the parser modules and initialises pdfium
    rows: list[dict[str, Any]] = []
    for path in files:
        row = time_file(path)
        row.update(
            file=str(path.relative_to(data)),
            format=path.suffix.lower(),
            folder=path.parent.relative_to(data).as_posix(),
            bytes=path.stat().st_size,
        )
        rows.append(row)
        if row["error"]:
            print(f"  error: {row['file']}: {row['error']}", file=sys.stderr)

    groups: dict[str, dict[str, list[dict[str, Any]]]] = {
        "format": defaultdict(list),
        "folder": defaultdict(list),
    }
    for row in rows:
        groups["format"][row["format"]].append(row)
        groups["folder"][row["folder"]].append(row)
    by_format = {k: summarise(v) for k, v in sorted(groups["format"].items())}
    by_folder = {k: summarise(v) for k, v in sorted(groups["folder"].items())}
    overall = summarise(rows)
    report: dict[str, Any] = {
        "data": str(data),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or None},
        "overall": overall,
        "by_format": by_format,
        "by_folder": by_folder,
        "pdfium_text_only": pdfium_text_only([p for p in files if p.suffix.lower() == ".pdf"]),
        "files": [{**r, "seconds": round(r["seconds"], 4)} for r in rows],
    }

    print(f"{'group':<28}{'files':>7}{'pages':>8}{'seconds':>10}{'pages/s':>10}{'MB/s':>8}")
    lines = [(f"format {k}", v) for k, v in by_format.items()]
    lines += [(f"folder {k}", v) for k, v in by_folder.items()]
    for label, s in [*lines, ("overall", overall)]:
        print(
            f"{label:<28}{s['files']:>7}{s['pages']:>8}{s['seconds']:>10.2f}"
            f"{s['pages_per_s']:>10}{s['mb_per_s']:>8}"
        )
    base = report["pdfium_text_only"]
    print(f"baseline: pypdfium2 text extraction alone, {base['pages_per_s']} pages/s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
