"""``ragstead ingest`` against the LangChain tutorial pipeline, same files, same run, alternating.

The peer is what a user writes in twenty lines (``benchmarks/langchain_peer.py``):
``RecursiveCharacterTextSplitter(1000, 200)``, ``HuggingFaceEmbeddings`` with the same
all-MiniLM-L6-v2 directory, and Chroma. It runs in its own virtual environment, which this
benchmark builds once from pinned PyPI packages (``PEER_REQUIREMENTS``) under ``--cache-dir``;
the project's environment is not used for it.

Both sides index the first ``--limit`` SciFact abstracts written out as .txt files (title, blank
line, abstract), each run a whole fresh process into a fresh directory (imports and model load
included; the model cache is warm: an untimed one-file run first exports Ragstead's ONNX
encoder, as a first run on a machine does once). Rounds alternate the order of the runs, so
both sides see the same machine load; the CPU model, whether it has bfloat16 instructions and
the load average are stated with every figure. ``--cpu-mask no-bf16`` or ``--cpu-mask avx2``
runs both sides as if the CPU lacked bfloat16, or everything past AVX2
(``benchmarks/cpu_mask.py``): the paths such CPUs take, measured on this one. Ragstead variants
(``--variant NAME:ENV=VALUE,...``) run in the same rotation, e.g.
``--variant "separate:RAGSTEAD_EMBEDDER__SENTENCE_POOLING=separate"``.

    .venv/bin/python benchmarks/ingest_vs_langchain.py [--data ../shared/data] [--limit 300]
        [--rounds 2] [--variant NAME:ENV=VALUE,...] [--cache-dir ~/.cache/ragstead-bench]
        [--cpu-mask no-bf16|avx2]

Prints each run and the ratio peer seconds / Ragstead seconds (above 1: Ragstead is faster),
of wall time and of CPU time (user + system of each process and its children: on a shared
machine the CPU time moves less with the load than the wall time does), and writes
``benchmarks/results/ingest_vs_langchain.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DEFAULT_DATA, ROOT, cpu_facts, require, write
from benchmarks.cpu_mask import MASKS, reexec_masked

#: the peer's environment: the tutorial's packages, pinned; torch is the CPU build.
PEER_REQUIREMENTS = (
    "torch==2.13.0+cpu",
    "sentence-transformers==5.7.0",
    "transformers==5.24.0",
    "langchain-core==1.8.3",
    "langchain-text-splitters==1.1.3",
    "langchain-huggingface==1.2.3",
    "langchain-chroma==1.1.0",
    "chromadb==1.5.9",
)
PEER_SCRIPT = ROOT / "benchmarks" / "langchain_peer.py"
#: offline and quiet for both sides: no hub, no telemetry.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def peer_python(cache_dir: Path) -> Path:
    """The peer's interpreter, building its virtual environment the first time (minutes)."""
    key = hashlib.sha256("\n".join(PEER_REQUIREMENTS).encode()).hexdigest()[:10]
    home = cache_dir / f"langchain-peer-{key}"
    python = home / "bin" / "python"
    if (home / ".complete").is_file():
        return python
    print(f"building the peer's environment in {home} (once) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(home)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise SystemExit(f"could not build the peer's environment:\n{tail}")
    (home / ".complete").write_text("\n".join(PEER_REQUIREMENTS) + "\n")
    return python


def write_abstracts(corpus: Path, folder: Path, limit: int) -> int:
    """The first ``limit`` SciFact records as ``<_id>.txt`` (title, blank line, abstract)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if count >= limit:
                break
            record = json.loads(line)
            text = f"{record.get('title', '').strip()}\n\n{record['text'].strip()}\n"
            (folder / f"{record['_id']}.txt").write_text(text, encoding="utf-8")
            count += 1
    return count


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    """``"name:A=1,B=2"`` -> ("name", {"A": "1", "B": "2"}); ``"name"`` -> ("name", {})."""
    name, _, rest = spec.partition(":")
    env: dict[str, str] = {}
    for pair in filter(None, rest.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--variant {spec!r}: expected NAME:ENV=VALUE,...")
        env[key.strip()] = value.strip()
    return name.strip(), env


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTEAD_")}
    return {**env, **OFFLINE_ENV}


def run_peer(python: Path, folder: Path, model_dir: Path, work: Path) -> dict[str, Any]:
    """One peer run as a whole process; seconds and what it printed."""
    cmd = [str(python), str(PEER_SCRIPT), str(folder), str(model_dir), str(work / "chroma")]
    return _timed(cmd, _base_env(), work)


def run_ragstead(folder: Path, work: Path, models: Path, env: dict[str, str]) -> dict[str, Any]:
    """One ``ragstead ingest FOLDER --json`` as a whole process into a fresh data directory."""
    full = {
        **_base_env(),
        "PYTHONPATH": str(ROOT),
        "RAGSTEAD_DATA_DIR": str(work / "data"),
        "RAGSTEAD_MODEL_CACHE_DIR": str(models),
        **env,
    }
    cmd = [sys.executable, "-m", "api.cli", "ingest", str(folder), "--json"]
    return _timed(cmd, full, work)


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Wall seconds and CPU seconds (the process and its children: parse workers, threads)."""
    cwd.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({done.returncode}):\n{done.stderr}")
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "report": printed,
    }


