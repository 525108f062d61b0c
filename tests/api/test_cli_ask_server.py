"""``ragstead ask`` answered by a ``ragstead serve`` running on the same data directory."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.app import create_app
from api.auth.keys import KeyStore
from api.cli import app as cli
from api.cli.running_server import RECORD, noted_server, running_server
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.serving import serving

KEY: dict[str, str] = {}


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A real server on 127.0.0.1 over a small index: (data dir, port)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text(
        "# Leave\n\nFull-time staff get 28 days of annual leave each year.\n"
    )
    (docs / "it.md").write_text("# IT\n\nPasswords have at least 14 characters.\n")
    data_dir = tmp_path / "data"
    container = Container(
        Settings(data_dir=data_dir), embedder=HashingEmbedder(), generator=EchoGenerator()
    )
    assert build_ingestor(container).ingest(docs).ok
    KEY["key"] = str(KeyStore(container.settings.auth_path).create("cli", scopes=["read"]).key)
    with serving(create_app(container, load_in_background=False)) as url:
        yield data_dir, int(url.rsplit(":", 1)[1])


def test_ask_is_answered_by_the_running_server(served: tuple[Path, int]) -> None:
    data_dir, port = served
    with noted_server(data_dir, "127.0.0.1", port):
        assert running_server(data_dir) == f"http://127.0.0.1:{port}"
        question = ["ask", "How many days of annual leave?", "--data-dir", str(data_dir), "--json"]
        keyless = CliRunner().invoke(cli, question, env={"RAGSTEAD_API_KEY": ""})
        result = CliRunner().invoke(cli, question, env={"RAGSTEAD_API_KEY": KEY["key"]})
    # without a key the server refuses it: the question goes to this process (whose real
    # embedder does not fit this test's hashing index, so only where it went is checked)
    assert "answered by the server" not in keyless.stderr
    assert result.exit_code == 0, result.output
    assert f"answered by the server at http://127.0.0.1:{port}" in result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert "28 days" in answer["answer"]
    assert Path(answer["citations"][0]["source"]).name == "leave.md"
    assert not (data_dir / RECORD).exists()  # the note goes with the server
    assert running_server(data_dir) is None


def test_a_note_left_by_a_dead_server_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    (tmp_path / RECORD).write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": gone.pid}))
    assert running_server(tmp_path) is None
    (tmp_path / RECORD).unlink()
    with noted_server(tmp_path, "10.1.2.3", 8000):  # not loopback: never noted
        assert not (tmp_path / RECORD).exists()
    with noted_server(tmp_path, "0.0.0.0", 8000):  # every interface: noted as loopback
        assert json.loads((tmp_path / RECORD).read_text())["url"] == "http://127.0.0.1:8000"
