"""Continuous sources: registered folders kept in sync by schedule and file events, with their
failures visible, through the syncer, the server's scheduler, the API and the CLI."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth.keys import KeyStore
from api.cli import app as cli
from ingest.sources import SourceScheduler, SourceStore, SourceSyncer, parse_every
from rag.container import Container
from rag.errors import InvalidRequestError
from rag.settings import IngestSettings, Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL


def _container(tmp_path: Path) -> Container:
    settings = Settings(data_dir=tmp_path / "data", ingest=IngestSettings(workers=0))
    return Container(settings, embedder=HashingEmbedder(dim=64), generator=EchoGenerator())


def _share(tmp_path: Path) -> Path:
    share = tmp_path / "share"
    share.mkdir()
    (share / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave.")
    (share / "lift.md").write_text("# Lift\n\nThe lift is on the left.")
    return share


def _sources(container: Container) -> set[str]:
    return {Path(d.source).name for d in container.catalog.documents()}


def test_intervals_are_read_and_bounded() -> None:
    assert [parse_every(t) for t in ("30s", "15m", "1h", "2d", "90")] == [30, 900, 3600, 172800, 90]
    for bad in ("5s", "soon", "-1m", ""):
        with pytest.raises(InvalidRequestError):
            parse_every(bad)


def test_a_source_syncs_when_due_keeps_its_documents_while_gone_and_takes_them_when_removed(
    tmp_path: Path,
) -> None:
    container = _container(tmp_path)
    share = _share(tmp_path)
    syncer = SourceSyncer(SourceStore(container.settings.sources_path), lambda _: container)
    source = syncer.store.add(share, collection="default", groups=["hr"], every_s=600)
    [ran] = syncer.run_due(now=source.added_at)
    assert ran.last_error is None and ran.last_counts["added"] == 2
    assert _sources(container) == {"leave.md", "lift.md"}
    assert all(d.groups == ("hr",) for d in container.catalog.documents())
    assert syncer.run_due(now=ran.last_run_at + 60) == []  # not due yet
    (share / "lift.md").unlink()
    (share / "canteen.md").write_text("# Canteen\n\nThe canteen opens at seven.")
    [ran] = syncer.run_due(now=ran.last_run_at + 600)
    assert ran.last_counts["added"] == 1 and ran.last_counts["removed"] == 1
    assert _sources(container) == {"leave.md", "canteen.md"}

    moved = tmp_path / "unmounted"
    shutil.move(share, moved)  # the share is unmounted: a failure, the documents stay
    failed = syncer.run(ran)
    assert failed.last_error and "missing" in failed.last_error and failed.failures == 1
    assert _sources(container) == {"leave.md", "canteen.md"}
    shutil.move(moved, share)
    assert syncer.run(failed).last_error is None

    removed, count = syncer.remove(str(share))
    assert removed.id == source.id and count == 2
    assert _sources(container) == set() and syncer.store.list() == []


def test_the_scheduler_syncs_a_new_file_when_the_file_system_says_so(tmp_path: Path) -> None:
    container = _container(tmp_path)
    share = _share(tmp_path)
    syncer = SourceSyncer(SourceStore(container.settings.sources_path), lambda _: container)
    syncer.store.add(share, collection="default", groups=[], every_s=86_400)  # one run a day
    scheduler = SourceScheduler(syncer, tick_s=0.2)
    scheduler.start()
    try:
        for _ in range(300):  # the first run: due at once
            if _sources(container) == {"leave.md", "lift.md"}:
                break
            threading.Event().wait(0.1)
        assert _sources(container) == {"leave.md", "lift.md"}
        (share / "new.md").write_text("# New\n\nA new policy on bicycles.")
        for _ in range(600):  # not due for a day: only the file event can bring it in
            if "new.md" in _sources(container):
                break
            threading.Event().wait(0.1)
        assert "new.md" in _sources(container)
    finally:
        scheduler.stop()


def test_sources_over_the_api_need_admin_and_show_failures(tmp_path: Path) -> None:
    share = _share(tmp_path)
    settings = Settings(
        data_dir=tmp_path / "data",
        ingest=IngestSettings(workers=0, source_roots=[tmp_path]),  # the API registers only here
    )
    container = Container(settings, embedder=HashingEmbedder(dim=64), generator=EchoGenerator())
    store = KeyStore(container.settings.auth_path)
    admin = {"Authorization": f"Bearer {store.create('ops', scopes=['admin']).key}"}
    reader = {"Authorization": f"Bearer {store.create('r', scopes=['read', 'write']).key}"}
    with TestClient(create_app(container, load_in_background=False), base_url=LOCAL) as client:
        body = {"path": str(share), "every": "1h", "groups": ["hr"]}
        assert client.post("/v1/sources", json=body, headers=reader).status_code == 403
        assert client.get("/v1/sources", headers=reader).status_code == 403
        made = client.post("/v1/sources", json=body, headers=admin)
        assert made.status_code == 201, made.text
        source = made.json()
        ran = client.post(f"/v1/sources/{source['id']}/sync", headers=admin).json()
        assert ran["last_error"] is None and ran["last_counts"]["added"] == 2
        shutil.rmtree(share)
        failed = client.post(f"/v1/sources/{source['id']}/sync", headers=admin).json()
        assert "missing" in failed["last_error"]
        [listed] = client.get("/v1/sources", headers=admin).json()["sources"]
        assert listed["failures"] == 1 and listed["last_error"] == failed["last_error"]
        bad = client.post("/v1/sources", json={"path": str(tmp_path / "nope")}, headers=admin)
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "InvalidRequestError"
        for broken in ("0" * 5000, str(tmp_path / ("x" * 300)), "a\x00b"):
            refused = client.post("/v1/sources", json={"path": broken}, headers=admin)
            assert refused.status_code in (400, 403, 422), refused.text  # never 500
        bad_group = client.post("/v1/sources", json={**body, "groups": ["hr; drop"]}, headers=admin)
        assert bad_group.status_code == 422
        for outside in ("/", "/etc", str(tmp_path / ".." / "..")):
            refused = client.post("/v1/sources", json={"path": outside}, headers=admin)
            assert refused.status_code == 403, outside
        gone = client.delete(f"/v1/sources/{source['id']}", headers=admin).json()
        assert gone["documents_removed"] == 2
        assert client.get("/v1/sources", headers=admin).json()["sources"] == []
        assert client.delete(f"/v1/sources/{source['id']}", headers=admin).status_code == 404


def test_sources_on_the_command_line(tmp_path: Path, model_cache: Path) -> None:
    share = _share(tmp_path)
    data = ["--data-dir", str(tmp_path / "cli-data")]
    env = {"RAGSTEAD_MODEL_CACHE_DIR": str(model_cache)}
    runner = CliRunner()
    added = runner.invoke(cli, ["sources", "add", str(share), "--every", "15m", "--json", *data],
                          env=env)  # fmt: skip
    assert added.exit_code == 0, added.output
    source = json.loads(added.stdout)
    assert source["last_counts"]["added"] == 2 and source["every_s"] == 900
    listed = runner.invoke(cli, ["sources", "list", "--json", *data], env=env)
    assert [s["id"] for s in json.loads(listed.stdout)] == [source["id"]]
    bad = runner.invoke(cli, ["sources", "add", str(tmp_path / "nope"), *data], env=env)
    assert bad.exit_code == 2 and "not a folder" in bad.output
    removed = runner.invoke(cli, ["sources", "remove", source["id"], "--json", *data], env=env)
    assert removed.exit_code == 0 and json.loads(removed.stdout)["documents"] == 2
    docs = Container(Settings(data_dir=tmp_path / "cli-data")).catalog.documents()
    assert docs == []
