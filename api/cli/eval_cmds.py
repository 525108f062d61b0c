"""``ragstead eval ...``: measure retrieval and answers on labelled data."""

from __future__ import annotations

import typer

eval_app = typer.Typer(
    help="Measure retrieval and answer quality on labelled data.", no_args_is_help=True
)
