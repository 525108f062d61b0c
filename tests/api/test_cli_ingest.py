"""``ragstead ingest``, ``sync`` and ``docs``: exit codes, summaries and the manifest, through
the real command (typer's runner, the real embedder and Chroma)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from rag.container import Container

runner = CliRunner()


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "parking.md").write_text("# Parking\n\nThe visitor car park has 12 spaces.\n")
    (docs / "leave.txt").write_text("Full-time staff get 28 days of annual leave.\n")
    return docs


@pytest.fixture(autouse=True)
def _model_cache(monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    monkeypatch.setenv("RAGSTEAD_MODEL_CACHE_DIR", str(model_cache))


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    # JSON is read from stdout alone: a model loading in another thread of this test process
    # may draw a progress bar on stderr meanwhile
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_ingest_then_sync_then_docs(
    tmp_path: Path, folder: Path, example_container: Container
) -> None:
    data = str(tmp_path / "data")
    code, output = run("ingest", str(folder), "--data-dir", data, "--groups", "hr, finance")
    assert code == 0, output
    assert "added" in output and "chunks written" in output

    code, output = run("ingest", str(folder), "--data-dir", data, "--json")
    report = json.loads(output)
    assert code == 0 and len(report["unchanged"]) == 2 and report["chunks"] == 0

    code, output = run("docs", "list", "--data-dir", data, "--json")
    docs = json.loads(output)
    assert {Path(d["source"]).name for d in docs} == {"parking.md", "leave.txt"}
    assert all(d["groups"] == ["finance", "hr"] and d["status"] == "indexed" for d in docs)

    code, output = run("docs", "show", str(folder / "parking.md"), "--data-dir", data, "--json")
    shown = json.loads(output)
    assert code == 0 and shown["chunks"][0]["text"] == "The visitor car park has 12 spaces."
    assert shown["chunk_ids"] == [shown["chunks"][0]["id"]]

    (folder / "leave.txt").unlink()
    code, output = run("sync", str(folder), "--data-dir", data, "--json")
    assert code == 0 and [Path(p).name for p in json.loads(output)["removed"]] == ["leave.txt"]

    doc_id = shown["doc_id"]
    code, output = run("docs", "delete", doc_id, "--data-dir", data)
    assert code == 0 and "deleted" in output
    code, output = run("docs", "list", "--data-dir", data, "--json")
    assert json.loads(output) == []


def test_a_bad_file_makes_the_run_exit_1_with_its_reason(
    tmp_path: Path, folder: Path, example_container: Container
) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "memo.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy")
    data = str(tmp_path / "data")
    code, output = run("ingest", str(folder), "--data-dir", data, "--workers", "0")
    assert code == 1
    assert "broken.pdf" in output and "PDF" in output
    assert "memo.doc" in output and "convert it to .docx" in output
    code, output = run("docs", "list", "--status", "failed", "--data-dir", data, "--json")
    [failed] = json.loads(output)
    assert Path(failed["source"]).name == "broken.pdf" and "PDF" in failed["error"]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, output = run("ingest", str(tmp_path / "missing"), "--data-dir", str(tmp_path / "d"))
    assert code == 2 and "no such file or folder" in output
    code, output = run("docs", "delete", "nope", "--data-dir", str(tmp_path / "d"))
    assert code == 2 and "no document" in output


def test_control_characters_in_file_names_never_reach_the_terminal(tmp_path: Path) -> None:
    """A file name that carries terminal escapes (ESC sequences that clear or retitle the
    terminal, a bell) or rich markup is printed escaped, in failure lines and ``docs list``."""
    docs = tmp_path / "docs"
    docs.mkdir()
    name = "\x1b]0;pwned\x07evil\x1b[2J [bold]x.txt"
    (docs / name).write_bytes(b"")  # empty: fails, so nothing is embedded
    data = str(tmp_path / "data")
    result = runner.invoke(app, ["ingest", str(docs), "--data-dir", data, "--workers", "0"])
    shown = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 1, shown
    assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b]0;pwned\\x07evil\\x1b[2J [bold]x.txt" in shown  # escaped, not markup

    result = runner.invoke(app, ["docs", "list", "--data-dir", data], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;pwned\\x07evil" in result.output and "failed" in result.output
