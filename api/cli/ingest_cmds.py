"""``ragstead ingest`` and ``ragstead docs``: index files and manage what is indexed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import DataDir, JsonFlag, container_for, display, err, fail, ingestor_for, out
from rag.errors import RagsteadError

docs_app = typer.Typer(help="Manage indexed documents.", no_args_is_help=True)


def ingest(
    path: Annotated[Path, typer.Argument(help="file or folder to index")],
    prune: Annotated[
        bool, typer.Option("--prune", help="remove documents whose files are gone")
    ] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Index a file or folder (new and changed files; unchanged ones are skipped)."""
    try:
        container = container_for(data_dir)
        report = ingestor_for(container).ingest(path, prune=prune, progress=None)
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        table = Table(title="ingest", show_header=True)
        for col in (
            "added",
            "updated",
            "unchanged",
            "removed",
            "failed",
            "skipped",
            "chunks",
            "seconds",
        ):
            table.add_column(col, justify="right")
        table.add_row(
            *(
                str(len(x))
                for x in (
                    report.added,
                    report.updated,
                    report.unchanged,
                    report.removed,
                    report.failed,
                    report.skipped,
                )
            ),
            str(report.chunks),
            f"{report.seconds:.1f}",
        )
        out.print(table)
        for p, reason in report.failed:
            err.print(f"[red]failed[/red] {display(p)}: {reason}", highlight=False)
        for p, reason in report.skipped:
            err.print(f"skipped {display(p)}: {reason}", highlight=False)
    raise typer.Exit(0 if report.ok else 1)


@docs_app.command("list")
def docs_list(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """List indexed documents."""
    try:
        docs = container_for(data_dir).catalog.documents()
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        rows = [
            {
                "doc_id": d.doc_id,
                "source": d.source,
                "title": d.title,
                "chunks": d.n_chunks,
                "status": d.status,
                "parent_id": d.parent_id,
            }
            for d in docs
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("id", "source", "title", "chunks", "status")
    for d in docs:
        table.add_row(d.doc_id, display(d.source), d.title, str(d.n_chunks), d.status)
    out.print(table)


@docs_app.command("show")
def docs_show(doc_id: str, data_dir: DataDir = None) -> None:
    """Show one document's manifest entry and chunks."""
    try:
        container = container_for(data_dir)
        doc = container.catalog.get_document(doc_id)
        chunks = container.catalog.chunks_of(doc_id)
    except RagsteadError as exc:
        fail(exc)
    out.print_json(json.dumps({**doc.__dict__, "groups": list(doc.groups)}))
    for c in chunks:
        page = f" p.{c.page}" if c.page is not None else ""
        out.print(f"[bold]#{c.chunk_index}{page}[/bold] {c.section}", highlight=False)
        out.print(c.text[:300], highlight=False)


@docs_app.command("delete")
def docs_delete(doc_id: str, data_dir: DataDir = None) -> None:
    """Remove a document (and its attachments) from the index."""
    try:
        container = container_for(data_dir)
        removed = ingestor_for(container).delete(doc_id)
    except RagsteadError as exc:
        fail(exc)
    for source in removed:
        out.print(f"deleted {display(source)}", highlight=False)
