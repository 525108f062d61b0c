"""Shared pieces of the ``ragstead`` command: consoles, options, error exit, the container."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

import rag.offline  # noqa: F401
from rag.errors import RagsteadError

out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="data directory (default: $RAGSTEAD_DATA_DIR or ./.ragstead)"),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON")]


def fail(exc: RagsteadError) -> NoReturn:
    """Print the error and its hint, exit with status 2."""
    err.print(f"[red]error:[/red] {exc.message}", highlight=False)
    if exc.hint:
        err.print(f"hint: {exc.hint}", highlight=False)
    raise typer.Exit(2)


def container_for(data_dir: Path | None) -> Any:
    """The composition root for these settings (and ``--data-dir``)."""
    from rag.container import Container
    from rag.settings import load_settings

    overrides: dict[str, object] = {"data_dir": data_dir} if data_dir else {}
    return Container(load_settings(**overrides))


def ingestor_for(container: Any) -> Any:
    """The Ingestor wired to a container."""
    from ingest.service import build_ingestor

    return build_ingestor(container)


def display(source: str) -> str:
    """A source path relative to the working directory where possible."""
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source
