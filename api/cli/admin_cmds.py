"""``ragstead doctor``, ``backup`` and ``restore``: keep a data directory sound and safe."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import CollectionOpt, DataDir, JsonFlag, container_for, err, fail, out
from rag.errors import InvalidRequestError, RagsteadError
from rag.settings import Settings


def doctor(
    repair: Annotated[bool, typer.Option("--repair", help="make the stores agree")] = False,
    data_dir: DataDir = None,
    collection: CollectionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Check the installation and that the catalog, vectors and lexical index agree.

    Exit status 0 when all is well (or was repaired), 1 when something is wrong, 2 on an error.
    """
    from ingest.doctor import Doctor, installation

    try:
        container = container_for(data_dir, collection)
        setup = installation(container)
        doctor_ = Doctor(container)
        report = doctor_.repair() if repair else doctor_.check()
    except RagsteadError as exc:
        fail(exc)
    healthy = report.consistent and all(
        v.get("ok", True) for v in setup.values() if isinstance(v, dict) and "ok" in v
    )
    if as_json:
        sys.stdout.write(json.dumps({"installation": setup, "index": report.to_dict()}) + "\n")
    else:
        for name, value in setup.items():
            out.print(f"{name}: {value}", highlight=False)
        index = report.to_dict()
        out.print(
            f"index: {index['chunks']} chunks, {index['vectors']} vectors, "
            f"{index['lexical_rows']} lexical rows, journal {index['journal']}",
            highlight=False,
        )
        for key in ("missing_vectors", "orphan_vectors", "orphan_sentences"):
            if index[f"{key}_count"]:
                out.print(f"  {key}: {index[f'{key}_count']}", highlight=False)
        if index["lexical_mismatch"]:
            out.print("  the lexical index does not match the chunks", highlight=False)
        if report.repaired:
            out.print(f"repaired: {report.repaired}", highlight=False)
        out.print("ok" if healthy else "problems found (ragstead doctor --repair)", highlight=False)
    raise typer.Exit(0 if healthy else 1)


def _embedded_only(settings: Settings, what: str) -> None:
    """``backup`` and ``restore`` copy a data directory: in server mode the index is not there."""
    if settings.store.mode == "server":
        raise InvalidRequestError(
            f"ragstead {what} copies an embedded data directory; in server mode the catalog and"
            " keyword index are in PostgreSQL and the vectors in the Chroma server",
            hint="back up PostgreSQL with pg_dump and the Chroma server's --path folder"
            " together (docs/deployment.md, Backups)",
        )


def backup(
    dest: Annotated[Path, typer.Argument(help="a new folder for the copy")],
    data_dir: DataDir = None,
) -> None:
    """Copy a data directory consistently, also while the server runs (ingestion waits)."""
    from ingest.backup import backup as take
    from rag.settings import load_settings

    try:
        settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
        _embedded_only(settings, "backup")
        info = take(settings.data_dir, dest)
    except RagsteadError as exc:
        fail(exc)
    err.print(f"backed up {info['files']} files to {dest}", highlight=False)


def restore(
    source: Annotated[Path, typer.Argument(help="a folder made by `ragstead backup`")],
    force: Annotated[bool, typer.Option("--force", help="replace an existing index")] = False,
    data_dir: DataDir = None,
) -> None:
    """Bring a backup back into the data directory (stop the server first)."""
    from ingest.backup import restore as bring
    from rag.settings import load_settings

    try:
        settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
        _embedded_only(settings, "restore")
        info = bring(source, settings.data_dir, force=force)
    except RagsteadError as exc:
        fail(exc)
    err.print(f"restored {info['files']} files into {settings.data_dir}", highlight=False)
