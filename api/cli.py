"""The ``ragstead`` command: a thin layer over the same services the API calls."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

import rag.offline  # noqa: F401
from rag.errors import RagsteadError

app = typer.Typer(help="Ragstead: ask questions of your own documents, offline.", no_args_is_help=True)
docs_app = typer.Typer(help="Manage indexed documents.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")

out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="data directory (default: $RAGSTEAD_DATA_DIR or ./.ragstead)"),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON")]


def _fail(exc: RagsteadError) -> NoReturn:
    err.print(f"[red]error:[/red] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"hint: {exc.hint}", highlight=False)
    raise typer.Exit(2)


def _container(data_dir: Path | None) -> Any:
    from rag.container import Container
    from rag.settings import load_settings

    overrides: dict[str, object] = {"data_dir": data_dir} if data_dir else {}
    return Container(load_settings(**overrides))


def _ingestor(container: Any) -> Any:
    from ingest.service import build_ingestor

    return build_ingestor(container)


def _display(source: str) -> str:
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="file or folder to index")],
    prune: Annotated[bool, typer.Option("--prune", help="remove documents whose files are gone")] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Index a file or folder (new and changed files; unchanged ones are skipped)."""
    try:
        container = _container(data_dir)
        report = _ingestor(container).ingest(path, prune=prune, progress=None)
    except RagsteadError as exc:
        _fail(exc)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        table = Table(title="ingest", show_header=True)
        for col in ("added", "updated", "unchanged", "removed", "failed", "skipped", "chunks", "seconds"):
            table.add_column(col, justify="right")
        table.add_row(
            *(str(len(x)) for x in (report.added, report.updated, report.unchanged, report.removed,
                                     report.failed, report.skipped)),
            str(report.chunks),
            f"{report.seconds:.1f}",
        )
        out.print(table)
        for p, reason in report.failed:
            err.print(f"[red]failed[/red] {_display(p)}: {reason}", highlight=False)
        for p, reason in report.skipped:
            err.print(f"skipped {_display(p)}: {reason}", highlight=False)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="passages to retrieve")] = 5,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the indexed documents, with numbered sources."""
    try:
        answer = _container(data_dir).assistant.ask(question, top_k=top_k)
    except RagsteadError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
        return
    out.print(answer.answer, highlight=False)
    if answer.citations:
        out.print("\nSources:", style="bold")
    for c in answer.citations:
        where = f", page {c.page}" if c.page is not None else ""
        section = f" — {c.section}" if c.section else ""
        out.print(f"  [{c.n}] {_display(c.source)}{where}{section}", highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or $PORT)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs)."""
    import os

    import uvicorn

    from api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        container = _container(data_dir)
    except RagsteadError as exc:
        _fail(exc)
    s = container.settings.api
    bind_port = port or int(os.environ.get("PORT", s.port))
    uvicorn.run(create_app(container), host=host or s.host, port=bind_port, log_level="info")


@docs_app.command("list")
def docs_list(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """List indexed documents."""
    try:
        docs = _container(data_dir).catalog.documents()
    except RagsteadError as exc:
        _fail(exc)
    if as_json:
        rows = [
            {"doc_id": d.doc_id, "source": d.source, "title": d.title, "chunks": d.n_chunks,
             "status": d.status, "parent_id": d.parent_id}
            for d in docs
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("id", "source", "title", "chunks", "status")
    for d in docs:
        table.add_row(d.doc_id, _display(d.source), d.title, str(d.n_chunks), d.status)
    out.print(table)


@docs_app.command("show")
def docs_show(doc_id: str, data_dir: DataDir = None) -> None:
    """Show one document's manifest entry and chunks."""
    try:
        container = _container(data_dir)
        doc = container.catalog.get_document(doc_id)
        chunks = container.catalog.chunks_of(doc_id)
    except RagsteadError as exc:
        _fail(exc)
    out.print_json(json.dumps({**doc.__dict__, "groups": list(doc.groups)}))
    for c in chunks:
        page = f" p.{c.page}" if c.page is not None else ""
        out.print(f"[bold]#{c.chunk_index}{page}[/bold] {c.section}", highlight=False)
        out.print(c.text[:300], highlight=False)


@docs_app.command("delete")
def docs_delete(doc_id: str, data_dir: DataDir = None) -> None:
    """Remove a document (and its attachments) from the index."""
    try:
        container = _container(data_dir)
        removed = _ingestor(container).delete(doc_id)
    except RagsteadError as exc:
        _fail(exc)
    for source in removed:
        out.print(f"deleted {_display(source)}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()
