"""Uploads over REST on the real app: upload -> job -> search -> relabel -> delete, bad files
refused with nothing stored, limits, ownership of jobs, and a job resumed after a restart."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reportlab.pdfgen import canvas

from api.app import create_app
from api.auth.keys import KeyStore
from api.jobs import JobFile, JobStore
from rag.container import Container
from rag.settings import ApiSettings, Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL


def pdf_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, text)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def make(data_dir: Path, **api: Any) -> Container:
    settings = Settings(data_dir=data_dir, api=ApiSettings(**api))
    return Container(settings, embedder=HashingEmbedder(), generator=EchoGenerator())


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], Path]]:
    data = tmp_path_factory.mktemp("uploads")
    container = make(data, upload_max_file_bytes=200_000)
    store = KeyStore(container.settings.auth_path)
    keys = {
        "hr": store.create("hr", groups=["hr"], scopes=["read", "write"]).key,
        "eng": store.create("eng", groups=["eng"], scopes=["read", "write"]).key,
        "reader": store.create("reader", groups=["hr"]).key,
    }
    headers = {who: {"Authorization": f"Bearer {k}"} for who, k in keys.items()}
    with TestClient(create_app(container, load_in_background=False), base_url=LOCAL) as c:
        yield c, headers, data


def wait(client: TestClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "partial", "failed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_upload_job_search_relabel_delete(
    env: tuple[TestClient, dict[str, dict[str, str]], Path],
) -> None:
    client, h, data = env
    bonus = b"# Bonus\n\nThe bonus pool is 4.2 million euros."
    lunch = pdf_bytes("The canteen serves lunch from noon to two.")
    files = [
        ("files", ("../../etc/bonus policy.md", bonus, "text/markdown")),
        ("files", ("canteen.pdf", lunch, "application/pdf")),
    ]
    r = client.post(
        "/v1/documents",
        files=files,
        data={"groups": "hr", "metadata": '{"site": "leeds"}'},
        headers=h["hr"],
    )
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["job_id"], h["hr"])
    assert job["status"] == "succeeded", job
    names = [f["name"] for f in job["files"]]
    assert names == ["bonus policy.md", "canteen.pdf"] and all(f["doc_id"] for f in job["files"])
    stored = list((data / "uploads" / job["job_id"]).iterdir())
    assert sorted(p.name for p in stored) == sorted(names)  # never the client's path
    assert "path" not in job["files"][0]

    found = client.post(
        "/v1/retrieve",
        json={"question": "bonus pool", "filters": {"tags": ["site:leeds"]}},
        headers=h["hr"],
    )
    assert "4.2 million" in found.text
    hidden = client.post("/v1/retrieve", json={"question": "bonus pool"}, headers=h["eng"])
    assert "4.2 million" not in hidden.text
    assert client.get(f"/v1/jobs/{job['job_id']}", headers=h["eng"]).status_code == 404
    assert job["job_id"] in {
        j["job_id"] for j in client.get("/v1/jobs", headers=h["hr"]).json()["jobs"]
    }
    assert client.get("/v1/jobs", headers=h["eng"]).json()["jobs"] == []

    doc = job["files"][0]["doc_id"]
    assert client.get(f"/v1/documents/{doc}/file", headers=h["hr"]).content.startswith(b"# Bonus")
    assert (
        client.patch(f"/v1/documents/{doc}", json={"groups": []}, headers=h["hr"]).status_code
        == 400
    )
    assert client.delete(f"/v1/documents/{doc}", headers=h["hr"]).status_code == 204
    gone = client.post("/v1/retrieve", json={"question": "bonus pool"}, headers=h["hr"])
    assert "4.2 million" not in gone.text


@pytest.mark.parametrize(
    ("name", "content", "status", "says"),
    [
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 400, "not a PDF"),
        ("notes.docx", b"just text, not a zip", 400, "not a DOCX"),
        ("tool.exe", b"MZ\x90\x00", 400, "unsupported file type"),
        ("empty.txt", b"", 400, "empty"),
        ("big.txt", b"a" * 300_000, 413, "limit"),
    ],
)
def test_a_bad_file_refuses_the_upload_and_stores_nothing(
    env: tuple[TestClient, dict[str, dict[str, str]], Path],
    name: str,
    content: bytes,
    status: int,
    says: str,
) -> None:
    client, h, data = env
    before = set((data / "uploads").iterdir()) if (data / "uploads").exists() else set()
    files = [
        ("files", ("fine.md", b"# Fine\n\nA fine file.", "text/markdown")),
        ("files", (name, content, "x/y")),
    ]
    r = client.post("/v1/documents", files=files, headers=h["hr"])
    assert r.status_code == status, r.text
    assert says in r.json()["error"]["message"]
    after = set((data / "uploads").iterdir()) if (data / "uploads").exists() else set()
    assert after == before


def test_upload_needs_write_scope_own_groups_and_a_length(
    env: tuple[TestClient, dict[str, dict[str, str]], Path],
) -> None:
    client, h, _ = env
    files = [("files", ("a.md", b"# A\n\ntext", "text/markdown"))]
    assert client.post("/v1/documents", files=files, headers=h["reader"]).status_code == 403
    r = client.post("/v1/documents", files=files, data={"groups": "finance"}, headers=h["hr"])
    assert r.status_code == 400 and "finance" in r.json()["error"]["message"]
    r = client.post("/v1/documents", files=files, data={"metadata": "[1]"}, headers=h["hr"])
    assert r.status_code == 400
    r = client.post("/v1/documents", files=files, data={"collection": "nope"}, headers=h["hr"])
    assert r.status_code == 404
    r = client.post("/v1/documents", files=files, data={"collection": "../x"}, headers=h["hr"])
    assert r.status_code == 400

    def chunked() -> Iterator[bytes]:
        yield b"--x\r\n"

    r = client.post(
        "/v1/documents",
        content=chunked(),
        headers={**h["hr"], "content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 411


def test_a_job_running_when_the_server_stopped_runs_again(tmp_path: Path) -> None:
    container = make(tmp_path / "data")
    key = (
        KeyStore(container.settings.auth_path)
        .create("hr", groups=["hr"], scopes=["read", "write"])
        .key
    )
    folder = (container.settings.uploads_dir / "abc123").resolve()
    folder.mkdir(parents=True)
    (folder / "leave.md").write_text("# Leave\n\nStaff receive 28 days of annual leave.")
    jobs = JobStore(container.settings.jobs_path)
    job = jobs.create(
        owner="key:hr",
        files=[JobFile("leave.md", str(folder / "leave.md"), 40)],
        groups=["hr"],
        labels={},
        job_id="abc123",
    )
    job.status = "running"  # as a server killed mid-job leaves it
    jobs.save(job)
    with TestClient(create_app(container, load_in_background=False), base_url=LOCAL) as client:
        headers = {"Authorization": f"Bearer {key}"}
        done = wait(client, "abc123", headers)
        assert done["status"] == "succeeded" and done["files"][0]["doc_id"]
        r = client.post("/v1/retrieve", json={"question": "annual leave"}, headers=headers)
        assert "28 days" in r.text
