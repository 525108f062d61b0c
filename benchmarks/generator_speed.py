"""How fast the embedded generator loads and writes, on this machine's CPU.

Measures, for the embedded SmolLM2-135M-Instruct through ``TransformersGenerator``:
- load time in a fresh process: cold (GGUF conversion into an empty cache) and cached;
- time to first token and tokens/s for three prompts: the lean decoding loop at float32 and
  bfloat16, ``model.generate`` at bfloat16 through the generator, and plain ``model.generate``
  at float32 (the peer), interleaved.

Prints a table and writes ``benchmarks/results/generator_speed.json``.

    .venv/bin/python benchmarks/generator_speed.py [--cache-dir DIR] [--skip-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from rag.generators import TransformersGenerator  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "generator_speed.json"
_POLICY = (
    "[{n}] Section {n} of the handbook: requests of type {n} go to the operations team, who "
    "answer within {d} working days. Records are kept for {y} years, then deleted unless a "
    "legal hold applies. Questions about this section go to the policy owner, who reviews it "
    "every {m} months and publishes changes in the company newsletter."
)
#: a retrieval-sized prompt: about 1,000 tokens of context, as the assistant sends.
RAG_PROMPT = (
    "Answer from the context only and cite the passage numbers.\n\nContext:\n"
    + "\n".join(_POLICY.format(n=n, d=n % 5 + 2, y=n % 7 + 3, m=n % 4 + 6) for n in range(1, 15))
    + "\n\nQuestion: how long are records of type 9 kept?"
)
PROMPTS = [
    "What is the capital of France?",
    "Write three sentences about why backups matter for a small company.",
    RAG_PROMPT,
]
MAX_NEW_TOKENS = 64
#: the peer each dtype is compared with: ``model.generate`` as a user would call it.
PLAIN = "plain generate float32"
REPEATS = 3

_CHILD = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from rag.generators import TransformersGenerator
g = TransformersGenerator(None, Path(sys.argv[1]), device="cpu", dtype=sys.argv[2])
loaded = g.load()
print(json.dumps({"source": loaded.source, "load_s": loaded.load_seconds,
                  "process_s": time.perf_counter() - start}))
"""


def load_in_new_process(cache_dir: Path, dtype: str) -> dict[str, Any]:
    """Load the embedded model in a fresh Python process; its source and seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(cache_dir), dtype],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def time_generation(generator: TransformersGenerator, prompt: str) -> dict[str, float]:
    """Seconds to the first piece, and tokens per second, for one greedy answer."""
    messages = [{"role": "user", "content": prompt}]
    cpu_start = time.process_time()
    start = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    for piece in generator.stream(messages, max_new_tokens=MAX_NEW_TOKENS):
        if first is None:
            first = time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    cpu_s = time.process_time() - cpu_start
    first = first if first is not None else end
    tokens = generator.count_tokens("".join(pieces))
    return {
        "ttft_s": first - start,
        "tokens": float(tokens),
        "tokens_per_s": tokens / (end - start),
        "decode_tokens_per_s": (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0,
        "total_s": end - start,
        # CPU seconds of all threads: less sensitive than wall time to other work on the machine.
        "cpu_s": cpu_s,
        "tokens_per_cpu_s": tokens / cpu_s if cpu_s > 0 else 0.0,
    }


class PlainPeer:
    """The peer in a process of its own: the converted model through plain
    ``AutoModelForCausalLM`` at float32, as a user's script would run it (``model.generate`` on
    its main thread, no other thread of the process using PyTorch). It times one prompt per
    request, so the peer's runs alternate with ours."""

    def __init__(self, cache_dir: Path) -> None:
        from rag.generators.embedded import embedded_generator_gguf
        from rag.generators.transformers_loader import gguf_cache_dir

        path = gguf_cache_dir(embedded_generator_gguf(), cache_dir)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--peer", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def time(self, prompt: str) -> dict[str, float]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(prompt) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            sys.exit("the plain-generate peer process ended; see its output above")
        result: dict[str, float] = json.loads(line)
        return result

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)


