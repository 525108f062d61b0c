"""``ragstead ingest``, ``ragstead sync`` and ``ragstead docs``: index files, manage the index."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from api.cli.common import (
    CollectionOpt,
    DataDir,
    JsonFlag,
    container_for,
    display,
    err,
    fail,
    ingestor_for,
    out,
    terminal_safe,
)
from rag.errors import NotFoundError, RagsteadError

docs_app = typer.Typer(help="Manage indexed documents.", no_args_is_help=True)

PathArg = Annotated[Path, typer.Argument(help="file or folder to index")]
GroupsOpt = Annotated[
    str | None,
    typer.Option(
        "--groups",
        help="access groups of these files, comma-separated (a .ragstead-groups file in a"
        " folder overrides it for the files below it)",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="re-parse every file, changed or not")]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="parse processes (default: cores - 1; 0: none)")
]
_SHOWN = 20


class _ProgressBar:
    """Files, chunks and rates on stderr while a run goes (only on a terminal)."""

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rates]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.task = self.progress.add_task("scanning", total=None, chunks=0, rates="")

    def __call__(self, state: Any) -> None:
        elapsed = max(state.elapsed, 1e-6)
        rates = f"{state.chunks / elapsed:.1f} chunks/s, {state.pages / elapsed:.1f} pages/s"
        name = Path(state.current).name if state.current else ""
        self.progress.update(
            self.task,
            description=f"{state.phase} {terminal_safe(name[:40])}",
            total=state.files_total or None,
            completed=state.files_done,
            chunks=state.chunks,
            rates=rates,
        )


def _run(
    path: Path,
    *,
    prune: bool,
    groups: str | None,
    force: bool,
    workers: int | None,
    data_dir: Path | None,
    collection: str | None,
    as_json: bool,
) -> None:
    from ingest.plan import parse_groups

    bar = None if as_json else _ProgressBar()
    try:
        container = container_for(data_dir, collection, create=True)
        if workers is not None:
            container.settings.ingest.workers = workers
        ingestor = ingestor_for(container)
        chosen = parse_groups(groups) if groups is not None else None
        if bar is not None:
            with bar.progress:
                report = ingestor.ingest(
                    path, prune=prune, progress=bar, groups=chosen, force=force
                )
        else:
            report = ingestor.ingest(path, prune=prune, groups=chosen, force=force)
    except RagsteadError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err.print("interrupted: what was written stays; the next run picks up the rest")
        raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        _summary(report)
    raise typer.Exit(0 if report.ok else 1)


def _summary(report: Any) -> None:
    """The table at the end of a run, then failures with reasons, then skipped files."""
    table = Table(title="ingest summary", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = {
        "added": len(report.added),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "renamed": len(report.renamed),
        "removed": len(report.removed),
        "failed": len(report.failed),
        "skipped": len(report.skipped),
        "chunks written": report.chunks,
        "  of which reused": report.reused_chunks,
        "pages": report.pages,
    }
    for key, value in rows.items():
        table.add_row(key, str(value), style="red" if key == "failed" and value else None)
    seconds = max(report.seconds, 1e-6)
    table.add_row("seconds", f"{report.seconds:.1f}")
    embedded = report.chunks - report.reused_chunks
    if embedded:
        table.add_row("chunks/s", f"{embedded / seconds:.1f}")
    if report.pages:
        table.add_row("pages/s", f"{report.pages / seconds:.1f}")
    out.print(table)
    for p, reason in report.failed:
        err.print(
            f"[red]failed[/red] {display(p)}: {terminal_safe(reason)}",
            highlight=False,
            soft_wrap=True,
        )
    for label, items in (("skipped", report.skipped), ("warning", report.warnings)):
        for p, reason in items[:_SHOWN]:
            err.print(
                f"{label} {display(p)}: {terminal_safe(reason)}", highlight=False, soft_wrap=True
            )
        if len(items) > _SHOWN:
            err.print(f"… and {len(items) - _SHOWN} more {label} entries (see --json)")


def ingest(
    path: PathArg,
    prune: Annotated[
        bool, typer.Option("--prune", help="remove documents whose files are gone")
    ] = False,
    groups: GroupsOpt = None,
    force: ForceOpt = False,
    workers: WorkersOpt = None,
    data_dir: DataDir = None,
    collection: CollectionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Index a file or folder: new and changed files; unchanged ones are not read.

    Exit status 0 when every file was indexed, 1 when some failed, 2 on a usage error.
    """
    _run(
        path,
        prune=prune,
        groups=groups,
        force=force,
        workers=workers,
        data_dir=data_dir,
        collection=collection,
        as_json=as_json,
    )


