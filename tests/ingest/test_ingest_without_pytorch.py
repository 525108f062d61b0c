"""Documents are embedded through onnxruntime: after the graph is exported once (the first
ingestion, with PyTorch), a fresh ingestion process indexes and searches without importing
PyTorch, and finds what the first process found (real MiniLM, real Chroma)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, sys
from pathlib import Path
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import load_settings

folder, data, models = map(Path, sys.argv[1:4])
container = Container(load_settings(data_dir=data, model_cache_dir=models))
report = build_ingestor(container).ingest(folder)
hits = container.retriever.search("How many days of parental leave may a parent take?", k=3)
print(json.dumps({
    "torch": "torch" in sys.modules,
    "chunks": report.chunks,
    "failed": report.failed,
    "top": Path(hits[0].chunk.source).name,
}))
"""

DOCS = {
    "leave.md": "# Parental leave\\n\\nA parent may take 26 weeks of parental leave. Pay"
    " continues for the first 12 weeks.\\n\\nRequests go to HR four weeks ahead.",
    "travel.md": "# Travel\\n\\nTrain travel is second class. Flights need approval from a"
    " director.\\n\\nHotels are booked through the travel desk.",
    "security.txt": "Badges must be worn at all times. Visitors sign in at reception and are"
    " escorted. Lost badges are reported to security the same day.",
}


def _ingest(folder: Path, data: Path, models: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), str(data), str(models)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_second_ingestion_process_needs_no_pytorch(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text.replace("\\n", "\n"), encoding="utf-8")
    models = tmp_path / "models"
    first = _ingest(folder, tmp_path / "first", models)
    assert first["torch"] is True  # the graph is exported from the PyTorch model, once
    assert list((models / "query-encoders").glob("*.onnx"))
    second = _ingest(folder, tmp_path / "second", models)
    assert second["torch"] is False  # onnxruntime and tokenizers alone
    assert second["failed"] == [] and second["chunks"] == first["chunks"] == 3
    assert second["top"] == first["top"] == "leave.md"
