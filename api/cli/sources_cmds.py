"""``ragstead sources``: folders the running server keeps in sync (``ingest.sources``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.common import CollectionOpt, DataDir, JsonFlag, container_for, fail, out, terminal_safe
from rag.errors import RagsteadError

if TYPE_CHECKING:
    from ingest.sources import SourceSyncer

sources_app = typer.Typer(
    help="Folders the server keeps in sync (on a schedule and on file changes).",
    no_args_is_help=True,
)


def _syncer(data_dir: Path | None) -> SourceSyncer:
    """The data directory's sources, syncing into its collections (as the server does)."""
    from ingest.sources import SourceSyncer
    from rag.collections import CollectionSet

    return SourceSyncer.for_collections(CollectionSet(container_for(data_dir)))


def _when(moment: float | None) -> str:
    return "-" if moment is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(moment))


@sources_app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="a folder (a mounted share is a folder)")],
    collection: CollectionOpt = None,
    groups: Annotated[
        str | None, typer.Option("--groups", help="access groups, comma-separated")
    ] = None,
    every: Annotated[str, typer.Option("--every", help="interval: 30s, 15m, 1h, 1d")] = "15m",
    now: Annotated[bool, typer.Option("--now/--later", help="sync it at once")] = True,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a folder; a running `ragstead serve` keeps it in sync."""
    from ingest.sources import parse_every

    try:
        name = container_for(data_dir, collection, create=True).settings.collection
        syncer = _syncer(data_dir)
        source = syncer.store.add(
            path,
            collection=name,
            groups=[g.strip() for g in (groups or "").split(",") if g.strip()],
            every_s=parse_every(every),
        )
        if now:
            source = syncer.run(source)
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(source.to_dict()) + "\n")
        return
    out.print(f"source {source.id}: {terminal_safe(source.path)} every {every}", highlight=False)
    if source.last_error:
        out.print(f"[red]last sync failed:[/red] {terminal_safe(source.last_error)}")
    elif source.last_counts:
        out.print(f"synced: {source.last_counts}", highlight=False)


@sources_app.command("list")
def list_sources(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """The sources, their interval and how their last sync went (failures included)."""
    try:
        syncer = _syncer(data_dir)
        sources = syncer.store.list()
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps([s.to_dict() for s in sources]) + "\n")
        return
    table = Table("id", "folder", "collection", "every", "last run", "result")
    for s in sources:
        result = (
            f"[red]failed: {terminal_safe(s.last_error)}[/red]"
            if s.last_error
            else ("ok " + ", ".join(f"{k} {v}" for k, v in s.last_counts.items() if v))
            if s.last_run_at
            else "not run yet"
        )
        table.add_row(s.id, terminal_safe(s.path), s.collection, f"{s.every_s} s",
                      _when(s.last_run_at), result)  # fmt: skip
    out.print(table)


@sources_app.command("remove")
def remove(
    source: Annotated[str, typer.Argument(help="the source's id or folder")],
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Forget a source and remove its documents from the index."""
    try:
        syncer = _syncer(data_dir)
        removed, documents = syncer.remove(source)
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps({"removed": removed.to_dict(), "documents": documents}) + "\n")
        return
    out.print(f"removed {terminal_safe(removed.path)} and its {documents} document(s)")
