"""The hostile corpus of ``benchmarks/hostile_inputs.py`` (a 300 KB line instead of 200 MB):
through `ragstead ingest` (real models), the upload route and the query routes of the real
app. Every case gets a clear answer, the service stays up, the good document still answers
and the symlink's target is never indexed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.keys import KeyStore
from benchmarks.hostile_corpus import bad_files
from benchmarks.hostile_inputs import run_cli, run_requests, run_uploads, still_answers
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator
from tests.conftest import LOCAL


def test_every_hostile_file_and_request_gets_a_clear_answer(
    tmp_path: Path, model_cache: Path
) -> None:
    folder = tmp_path / "in"
    expected = bad_files(folder, big_bytes=300_000)
    results = run_cli(folder, tmp_path / "cli-data", expected)
    assert len(results) == len(expected)

    container = Container(  # the real embedder: the good document must still be found
        Settings(data_dir=tmp_path / "api-data", model_cache_dir=model_cache),
        generator=EchoGenerator(),
    )
    good = tmp_path / "good"
    good.mkdir()
    (good / "handbook.md").write_bytes((folder / "handbook.md").read_bytes())
    assert build_ingestor(container).ingest(good).ok
    key = KeyStore(container.settings.auth_path).create("hostile", scopes=["admin"]).key
    app = create_app(container, load_in_background=False)
    with TestClient(app, base_url=LOCAL, headers={"Authorization": f"Bearer {key}"}) as client:
        results += run_uploads(client, folder, expected)
        results += run_requests(client)
        after = still_answers(client)
    bad = [r for r in results if not r["handled"]]
    assert not bad, bad
    assert after == {"up": True, "good_document_answers": True, "link_target_not_indexed": True}
    assert len(results) >= 40
