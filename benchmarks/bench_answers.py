"""Answer quality and speed: ``ragstead eval answers`` on COVID-QA dev and the SEC 10-Q QnA,
in generative and extractive mode.

    python benchmarks/bench_answers.py [--data ../shared/data] [--limit 100]
        [--modes generative,extractive] [--sets covidqa,sec-10-q]

Each run indexes its corpus once (kept under ``<data dir>/eval/``), answers ``--limit``
questions spread evenly over the set, and reports citation@k, answer F1, gold-span containment,
grounded share, time to first token and tokens/s. Prints a table and writes
``benchmarks/results/answers.json`` (and one per-question report per run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "covidqa": ("covidqa/corpus.jsonl", "covidqa/questions-dev.jsonl"),
    "sec-10-q": ("enterprise/sec-10-q", "enterprise/sec-10-q-qna.csv"),
}
COLUMNS = (
    "citation@k",
    "retrieval@k",
    "answer_f1",
    "contains_gold",
    "grounded_share",
    "ttft_p50_ms",
    "tokens_per_s",
)


def run(data: Path, name: str, mode: str, limit: int | None, results: Path) -> dict[str, object]:
    """One ``ragstead eval answers`` run in a subprocess; its JSON figures."""
    corpus, questions = (data / part for part in SETS[name])
    report = results / f"answers-{name}-{mode}.json"
    cmd = [
        sys.executable, "-m", "api.cli", "eval", "answers",
        "--corpus", str(corpus), "--questions", str(questions),
        "--mode", mode, "--json", "--report", str(report),
    ]  # fmt: skip
    if limit:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"{name}/{mode} failed with exit status {done.returncode}")
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["seconds"] = round(time.perf_counter() - started, 1)
    shown = [f'"{a}"' if " " in a else a for a in cmd[3:] if a != str(report)]
    figures["command"] = " ".join(["ragstead", *(a for a in shown if a != "--report")])
    return figures


def main() -> int:
    """Run the grid, print the table, write the JSON report."""
    parser = argparse.ArgumentParser(description="answer quality and speed")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=100, help="questions per run (0 = all)")
    parser.add_argument("--modes", default="generative,extractive")
    parser.add_argument("--sets", default="covidqa,sec-10-q")
    args = parser.parse_args()
    names = [s for s in args.sets.split(",") if s]
    missing = [
        str(args.data / part) for n in names for part in SETS[n] if not (args.data / part).exists()
    ]
    if missing:
        print(f"evaluation data not found: {', '.join(missing)}", file=sys.stderr)
        print("pass --data (default ../shared/data; see its README)", file=sys.stderr)
        return 2
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        for mode in [m for m in args.modes.split(",") if m]:
            figures = run(args.data, name, mode, args.limit or None, results)
            rows.append({"set": name, **figures})
            cells = " ".join(f"{k}={figures.get(k)}" for k in COLUMNS)
            print(f"{name:9} {mode:11} n={figures['questions']} {cells}", flush=True)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "runs": rows,
    }
    (results / "answers.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
