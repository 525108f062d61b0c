"""Incremental sync on a real Chroma and SQLite: add, change, touch, rename, delete, groups,
bad files among good ones, mail attachments, and the journal that keeps both stores in step."""

from __future__ import annotations

import os
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.manifest import Manifest
from ingest.pipeline import Ingestor, doc_id_for
from ingest.plan import GROUPS_FILE
from ingest.service import build_ingestor
from rag.chunk_vectors import sentence_texts
from rag.container import Container
from rag.errors import BusyError, NotFoundError
from rag.settings import IngestSettings, Settings
from rag.testing import HashingEmbedder
from tests.ingest.test_parsers import make_docx, make_pdf


def hashing_container(tmp_path: Path, **ingest: object) -> Container:
    """Real Chroma and catalog in tmp_path; the hashing embedder (the model adds nothing here)."""
    settings = Settings(data_dir=tmp_path / "data", ingest=IngestSettings(workers=0, **ingest))
    return Container(settings, embedder=HashingEmbedder(dim=64))


def assert_consistent(container: Container) -> None:
    """Every live chunk has its vector and its sentence vectors, no vector lacks its chunk,
    the journal is empty."""
    live = container.catalog.all_chunk_ids()
    assert container.vector_store.all_ids() == live
    parts = container.vector_store.parts_collection.get(include=["metadatas"])
    owners = {m["chunk_id"] for m in parts["metadatas"]}
    chunks = container.catalog.chunks_by_id(live).values()
    assert owners == {c.id for c in chunks if sentence_texts(c)}
    assert Manifest(container.catalog).journal_size() == 0


def texts_of(container: Container, source: Path) -> list[str]:
    record = container.catalog.find_by_source(str(source.resolve()))
    assert record is not None, source
    return [c.text for c in container.catalog.chunks_of(record.doc_id)]


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "hr").mkdir(parents=True)
    (folder / "parking.md").write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    (folder / "hr" / "leave.txt").write_text("Full-time staff get 28 days of annual leave.\n")
    (folder / "canteen.html").write_text("<h1>Canteen</h1><p>Lunch is served from 12:00.</p>")
    return folder


def test_add_change_delete_and_rename_keep_both_stores_in_step(tmp_path: Path, docs: Path) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    first = ingestor.sync(docs)
    assert len(first.added) == 3 and first.ok
    assert_consistent(container)

    (docs / "parking.md").write_text("# Parking\n\nThe visitor car park has 30 spaces.\n")
    (docs / "hr" / "leave.txt").rename(docs / "hr" / "annual-leave.txt")
    (docs / "canteen.html").unlink()
    (docs / "new.txt").write_text("Badges are collected at reception desk B.\n")
    second = ingestor.sync(docs)

    resolved = docs.resolve()
    assert second.updated == [str(resolved / "parking.md")]
    assert second.added == [str(resolved / "new.txt")]
    assert second.renamed == [
        (str(resolved / "hr/leave.txt"), str(resolved / "hr/annual-leave.txt"))
    ]
    assert second.removed == [str(resolved / "canteen.html")]
    assert second.reused_chunks == 1  # the renamed file's vector was not embedded again
    assert texts_of(container, docs / "parking.md") == ["The visitor car park has 30 spaces."]
    assert texts_of(container, docs / "hr" / "annual-leave.txt") == [
        "Full-time staff get 28 days of annual leave."
    ]
    sources = {d.source for d in container.catalog.documents()}
    assert sources == {str(resolved / n) for n in ("parking.md", "hr/annual-leave.txt", "new.txt")}
    assert_consistent(container)


def test_without_prune_nothing_is_removed_and_a_copy_reuses_vectors(
    tmp_path: Path, docs: Path
) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(docs)
    (docs / "parking.md").rename(docs / "parking-copy.md")
    report = ingestor.ingest(docs)
    assert report.added == [str((docs / "parking-copy.md").resolve())]
    assert report.renamed == [] and report.removed == [] and report.reused_chunks == 1
    assert len(container.catalog.documents()) == 4  # the old path stays until a sync
    assert_consistent(container)


