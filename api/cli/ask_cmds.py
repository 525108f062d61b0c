"""``ragstead ask`` and ``ragstead serve``: answer questions, serve the REST API."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer

from api.cli.common import (
    CollectionOpt,
    DataDir,
    JsonFlag,
    container_for,
    display,
    err,
    fail,
    out,
    printable,
    terminal_safe,
)
from rag.errors import RagsteadError
from rag.types import Answer

Mode = Annotated[
    str,
    typer.Option("--mode", "-m", help="generative (the model writes), extractive (no model), auto"),
]


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[
        int | None, typer.Option("--top-k", "-k", help="passages to retrieve (default 10)")
    ] = None,
    mode: Mode = "auto",
    stream: Annotated[
        bool, typer.Option("--stream", help="print the answer as it is written")
    ] = False,
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
    collection: CollectionOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question from the indexed documents, with numbered sources and a grounding check."""
    from rag.filters import Filters

    try:
        filters = Filters.parse(filter_) if filter_ else None
        answer_stream = container_for(data_dir, collection).assistant.stream(
            question, top_k=top_k, mode=mode, filters=filters
        )
        if stream and not as_json:
            for piece in answer_stream:
                sys.stdout.write(printable(piece, lines=True))
                sys.stdout.flush()
            sys.stdout.write("\n")
        answer = answer_stream.result()
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
        return
    if not stream:
        out.print(terminal_safe(answer.answer, lines=True), highlight=False)
    print_grounding(answer)


def print_grounding(answer: Answer) -> None:
    """Sources with their quotes, and the sentences the sources do not support."""
    if answer.removed_citations:
        removed = ", ".join(f"[{n}]" for n in answer.removed_citations)
        err.print(f"removed citations that point at no passage: {removed}", highlight=False)
    if answer.citations:
        out.print("\nSources:", style="bold")
    for c in answer.citations:
        where = f", page {c.page}" if c.page is not None else ""
        section = f" — {terminal_safe(c.section)}" if c.section else ""
        inferred = " (not cited by the model; supports the answer)" if c.inferred else ""
        out.print(f"  [{c.n}] {display(c.source)}{where}{section}{inferred}", highlight=False)
        if c.quote:
            out.print(f'      "{terminal_safe(c.quote)}"', style="dim", highlight=False)
    unsupported = [s for s in answer.sentences if not s.supported]
    if not answer.covered:
        return
    if unsupported:
        out.print("\nNot supported by the sources (check before relying on it):", style="yellow")
        for s in unsupported:
            out.print(f"  - {terminal_safe(s.text)}  ({terminal_safe(s.reason)})", highlight=False)
    else:
        out.print("\nGrounded: every sentence is supported by its sources.", style="green")


def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or $PORT)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the REST API (OpenAPI at /docs)."""
    import os

    import uvicorn

    from api.app import create_app
    from api.auth.identify import check_bind

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        container = container_for(data_dir)
    except RagsteadError as exc:
        fail(exc)
    s = container.settings.api
    if host:
        s.host = host  # the bound host is one the Host header may name
    bind_port = port or int(os.environ.get("PORT", s.port))
    try:
        check_bind(container.settings, s.host)
    except RagsteadError as exc:
        fail(exc)
    # auth.proxy trusts the connection's own address, never one an X-Forwarded-For names
    uvicorn.run(
        create_app(container),
        host=s.host,
        port=bind_port,
        log_level="info",
        proxy_headers=not container.settings.auth.proxy.enabled,
    )
