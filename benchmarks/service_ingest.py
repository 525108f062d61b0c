"""The document service: upload-to-searchable time for a one-page document, and REST upload
throughput against ``ragstead ingest`` on the same files, alternating, in one run.

The real app (real embedder) is served by uvicorn on 127.0.0.1 in a child process with a fresh
data directory; the CLI runs as a child process on another fresh data directory. Files are N
SciFact abstracts written as .txt (``--data``), or the examples when the data is absent.

    python benchmarks/service_ingest.py [--data ../shared/data] [--files 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DEFAULT_DATA, ROOT, cpu_facts, wait_ready, write


def corpus(data: Path, n: int, into: Path) -> list[Path]:
    """N files to ingest: SciFact abstracts as .txt, else the example documents."""
    into.mkdir(parents=True)
    source = data / "scifact" / "corpus.jsonl"
    if not source.exists():
        print(f"{source} not found: using examples/docs", file=sys.stderr)
        files = sorted((ROOT / "examples" / "docs").iterdir())
        for f in files:
            (into / f.name).write_bytes(f.read_bytes())
        return sorted(into.iterdir())
    with source.open() as f:
        for i, line in zip(range(n), f, strict=False):
            record = json.loads(line)
            (into / f"doc-{i:04d}.txt").write_text(f"{record['title']}\n\n{record['text']}\n")
    return sorted(into.iterdir())


def one_page_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, "The Leeds office badge code for visitors is KESTREL-42.")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def ragstead(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAGSTEAD_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


class Server:
    """``ragstead serve`` on a free loopback port, with an admin key."""

    def __init__(self, data_dir: Path, models: Path) -> None:
        env_dir = data_dir
        self.key = ragstead(
            "keys", "create", "--name", "bench", "--scopes", "admin", "--json", data_dir=env_dir
        )
        self.headers = {"Authorization": f"Bearer {json.loads(self.key.stdout)['key']}"}
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "RAGSTEAD_DATA_DIR": str(data_dir),
            "RAGSTEAD_MODEL_CACHE_DIR": str(models),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        wait_ready(self.url)

    def upload(self, files: list[tuple[str, bytes]]) -> str:
        r = httpx.post(
            f"{self.url}/v1/documents",
            files=[("files", (name, body)) for name, body in files],
            headers=self.headers,
            timeout=600,
        )
        r.raise_for_status()
        return str(r.json()["job_id"])

    def wait(self, job_id: str, limit_s: float = 3600) -> dict[str, object]:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            job = httpx.get(f"{self.url}/v1/jobs/{job_id}", headers=self.headers, timeout=30).json()
            if job["status"] in ("succeeded", "partial", "failed"):
                return dict(job)
            time.sleep(0.05)
        raise RuntimeError(f"job {job_id} did not finish")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ragstead-service-bench-"))
    files = corpus(args.data, args.files, work / "files")
    models = work / "models"
    server = Server(work / "server-data", models)
    report: dict[str, object] = {"files": len(files), **cpu_facts()}
    try:
        # upload-to-searchable: the time from the POST to a search that finds the document
        started = time.perf_counter()
        job = server.upload([("badge.pdf", one_page_pdf())])
        while True:
            hits = httpx.post(
                f"{server.url}/v1/retrieve",
                json={"question": "visitor badge code Leeds", "top_k": 3},
                headers=server.headers,
                timeout=60,
            ).json()["passages"]
            if any("KESTREL-42" in p["text"] for p in hits):
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError("the uploaded page never became searchable")
            time.sleep(0.05)
        report["upload_to_searchable_s"] = round(time.perf_counter() - started, 2)
        report["upload_job"] = server.wait(job)["status"]
        rest, cli = [], []
        payload = [(f.name, f.read_bytes()) for f in files]
        for i in range(args.rounds):  # alternating, each on data it has not seen
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            ragstead(
                "ingest",
                str(files[0].parent),
                "--collection",
                f"cli{i}",
                data_dir=work / "cli-data",
            )
            cli.append((time.perf_counter() - t0, load))
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            # new bytes each round: identical ones would be copied, not embedded
            renamed = [
                (f"r{i}-{name}", body + f"\n(round {i})\n".encode()) for name, body in payload
            ]
            done = server.wait(server.upload(renamed))
            rest.append((time.perf_counter() - t0, load))
            assert done["status"] == "succeeded", done
        report["cli_s"] = [round(t, 1) for t, _ in cli]
        report["rest_s"] = [round(t, 1) for t, _ in rest]
        report["load_1m"] = [round(x, 2) for pair in zip(cli, rest, strict=True) for _, x in pair]
        report["rest_files_per_s"] = round(len(files) * len(rest) / sum(t for t, _ in rest), 2)
        report["cli_files_per_s"] = round(len(files) * len(cli) / sum(t for t, _ in cli), 2)
        report["rest_over_cli"] = round(report["rest_files_per_s"] / report["cli_files_per_s"], 3)  # type: ignore[operator]
    finally:
        server.close()
    print(json.dumps(report, indent=2))
    print(f"written to {write('service_ingest', report)}")


if __name__ == "__main__":
    main()
