"""Shared pieces of the ``ragstead`` command: consoles, options, error exit, the container."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

import rag.offline  # noqa: F401
from rag.errors import RagsteadError

out = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="data directory (default: $RAGSTEAD_DATA_DIR or ./.ragstead)"),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print JSON")]
CollectionOpt = Annotated[
    str | None,
    typer.Option("--collection", help="collection (default: $RAGSTEAD_COLLECTION or default)"),
]


#: what must not reach a terminal raw: C0 and C1 control characters (ESC starts the escape
#: sequences that retitle, recolour or clear a terminal), DEL, and bidirectional overrides.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNPRINTABLE_BUT_LINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with control characters shown as escapes (ESC as ``\\x1b``); ``lines`` keeps
    line breaks and tabs."""
    return (_UNPRINTABLE_BUT_LINES if lines else _UNPRINTABLE).sub(_escaped, text)


def terminal_safe(text: str, *, lines: bool = False) -> str:
    """Text from files, documents or errors as printed with rich: :func:`printable`, and
    ``[...]`` never read as markup."""
    return escape(printable(text, lines=lines))


def fail(exc: RagsteadError) -> NoReturn:
    """Print the error and its hint, exit with status 2."""
    err.print(f"[red]error:[/red] {terminal_safe(exc.message)}", highlight=False)
    if exc.hint:
        err.print(f"hint: {terminal_safe(exc.hint)}", highlight=False)
    raise typer.Exit(2)


def container_for(
    data_dir: Path | None, collection: str | None = None, *, create: bool = False
) -> Any:
    """The composition root for these settings (``--data-dir``, ``--collection``); a collection
    that does not exist is NotFoundError, unless ``create`` (ingestion) makes it."""
    from rag.collections import CollectionSet, check_name
    from rag.container import Container
    from rag.settings import load_settings, make_folder

    overrides: dict[str, object] = {"data_dir": data_dir} if data_dir else {}
    settings = load_settings(**overrides)
    name = check_name(collection or settings.collection)
    make_folder(settings.data_dir)  # every command writes there (index, server note, audit)
    base = Container(settings.for_collection("default"))
    collections = CollectionSet(base)
    if create and not collections.exists(name):
        collections.create(name)
    return collections.container(name)


def ingestor_for(container: Any) -> Any:
    """The Ingestor wired to a container."""
    from ingest.service import build_ingestor

    return build_ingestor(container)


def display(source: str) -> str:
    """A source path relative to the working directory where possible, safe to print."""
    try:
        return terminal_safe(str(Path(source).relative_to(Path.cwd())))
    except ValueError:
        return terminal_safe(source)