def test_unchanged_files_are_not_read(tmp_path: Path, docs: Path) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(docs)
    # Same size and modification time, other bytes: only a read of the file could tell.
    path = docs / "parking.md"
    stat = path.stat()
    path.write_text(path.read_text().replace("12 spaces", "13 spaces"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = ingestor.ingest(docs)
    assert len(report.unchanged) == 3 and report.chunks == 0 and report.ok
    record = container.catalog.find_by_source(str(path.resolve()))
    assert record is not None
    texts = [chunk.text for chunk in container.catalog.chunks_of(record.doc_id)]
    assert any("12 spaces" in text for text in texts) and not any("13" in t for t in texts)


def test_a_touched_file_is_recognised_by_its_hash(tmp_path: Path, docs: Path) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(docs)
    path = docs / "parking.md"
    before = container.catalog.all_chunk_ids()
    os.utime(path, (1_700_000_000, 1_700_000_000))
    report = ingestor.ingest(docs)
    assert report.unchanged == sorted(str(p) for p in docs.resolve().rglob("*.*"))
    assert report.chunks == 0 and container.catalog.all_chunk_ids() == before
    record = container.catalog.find_by_source(str(path.resolve()))
    assert record is not None and record.mtime == 1_700_000_000


def test_bad_files_are_reported_and_the_run_goes_on(tmp_path: Path, docs: Path) -> None:
    bad = {
        "corrupt.pdf": b"%PDF-1.7\n garbage that is not a PDF",
        "empty.txt": b"",
        "truncated.docx": b"PK\x03\x04 truncated zip",
        "old.xls": b"\xd0\xcf\x11\xe0 legacy",
    }
    for name, data in bad.items():
        (docs / name).write_bytes(data)
    make_pdf(docs / "locked.pdf", encrypt="secret")
    bomb = docs / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 20_000_000)
    with (docs / "huge.txt").open("wb") as fh:  # 200 MB of text, without writing 200 MB
        fh.truncate(200_000_000)
    container = hashing_container(tmp_path)
    report = build_ingestor(container).ingest(docs)

    reasons = {Path(p).name: r for p, r in report.failed}
    assert set(reasons) == {
        "corrupt.pdf",
        "empty.txt",
        "truncated.docx",
        "locked.pdf",
        "bomb.xlsx",
        "huge.txt",
    }
    assert "encrypted" in reasons["locked.pdf"] and "zip bomb" in reasons["bomb.xlsx"]
    assert "over the" in reasons["huge.txt"] and "empty file" in reasons["empty.txt"]
    assert [(Path(p).name, ".xlsx" in r) for p, r in report.skipped] == [("old.xls", True)]
    assert len(report.added) == 3 and not report.ok
    failed_rows = {
        Path(d.source).name: d for d in container.catalog.documents() if d.status == "failed"
    }
    assert set(failed_rows) == set(reasons)
    assert failed_rows["empty.txt"].error == reasons["empty.txt"]
    assert_consistent(container)

    again = build_ingestor(container).ingest(docs)
    assert len(again.failed) == 6 and all("unchanged since it failed" in r for _, r in again.failed)
    (docs / "empty.txt").write_text("Now it has text.")
    fixed = build_ingestor(container).ingest(docs)
    assert fixed.updated == [] and fixed.added == [str((docs / "empty.txt").resolve())]
    record = container.catalog.find_by_source(str((docs / "empty.txt").resolve()))
    assert record is not None and (record.status, record.error, record.n_chunks) == (
        "indexed",
        None,
        1,
    )


def test_a_changed_file_that_fails_keeps_its_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "policy.docx"
    make_docx(path)
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(path)
    chunks = container.catalog.chunk_count()
    path.write_bytes(b"PK\x03\x04 now corrupt")
    report = ingestor.ingest(path)
    assert [Path(p).name for p, _ in report.failed] == ["policy.docx"]
    record = container.catalog.find_by_source(str(path.resolve()))
    assert record is not None and record.status == "failed"
    assert record.error is not None and "previous version stays indexed" in record.error
    assert container.catalog.chunk_count() == chunks > 0
    assert_consistent(container)


def _mail(subject: str, attachment: bytes | None) -> bytes:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "people@northwind.example"
    message["To"] = "staff@northwind.example"
    message["Date"] = "Wed, 15 Jan 2025 09:00:00 +0100"
    message.set_content("Please find the rota attached.")
    if attachment is not None:
        message.add_attachment(attachment, maintype="text", subtype="plain", filename="rota.txt")
    return message.as_bytes()


def test_mail_attachments_are_documents_linked_to_their_mail(tmp_path: Path) -> None:
    mail = tmp_path / "rota.eml"
    mail.write_bytes(_mail("Canteen rota", b"Monday: Ana. Tuesday: Ben."))
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(mail)
    parent = container.catalog.find_by_source(str(mail.resolve()))
    assert parent is not None and parent.metadata["subject"] == "Canteen rota"
    assert parent.metadata["from"] == "people@northwind.example"
    [child] = container.catalog.children_of(parent.doc_id)
    assert child.source == f"{mail.resolve()}#rota.txt" and child.parent_id == parent.doc_id
    assert [c.text for c in container.catalog.chunks_of(child.doc_id)] == [
        "Monday: Ana. Tuesday: Ben."
    ]

    mail.write_bytes(_mail("Canteen rota (no attachment)", None))
    ingestor.ingest(mail)
    assert container.catalog.children_of(parent.doc_id) == []
    assert_consistent(container)
    removed = ingestor.delete(parent.doc_id)
    assert removed == [str(mail.resolve())]
    assert container.catalog.documents() == [] and container.vector_store.count() == 0


def test_access_groups_from_the_option_and_groups_files(tmp_path: Path, docs: Path) -> None:
    (docs / "hr" / GROUPS_FILE).write_text("# who may read HR files\nhr, people-leads\n")
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    ingestor.ingest(docs, groups=["staff"])

    def groups(name: str) -> set[tuple[str, ...]]:
        record = container.catalog.find_by_source(str((docs / name).resolve()))
        assert record is not None
        return {record.groups} | {c.groups for c in container.catalog.chunks_of(record.doc_id)}

    assert groups("hr/leave.txt") == {("hr", "people-leads")}
    assert groups("parking.md") == {("staff",)}

    (docs / "hr" / GROUPS_FILE).write_text("hr\n")
    report = ingestor.ingest(docs, groups=["staff"])
    assert report.updated == [str((docs / "hr/leave.txt").resolve())]
    assert report.reused_chunks == 1  # regrouped without embedding again
    assert groups("hr/leave.txt") == {("hr",)}
    assert_consistent(container)

    without = ingestor.ingest(docs)  # no --groups: indexed files keep theirs, never lifted
    assert len(without.unchanged) == 3 and groups("parking.md") == {("staff",)}
    (docs / "new.txt").write_text("A new file gets the configured default groups.")
    ingestor.ingest(docs)
    assert groups("new.txt") == {()}


def test_new_chunk_settings_reindex_every_file(tmp_path: Path, docs: Path) -> None:
    container = hashing_container(tmp_path)
    build_ingestor(container).ingest(docs)
    tighter = Ingestor(
        container.embedder, container.vector_store, container.catalog, max_tokens=100, workers=0
    )
    report = tighter.ingest(docs)
    assert len(report.updated) == 3 and report.unchanged == []
    assert_consistent(container)


def test_one_run_at_a_time(tmp_path: Path, docs: Path) -> None:
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX);"
            " print('locked', flush=True); time.sleep(30)",
            str(container.settings.index_path.parent / "ingest.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BusyError, match="another ingestion is running"):
            ingestor.ingest(docs)
    finally:
        holder.kill()
        holder.wait()
    with ingestor.catalog.ingest_lock():
        pass  # free again
    assert ingestor.ingest(docs).ok


def test_sync_of_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        build_ingestor(hashing_container(tmp_path)).sync(tmp_path / "nope")


def test_hidden_and_office_lock_files_are_left_out(tmp_path: Path, docs: Path) -> None:
    (docs / ".secret.txt").write_text("hidden")
    (docs / "~$draft.docx").write_bytes(b"lock")
    report = build_ingestor(hashing_container(tmp_path)).ingest(docs)
    names = {Path(p).name for p in report.added}
    assert names == {"parking.md", "leave.txt", "canteen.html"} and report.ok


def test_documents_are_ids_of_their_path(tmp_path: Path, docs: Path) -> None:
    container = hashing_container(tmp_path)
    build_ingestor(container).ingest(docs)
    for record in container.catalog.documents():
        assert record.doc_id == doc_id_for(record.source)
        assert record.metadata["origin"] == "file"


def test_symbolic_links_out_of_the_folder_are_skipped_never_followed(
    tmp_path: Path, docs: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "passwd"
    secret.write_text("root:x:0:0:the server's own secret line\n")
    (outside / "more.txt").write_text("Another file the server never shares.\n")
    (docs / "passwd.txt").symlink_to(secret)  # a real link, like passwd.txt -> /etc/passwd
    (docs / "etc").symlink_to(outside, target_is_directory=True)
    (docs / "leave-copy.txt").symlink_to(docs / "hr" / "leave.txt")  # stays inside: indexed
    container = hashing_container(tmp_path)
    report = build_ingestor(container).sync(docs)
    assert report.ok
    link = str(docs.resolve() / "passwd.txt")
    assert [(p, "outside the folder" in r) for p, r in report.skipped] == [(link, True)]
    sources = {d.source for d in container.catalog.documents()}
    assert link not in sources and not any("outside" in s or "/etc/" in s for s in sources)
    assert str(docs.resolve() / "leave-copy.txt") in sources
    texts = [
        c.text for d in container.catalog.documents() for c in container.catalog.chunks_of(d.doc_id)
    ]
    assert not any("secret" in t or "never shares" in t for t in texts)
    assert_consistent(container)


def test_a_file_replaced_by_a_link_out_of_the_folder_is_removed_by_the_next_sync(
    tmp_path: Path, docs: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Salaries of the board, never to be indexed.\n")
    container = hashing_container(tmp_path)
    ingestor = build_ingestor(container)
    path = docs / "salaries.txt"
    path.write_text("Salary bands are published every April.\n")
    ingestor.sync(docs)
    source = str(path.resolve())
    assert source in {d.source for d in container.catalog.documents()}
    path.unlink()
    path.symlink_to(secret)
    report = ingestor.sync(docs)
    assert report.removed == [source] and [p for p, _ in report.skipped] == [source]
    assert source not in {d.source for d in container.catalog.documents()}
    assert_consistent(container)


def test_a_file_of_one_repeated_line_does_not_hide_other_documents(tmp_path: Path) -> None:
    """Hundreds of identical chunk vectors trap the vector index's graph search among
    themselves (every other document vanished from dense search): repeats are indexed once."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.md").write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.")
    container = hashing_container(tmp_path)
    assert build_ingestor(container).ingest(docs).ok
    noise = tmp_path / "noise"
    noise.mkdir()
    (noise / "one-line.txt").write_text("word " * 60_000)
    report = build_ingestor(container).ingest(noise)
    assert report.ok and report.chunks <= 3
    hits = container.retriever.search("days of annual leave for full-time staff", 5, method="dense")
    assert hits and hits[0].chunk.source.endswith("handbook.md")
