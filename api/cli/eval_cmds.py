"""``ragstead eval ...``: measure retrieval and answer quality on labelled data."""

from __future__ import annotations

import typer

from api.cli import eval_retrieval

eval_app = typer.Typer(
    help="Measure retrieval and answer quality on labelled data.", no_args_is_help=True
)
eval_app.command("retrieval")(eval_retrieval.retrieval)
eval_app.command("qa")(eval_retrieval.qa)
