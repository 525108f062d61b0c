"""Generative answers from a warm server: time to first token, decoding speed, server memory.

Indexes ``examples/docs`` into a temporary data directory, starts ``ragstead serve`` on
loopback, warms it with one generative question (the model loads), then asks ``--questions``
generative questions one after another through ``POST /v1/query`` with ``stream=true``, as a
web page does. For each it records the time to the first ``token`` event as the client sees it,
the prompt's size in tokens, and the decoding speed the server reports; the server's RSS is
sampled after every answer.

    python benchmarks/generative_served.py [--questions 20] [--dtype auto|float32|bfloat16]
        [--prompt-tokens N]

``--dtype`` and ``--prompt-tokens`` set ``generator.dtype`` and ``answers.max_prompt_tokens``
for the server, to compare settings in the same run. Prints the figures with the CPU and the
load, and writes ``benchmarks/results/generative_served.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import api_key, cpu_facts, exit_on_sigterm, serve, wait_ready, write  # noqa: E402
from rag.evaluation.metrics import percentile  # noqa: E402

#: more questions than the examples' 15, so that 20 differ (the memory target is 20).
EXTRA_QUESTIONS = [
    "Who approves expense claims above the usual limit?",
    "What should I do if I lose my laptop?",
    "How do I book a business trip?",
    "What happens on my first day?",
    "Which products are on the price list?",
]


def questions(n: int) -> list[str]:
    """``n`` questions about the example documents (cycled where ``n`` is larger)."""
    lines = (ROOT / "examples" / "questions.jsonl").read_text().splitlines()
    pool = [json.loads(line)["question"] for line in lines if line.strip()] + EXTRA_QUESTIONS
    return [pool[i % len(pool)] for i in range(n)]


def ask(base: str, key: str, question: str) -> dict[str, Any]:
    """One streamed generative answer: client-side TTFT and the server's figures."""
    import httpx

    body = {"question": question, "mode": "generative", "stream": True}
    started = time.perf_counter()
    first: float | None = None
    answer: dict[str, Any] = {}
    event = ""
    with httpx.stream(
        "POST",
        f"{base}/v1/query",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=300,
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "token" and first is None:
                    first = time.perf_counter()
                elif event == "answer":
                    answer = json.loads(line[6:])
                elif event == "error":
                    raise RuntimeError(f"the server answered with an error: {line[6:]}")
    end = time.perf_counter()
    timings = answer.get("timings", {})
    usage = answer.get("usage", {})
    completion = int(usage.get("completion_tokens", 0))
    decode_s = timings.get("decode_ms", 0.0) / 1000
    return {
        "question": question,
        "covered": answer.get("covered"),
        "client_ttft_s": round((first or end) - started, 3),
        "server_ttft_s": round(timings.get("ttft_ms", 0.0) / 1000, 3),
        "retrieve_s": round(timings.get("retrieve_ms", 0.0) / 1000, 3),
        "total_s": round(end - started, 3),
        "prompt_tokens": int(usage.get("prompt_tokens", 0)),
        "completion_tokens": completion,
        "decode_tokens_per_s": round((completion - 1) / decode_s, 1)
        if completion > 1 and decode_s > 0
        else None,
    }


def run(n: int, dtype: str, prompt_tokens: int | None) -> dict[str, Any]:
    """Index, serve, warm up, ask ``n`` questions; the per-question rows and the summary."""
    import psutil

    from benchmarks.serve_startup import free_port

    with tempfile.TemporaryDirectory(prefix="ragstead-gen-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "RAGSTEAD_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
        env["RAGSTEAD_GENERATOR__DTYPE"] = dtype
        if prompt_tokens is not None:
            env["RAGSTEAD_ANSWERS__MAX_PROMPT_TOKENS"] = str(prompt_tokens)
        subprocess.run(
            [sys.executable, "-m", "api.cli", "ingest", "examples/docs"],
            env=env, cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        key = api_key(data)
        port = free_port()
        server = serve(data, port, {k: v for k, v in env.items() if k.startswith("RAGSTEAD_")})
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base)
            proc = psutil.Process(server.pid)
            warm = ask(base, key, "What is the leave policy?")
            rows = []
            for question in questions(n):
                row = ask(base, key, question)
                row["server_rss_mib"] = round(proc.memory_info().rss / 2**20)
                rows.append(row)
                print(
                    f"  ttft {row['client_ttft_s']:6.2f} s  prompt {row['prompt_tokens']:5d} tok"
                    f"  decode {row['decode_tokens_per_s'] or 0:5.1f} tok/s"
                    f"  rss {row['server_rss_mib']:5d} MiB  {question[:50]}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    ttfts = [r["client_ttft_s"] for r in rows]
    decode = [r["decode_tokens_per_s"] for r in rows if r["decode_tokens_per_s"]]
    big = [r["client_ttft_s"] for r in rows if r["prompt_tokens"] >= 900]
    return {
        "dtype": dtype,
        "max_prompt_tokens": prompt_tokens,
        "warm_up": warm,
        "questions": rows,
        "ttft_p50_s": round(statistics.median(ttfts), 2),
        "ttft_p95_s": round(percentile(ttfts, 95), 2),
        "ttft_max_s": round(max(ttfts), 2),
        "ttft_p50_s_prompts_900_plus": round(statistics.median(big), 2) if big else None,
        "prompt_tokens_p50": statistics.median(r["prompt_tokens"] for r in rows),
        "decode_tokens_per_s_p50": round(statistics.median(decode), 1) if decode else None,
        "server_rss_mib_after": rows[-1]["server_rss_mib"],
        "server_rss_mib_peak": max(r["server_rss_mib"] for r in rows),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the summary and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
    parser.add_argument("--prompt-tokens", type=int, default=None, help="answers.max_prompt_tokens")
    args = parser.parse_args(argv)
    if not 1 <= args.questions <= 100:
        parser.error("--questions: 1 to 100")
    exit_on_sigterm()
    facts = cpu_facts()
    summary = run(args.questions, args.dtype, args.prompt_tokens)
    report = {**facts, **summary, "load_after": [round(x, 2) for x in os.getloadavg()]}
    print(
        f"dtype {args.dtype}: TTFT p50/p95/max {summary['ttft_p50_s']}/{summary['ttft_p95_s']}/"
        f"{summary['ttft_max_s']} s (prompt tokens p50 {summary['prompt_tokens_p50']}), "
        f"decode p50 {summary['decode_tokens_per_s_p50']} tok/s, server RSS after "
        f"{args.questions} questions {summary['server_rss_mib_after']} MiB "
        f"(peak {summary['server_rss_mib_peak']})"
    )
    print(f"{facts['cpu']}, {facts['cores']} cores, avx512_bf16={facts['avx512_bf16']}, "
          f"load before {facts['load_average']}, after {report['load_after']}")  # fmt: skip
    print(f"wrote {write('generative_served', report)}")


if __name__ == "__main__":
    main()