def serve_peer(path: Path) -> None:
    """The peer process: read prompts as JSON lines, answer each with its timings."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32").eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    for line in sys.stdin:
        result = time_plain_generate(model, tokenizer, json.loads(line))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def time_plain_generate(model: Any, tokenizer: Any, prompt: str) -> dict[str, float]:
    """Plain ``model.generate`` at float32: the first token's seconds, then decoding tokens/s
    over exactly ``MAX_NEW_TOKENS`` tokens (the prompt read once for one token, once for all)."""
    import torch

    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    pad = tokenizer.eos_token_id
    seconds = {}
    for n in (1, MAX_NEW_TOKENS):
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                **inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=pad
            )
        seconds[n] = time.perf_counter() - start
    decode_s = seconds[MAX_NEW_TOKENS] - seconds[1]
    return {
        "ttft_s": seconds[1],
        "tokens": float(MAX_NEW_TOKENS),
        "tokens_per_s": MAX_NEW_TOKENS / seconds[MAX_NEW_TOKENS],
        "decode_tokens_per_s": (MAX_NEW_TOKENS - 1) / decode_s if decode_s > 0 else 0.0,
        "total_s": seconds[MAX_NEW_TOKENS],
        "cpu_s": 0.0,
        "tokens_per_cpu_s": 0.0,
    }


#: what is compared with the plain peer: a label and the generator's (dtype, decoder); ``lean``
#: is the project's own decoding loop (``rag/generators/llama_decoder.py``), ``generate`` its
#: ``model.generate`` path, so the loop's share and the dtype's share show apart.
VARIANTS = {
    "auto": ("auto", "auto"),
    "float32 lean": ("float32", "auto"),
    "bfloat16 lean": ("bfloat16", "auto"),
    "bfloat16 generate": ("bfloat16", "generate"),
}


def measure_speed(cache_dir: Path, variants: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """TTFT and tokens/s per prompt and variant: median of the repeats, variants interleaved.

    Interleaving (prompt by prompt, variant by variant, repeat by repeat) spreads any noise
    from other work on the machine evenly over the variants compared.
    """
    import torch

    generators = {
        label: TransformersGenerator(None, cache_dir, device="cpu", dtype=dtype, decoder=decoder)
        for label, (dtype, decoder) in variants.items()
    }
    dtypes = tuple(variants)
    for generator in generators.values():
        generator.load()
        time_generation(generator, "Hi")  # warm-up
    peer = PlainPeer(cache_dir)
    peer.time("Hi")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(REPEATS):
        for prompt in PROMPTS:
            for dtype, generator in generators.items():
                runs.setdefault((dtype, prompt), []).append(time_generation(generator, prompt))
            runs.setdefault((PLAIN, prompt), []).append(peer.time(prompt))
    peer.close()
    results = []
    for dtype in (*dtypes, PLAIN):
        medians = [
            {k: statistics.median(r[k] for r in runs[dtype, p]) for k in runs[dtype, p][0]}
            for p in PROMPTS
        ]
        results.append(
            {
                "dtype": dtype,
                "torch_threads": torch.get_num_threads(),
                "prompts": [{"prompt": p, **m} for p, m in zip(PROMPTS, medians, strict=True)],
                "mean_ttft_s": statistics.mean(m["ttft_s"] for m in medians),
                "mean_tokens_per_s": statistics.mean(m["tokens_per_s"] for m in medians),
                "mean_decode_tokens_per_s": statistics.mean(
                    m["decode_tokens_per_s"] for m in medians
                ),
                "mean_tokens_per_cpu_s": statistics.mean(m["tokens_per_cpu_s"] for m in medians),
            }
        )
    return results


def main() -> None:
    """Run the measurements, print them and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, help="converted-model cache to use")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold conversion")
    parser.add_argument("--peer", type=Path, help=argparse.SUPPRESS)  # the peer process
    args = parser.parse_args()
    if args.peer is not None:
        serve_peer(args.peer)
        return
    cache_dir: Path = args.cache_dir or Path(tempfile.mkdtemp(prefix="ragstead-bench-"))

    report: dict[str, Any] = {
        "prompt_chars": [len(p) for p in PROMPTS],
        "model": "SmolLM2-135M-Instruct (embedded GGUF Q4_1, dequantized)",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "max_new_tokens": MAX_NEW_TOKENS,
        "repeats": REPEATS,
        "load": {},
    }
    if not args.skip_cold:
        if any(cache_dir.iterdir()):
            sys.exit(f"{cache_dir} is not empty: a cold load needs an empty cache (or --skip-cold)")
        report["load"]["cold"] = load_in_new_process(cache_dir, "float32")
    report["load"]["cached_float32"] = load_in_new_process(cache_dir, "float32")
    report["load"]["cached_bfloat16"] = load_in_new_process(cache_dir, "bfloat16")
    for name, load in report["load"].items():
        print(
            f"load {name:16s} from {load['source']:5s}: {load['load_s']:6.1f} s "
            f"(process start to ready {load['process_s']:.1f} s)"
        )

    import torch

    report["torch"] = torch.__version__
    report["load_average_before"] = os.getloadavg()
    report["speed"] = measure_speed(cache_dir, VARIANTS)
    plain = report["speed"][-1]["mean_decode_tokens_per_s"]
    report["decode_vs_plain_float32"] = {
        s["dtype"]: round(s["mean_decode_tokens_per_s"] / plain, 2) for s in report["speed"][:-1]
    }
    report["load_average_after"] = os.getloadavg()
    print(
        f"\n{'variant':17s} {'prompt':40s} {'ttft s':>7s} {'tok':>4s} {'tok/s':>6s} "
        f"{'decode':>6s} {'tok/cpu-s':>9s}"
    )
    for speed in report["speed"]:
        for p in speed["prompts"]:
            print(
                f"{speed['dtype'][:17]:17s} {p['prompt'][:40]:40s} {p['ttft_s']:7.3f} "
                f"{p['tokens']:4.0f} {p['tokens_per_s']:6.1f} {p['decode_tokens_per_s']:6.1f} "
                f"{p['tokens_per_cpu_s']:9.1f}"
            )
        print(
            f"{speed['dtype'][:17]:17s} {'mean':40s} {speed['mean_ttft_s']:7.3f} {'':4s} "
            f"{speed['mean_tokens_per_s']:6.1f} {speed['mean_decode_tokens_per_s']:6.1f} "
            f"{speed['mean_tokens_per_cpu_s']:9.1f}"
        )
    print(f"decoding against plain model.generate at float32: {report['decode_vs_plain_float32']}")
    print(
        f"load average before {report['load_average_before']}, after {report['load_average_after']}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
