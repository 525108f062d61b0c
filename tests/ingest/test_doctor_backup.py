"""``ragstead doctor`` finds and repairs stores that disagree; ``backup`` copies a live data
directory that ``restore`` brings back and answers from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from ingest.backup import backup, restore
from ingest.doctor import Doctor
from ingest.service import build_ingestor
from rag.container import Container
from rag.errors import InvalidRequestError
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL

runner = CliRunner()


def indexed(tmp_path: Path) -> Container:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"note-{i}.md").write_text(
            f"# Note {i}\n\nThe canteen on floor {i} opens at {i + 7}. Lunch is served at noon.\n\n"
            f"## Parking\n\nBay {i} is for visitors. Bikes go behind block {i}."
        )
    container = Container(
        Settings(data_dir=tmp_path / "data"),
        embedder=HashingEmbedder(dim=64),
        generator=EchoGenerator(),
    )
    assert build_ingestor(container).ingest(docs).ok
    return container


def test_doctor_finds_and_repairs_every_kind_of_disagreement(tmp_path: Path) -> None:
    container = indexed(tmp_path)
    doctor = Doctor(container)
    assert doctor.check().consistent
    live = sorted(container.catalog.all_chunk_ids())
    store = container.vector_store
    store.delete(live[:2])  # vectors lost
    store.upsert(["ghost-0"], np.ones((1, 64), dtype=np.float32) / 8.0, [{"doc_id": "ghost"}])
    with container.catalog.db.transaction() as conn:  # a lexical row lost
        conn.execute(
            "DELETE FROM chunks_fts WHERE rowid = (SELECT rowid FROM chunks WHERE id=?)", (live[3],)
        )
    found = doctor.check()
    assert found.missing_vectors == live[:2] and found.orphan_vectors == ["ghost-0"]
    assert found.lexical_mismatch and not found.consistent

    result = runner.invoke(
        app, ["doctor", "--json", "--data-dir", str(container.settings.data_dir)]
    )
    assert result.exit_code == 1 and json.loads(result.stdout)["index"]["consistent"] is False

    repaired = doctor.repair()
    assert repaired.consistent, repaired.to_dict()
    assert repaired.repaired["chunks_embedded"] == 2 and repaired.repaired["orphans_deleted"] == 1
    hit = container.retriever.search(container.catalog.chunks_by_id([live[0]])[live[0]].text, 3)
    assert hit[0].chunk.id == live[0] and hit[0].dense_rank is not None


def test_backup_of_a_live_server_restores_and_answers(tmp_path: Path) -> None:
    container = indexed(tmp_path)
    with TestClient(create_app(container, load_in_background=False), base_url=LOCAL):
        info = backup(container.settings.data_dir, tmp_path / "backup")  # the server is running
    assert info["files"]
    with pytest.raises(InvalidRequestError, match="not empty"):
        backup(container.settings.data_dir, tmp_path / "backup")
    restore(tmp_path / "backup", tmp_path / "restored")
    with pytest.raises(InvalidRequestError, match="already holds"):
        restore(tmp_path / "backup", tmp_path / "restored")
    copy = Container(
        Settings(data_dir=tmp_path / "restored"),
        embedder=HashingEmbedder(dim=64),
        generator=EchoGenerator(),
    )
    assert copy.catalog.all_chunk_ids() == container.catalog.all_chunk_ids()
    assert Doctor(copy).check().consistent
    answer = copy.assistant.ask("When does the canteen on floor 2 open?", mode="extractive")
    assert answer.covered and "floor 2" in answer.answer
