"""``ragstead ask`` and ``ragstead serve``: answer questions, serve the REST API."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

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
    terminal_safe,
)
from rag.errors import AuthenticationError, ConfigurationError, RagsteadError
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
    local: Annotated[
        bool,
        typer.Option("--local", help="answer in this process even if `ragstead serve` runs"),
    ] = False,
) -> None:
    """Answer a question from the indexed documents, with numbered sources and a grounding check.

    A ``ragstead serve`` running on the same data directory answers it (no model loads here);
    ``--local``, ``--stream`` and ``--filter`` answer in this process."""
    try:
        served = (
            None
            if (local or stream or filter_)
            else _served(question, top_k, mode, data_dir, collection)
        )
        answer = served or _answer_here(
            question, top_k, mode, stream, filter_, data_dir, collection, as_json
        )
    except RagsteadError as exc:
        fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
        return
    if not stream:
        out.print(terminal_safe(answer.answer, lines=True), highlight=False)
    print_grounding(answer)


def _served(
    question: str, top_k: int | None, mode: str, data_dir: Path | None, collection: str | None
) -> Answer | None:
    """The answer of a running server on this data directory, or None when none runs."""
    from api.cli.running_server import ask_server, running_server
    from rag.settings import load_settings

    settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
    url = running_server(settings.data_dir)
    if url is None:
        return None
    body = {"question": question, "top_k": top_k, "mode": mode}
    if collection:
        body["collection"] = collection
    try:
        answer = ask_server(url, body)
    except AuthenticationError:  # no RAGSTEAD_API_KEY for it: answer here
        return None
    err.print(f"(answered by the server at {url}; --local to answer here)", style="dim")
    return answer


def _answer_here(
    question: str,
    top_k: int | None,
    mode: str,
    stream: bool,
    filter_: list[str] | None,
    data_dir: Path | None,
    collection: str | None,
    as_json: bool,
) -> Answer:
    """The answer from this process's own container (loads the models)."""
    from rag.filters import Filters

    filters = Filters.parse(filter_) if filter_ else None
    answer_stream = container_for(data_dir, collection).assistant.stream(
        question, top_k=top_k, mode=mode, filters=filters
    )
    if stream and not as_json:
        for piece in answer_stream:
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    return answer_stream.result()


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
    off_question = [s for s in answer.sentences if s.supported and not s.addresses]
    if not answer.covered:
        reason = answer.answerability.get("reason")
        if reason:
            out.print(f"({terminal_safe(str(reason))})", style="dim", highlight=False)
        return
    if unsupported:
        out.print("\nNot supported by the sources (check before relying on it):", style="yellow")
        for s in unsupported:
            out.print(f"  - {terminal_safe(s.text)}  ({terminal_safe(s.reason)})", highlight=False)
    if off_question:
        out.print("\nSupported, but not an answer to the question:", style="yellow")
        for s in off_question:
            out.print(f"  - {terminal_safe(s.text)}  ({terminal_safe(s.reason)})", highlight=False)
    if not unsupported and not off_question:
        out.print(
            "\nGrounded: every sentence is supported and answers the question.", style="green"
        )


def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or $PORT)")] = None,
    data_dir: DataDir = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="server processes; more than 1 needs server mode (store.chroma_host)",
        ),
    ] = 1,
) -> None:
    """Serve the REST API (OpenAPI at /docs)."""
    import os

    import uvicorn

    from api.app import create_app
    from api.auth.identify import check_bind
    from api.cli.running_server import noted_server
    from api.request_log import configure_logging
    from api.serve_lock import serve_lock

    try:
        container = container_for(data_dir)
    except RagsteadError as exc:
        fail(exc)
    configure_logging(container.settings.api.log_format)
    s = container.settings.api
    if host:
        s.host = host  # the bound host is one the Host header may name
    bind_port = port or int(os.environ.get("PORT", s.port))
    try:
        check_bind(container.settings, s.host)
    except RagsteadError as exc:
        fail(exc)
    vectors_on_server = bool(container.settings.store.chroma_host)
    if workers > 1 and not vectors_on_server:
        fail(
            ConfigurationError(
                f"--workers {workers} needs server mode: the embedded stores (SQLite and Chroma's"
                " local files) take one server process",
                hint="serve with one worker (it answers requests on a thread pool), or point"
                " store.chroma_host at a `chroma run` server",
            )
        )
    options: dict[str, Any] = {
        "host": s.host,
        "port": bind_port,
        "log_level": "info",
        "log_config": None,  # uvicorn's loggers go through configure_logging's handler
        "access_log": False,  # api.request_log writes one line per request, with its id
        # auth.proxy trusts the connection's own address, never one an X-Forwarded-For names
        "proxy_headers": not container.settings.auth.proxy.enabled,
    }
    data_dir_lock = serve_lock(container.settings.data_dir)
    lock = contextlib.nullcontext() if vectors_on_server else data_dir_lock
    try:
        with lock, noted_server(container.settings.data_dir, s.host, bind_port):
            if workers > 1:  # each worker process builds its app from the same settings
                os.environ["RAGSTEAD_DATA_DIR"] = str(container.settings.data_dir)
                os.environ["RAGSTEAD_API__HOST"] = s.host
                uvicorn.run("api.app:create_app", factory=True, workers=workers, **options)
            else:
                uvicorn.run(create_app(container), **options)
    except RagsteadError as exc:
        fail(exc)
