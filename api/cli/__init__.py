"""The ``ragstead`` command: a thin layer over the same services the API calls."""

from __future__ import annotations

import typer

from api.cli import (
    admin_cmds,
    ask_cmds,
    audit_cmds,
    eval_cmds,
    ingest_cmds,
    keys_cmds,
    mcp_cmds,
    sources_cmds,
)

app = typer.Typer(
    help="Ragstead: ask questions of your own documents, offline.", no_args_is_help=True
)
app.command()(ingest_cmds.ingest)
app.command()(ingest_cmds.sync)
app.add_typer(ingest_cmds.docs_app, name="docs")
app.command()(ask_cmds.ask)
app.command()(ask_cmds.serve)
app.command()(mcp_cmds.mcp)
app.command()(admin_cmds.doctor)
app.command()(admin_cmds.backup)
app.command()(admin_cmds.restore)
app.add_typer(eval_cmds.eval_app, name="eval")
app.add_typer(keys_cmds.keys_app, name="keys")
app.add_typer(audit_cmds.audit_app, name="audit")
app.add_typer(sources_cmds.sources_app, name="sources")


def main() -> None:
    """Console-script entry point."""
    app()
