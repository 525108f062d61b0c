"""``ragstead ask`` and ``ragstead serve``: answer questions, serve the REST API."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer

from api.cli.common import DataDir, JsonFlag, container_for, display, fail, out
from rag.errors import RagsteadError


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="passages to retrieve")] = 5,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            help="key=value, repeatable: source (glob), type, section, after, before, tag, "
            "group (group= alone: unrestricted documents only)",
        ),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the indexed documents, with numbered sources."""
    from rag.filters import Filters

    try:
        filters = Filters.parse(filter_) if filter_ else None
        answer = container_for(data_dir).assistant.ask(question, top_k=top_k, filters=filters)
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
        return
    out.print(answer.answer, highlight=False)
    if answer.citations:
        out.print("\nSources:", style="bold")
    for c in answer.citations:
        where = f", page {c.page}" if c.page is not None else ""
        section = f" — {c.section}" if c.section else ""
        out.print(f"  [{c.n}] {display(c.source)}{where}{section}", highlight=False)


def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or $PORT)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs)."""
    import os

    import uvicorn

    from api.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        container = container_for(data_dir)
    except RagsteadError as exc:
        fail(exc)
    s = container.settings.api
    bind_port = port or int(os.environ.get("PORT", s.port))
    uvicorn.run(create_app(container), host=host or s.host, port=bind_port, log_level="info")
