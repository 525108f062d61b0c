"""Queries while another process ingests into the same data directory (as `ragstead sync`
beside `ragstead serve`): every query is answered, and once the ingestion ends the server
finds the new documents by their vectors too, without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import KeyStore
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL, ROOT

CHILD = """
import sys, time
from pathlib import Path
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import IngestSettings, Settings
from rag.testing import HashingEmbedder


class SlowEmbedder(HashingEmbedder):
    def embed_batch(self, texts):
        time.sleep(0.1)
        return super().embed_batch(texts)


settings = Settings(data_dir=Path(sys.argv[2]), ingest=IngestSettings(workers=0, embed_batch=4))
container = Container(settings, embedder=SlowEmbedder(dim=64))
report = build_ingestor(container).ingest(Path(sys.argv[1]))
print("ok" if report.ok else report.failed, flush=True)
"""


def test_queries_during_another_process_ingestion_all_answer_and_see_the_new_documents(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave.")
    for i in range(24):
        (second / f"site{i:02d}.md").write_text(
            f"# Site {i}\n\nThe site number {i} has a car park with {i + 10} spaces.\n\n"
            f"## Access\n\nVisitors to site {i} sign in at gate {i % 4}."
        )
    (second / "kestrel.md").write_text("# Badge\n\nThe visitor badge code is KESTREL-42.")
    settings = Settings(data_dir=tmp_path / "data", ingest=IngestSettings(workers=0))
    container = Container(settings, embedder=HashingEmbedder(dim=64), generator=EchoGenerator())
    assert build_ingestor(container).ingest(first).ok
    key = KeyStore(container.settings.auth_path).create("r").key
    headers = {"Authorization": f"Bearer {key}"}
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with TestClient(create_app(container, load_in_background=False), base_url=LOCAL) as client:
        child = subprocess.Popen(
            [sys.executable, str(script), str(second), str(tmp_path / "data")],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        statuses = []
        while child.poll() is None and len(statuses) < 2000:
            question = {"question": "How many days of annual leave?", "top_k": 3}
            statuses.append(client.post("/v1/retrieve", json=question, headers=headers).status_code)
        out, _ = child.communicate(timeout=300)
        assert out.strip() == "ok"
        assert statuses and set(statuses) == {200}, statuses
        found = client.post(
            "/v1/retrieve", json={"question": "visitor badge code KESTREL-42"}, headers=headers
        ).json()["passages"]
        badge = [p for p in found if p["source"].endswith("kestrel.md")]
        assert badge and badge[0]["dense_rank"] is not None  # its vector is seen, not only BM25