def sync(
    path: PathArg,
    groups: GroupsOpt = None,
    force: ForceOpt = False,
    workers: WorkersOpt = None,
    data_dir: DataDir = None,
    collection: CollectionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Make the index mirror a folder: ingest changes and remove documents whose files are gone."""
    _run(
        path,
        prune=True,
        groups=groups,
        force=force,
        workers=workers,
        data_dir=data_dir,
        collection=collection,
        as_json=as_json,
    )


def _resolve(container: Any, ref: str) -> str:
    """A document id, or the id of the document indexed from the file ``ref``."""
    try:
        return str(container.catalog.get_document(ref).doc_id)
    except NotFoundError:
        record = container.catalog.find_by_source(str(Path(ref).expanduser().resolve()))
        if record is None:
            raise
        return str(record.doc_id)


@docs_app.command("list")
def docs_list(
    status: Annotated[
        str | None, typer.Option("--status", help="only 'indexed' or 'failed' documents")
    ] = None,
    data_dir: DataDir = None,
    collection: CollectionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """List indexed documents (and files that failed, with the reason)."""
    try:
        docs = container_for(data_dir, collection).catalog.documents()
    except RagsteadError as exc:
        fail(exc)
    if status:
        docs = [d for d in docs if d.status == status]
    if as_json:
        rows = [
            {
                "doc_id": d.doc_id,
                "source": d.source,
                "title": d.title,
                "chunks": d.n_chunks,
                "status": d.status,
                "error": d.error,
                "groups": list(d.groups),
                "parent_id": d.parent_id,
            }
            for d in docs
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    table = Table("id", "source", "title", "chunks", "status", "groups")
    for d in docs:
        state = (
            d.status
            if d.status != "failed"
            else f"[red]failed[/red]: {terminal_safe(d.error or '')}"
        )
        table.add_row(
            terminal_safe(d.doc_id),
            display(d.source),
            terminal_safe(d.title),
            str(d.n_chunks),
            state,
            terminal_safe(",".join(d.groups)),
        )
    out.print(table)


@docs_app.command("show")
def docs_show(
    doc_id: Annotated[str, typer.Argument(help="document id, or the path of an indexed file")],
    data_dir: DataDir = None,
    collection: CollectionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one document's manifest entry and chunks."""
    try:
        container = container_for(data_dir, collection)
        doc_id = _resolve(container, doc_id)
        doc = container.catalog.get_document(doc_id)
        chunks = container.catalog.chunks_of(doc_id)
        children = container.catalog.children_of(doc_id)
    except RagsteadError as exc:
        fail(exc)
    entry = {
        **doc.__dict__,
        "groups": list(doc.groups),
        "attachments": [c.doc_id for c in children],
        "chunk_ids": [c.id for c in chunks],
    }
    if as_json:
        entry["chunks"] = [
            {k: v for k, v in c.__dict__.items() if k != "groups"} | {"groups": list(c.groups)}
            for c in chunks
        ]
        sys.stdout.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return
    out.print_json(json.dumps(entry, ensure_ascii=False))
    for c in chunks:
        pages = "" if c.page is None else f" p.{c.page}"
        if c.page_end is not None and c.page is not None and c.page_end != c.page:
            pages += f"-{c.page_end}"
        heading = f"{terminal_safe(c.section)} ({terminal_safe(c.kinds)})"
        out.print(f"[bold]#{c.chunk_index}{pages}[/bold] {heading}", highlight=False)
        out.print(terminal_safe(c.text[:300], lines=True), highlight=False)


@docs_app.command("delete")
def docs_delete(
    doc_id: Annotated[str, typer.Argument(help="document id, or the path of an indexed file")],
    data_dir: DataDir = None,
    collection: CollectionOpt = None,
) -> None:
    """Remove a document (and its attachments) from the index."""
    try:
        container = container_for(data_dir, collection)
        started = time.perf_counter()
        removed = ingestor_for(container).delete(_resolve(container, doc_id))
    except RagsteadError as exc:
        fail(exc)
    for source in removed:
        out.print(f"deleted {display(source)}", highlight=False)
    err.print(f"({time.perf_counter() - started:.2f} s)", highlight=False)