def _chunks(name: str, run: dict[str, Any]) -> int:
    return int(run["report"]["chunks"])


def main() -> int:
    """Run the comparison; 2 when the data is missing."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="evaluation data folder")
    ap.add_argument("--limit", type=int, default=300, help="SciFact abstracts to index")
    ap.add_argument("--rounds", type=int, default=2, help="alternations")
    ap.add_argument("--variant", action="append", default=[], help="NAME:ENV=VALUE,... (repeat)")
    ap.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "ragstead-bench")
    ap.add_argument("--peer-python", type=Path, default=None, help="an existing peer interpreter")
    ap.add_argument("--out", default="ingest_vs_langchain", help="results/<name>.json")
    ap.add_argument(
        "--cpu-mask",
        choices=MASKS,
        default=None,
        help="both pipelines as if the CPU lacked bfloat16 (no-bf16) or all past AVX2 (avx2)",
    )
    args = ap.parse_args()
    reexec_masked(args.cpu_mask, args.cache_dir)
    corpus = require(args.data / "scifact" / "corpus.jsonl", "SciFact corpus")

    from rag.generators.embedded import embedded_embedder_dir

    model_dir = embedded_embedder_dir()
    python = args.peer_python or peer_python(args.cache_dir)
    variants = dict(parse_variant(v) for v in args.variant or ["default"])
    facts = cpu_facts()
    print(
        f"CPU {facts['cpu']} ({facts['cores']} cores), avx512_bf16={facts['avx512_bf16']},"
        f" amx_bf16={facts['amx_bf16']}, int8 kernels {','.join(facts['int8_kernels']) or 'none'},"
        f" load {facts['load_average']}"
        + (f" (under the CPU mask {args.cpu_mask!r})" if args.cpu_mask else ""),
        flush=True,
    )
    runners = ["langchain", *variants]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in runners}
    with tempfile.TemporaryDirectory(prefix="ragstead-vs-lc-") as tmp:
        folder = Path(tmp) / "scifact"
        files = write_abstracts(corpus, folder, args.limit)
        models = Path(tmp) / "models"  # shared by every Ragstead run: a warm model cache
        # Untimed: the first run on a cold cache exports the ONNX encoder (once per model and
        # machine, with PyTorch), as the peer's first run would fill Hugging Face's cache.
        write_abstracts(corpus, Path(tmp) / "one", 1)
        warm = run_ragstead(Path(tmp) / "one", Path(tmp) / "warm", models, {})
        print(f"warm-up (one file, a cold model cache): {warm['seconds']:.2f} s", flush=True)
        for round_no in range(args.rounds):
            shift = round_no % len(runners)
            for name in runners[shift:] + runners[:shift]:
                work = Path(tmp) / f"{name}-{round_no}"
                if name == "langchain":
                    run = run_peer(python, folder, model_dir, work)
                else:
                    run = run_ragstead(folder, work, models, variants[name])
                runs[name].append(run)
                print(
                    f"round {round_no + 1} {name:<16} {run['seconds']:>8.2f} s"
                    f" (CPU {run['cpu_seconds']:>7.2f} s)"
                    f"  chunks {_chunks(name, run):>6}  load {run['load_before']}"
                    f" -> {run['load_after']}",
                    flush=True,
                )
    peer = runs["langchain"]
    summary: dict[str, Any] = {}
    for name in variants:
        ours = runs[name]
        per_round = [round(p["seconds"] / o["seconds"], 3) for p, o in zip(peer, ours, strict=True)]
        total = sum(p["seconds"] for p in peer) / sum(o["seconds"] for o in ours)
        cpu = sum(p["cpu_seconds"] for p in peer) / sum(o["cpu_seconds"] for o in ours)
        summary[name] = {
            "ratio_per_round": per_round,
            "ratio": round(total, 3),
            "cpu_ratio": round(cpu, 3),
        }
        print(
            f"{name}: LangChain s / Ragstead s = {per_round} (all rounds {total:.2f}x;"
            f" CPU seconds {cpu:.2f}x)"
        )
    end = cpu_facts()
    print(f"load average at the end: {end['load_average']}")
    path = write(
        args.out,
        {
            "files": files,
            "limit": args.limit,
            "rounds": args.rounds,
            "cpu": facts,
            "cpu_mask": args.cpu_mask,
            "load_average_at_end": end["load_average"],
            "peer_requirements": list(PEER_REQUIREMENTS),
            "variants": variants,
            "warm_up": warm,
            "runs": runs,
            "ratios": summary,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
