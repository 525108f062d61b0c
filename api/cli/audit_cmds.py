"""``ragstead audit tail``: the last lines of the audit log."""

from __future__ import annotations

import json
import sys
from collections import deque
from typing import Annotated

import typer

from api.cli.common import DataDir, JsonFlag, err, out, terminal_safe

audit_app = typer.Typer(help="Read the audit log.", no_args_is_help=True)


@audit_app.command("tail")
def tail(
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, max=100_000)] = 20,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the newest audit entries (JSON lines with --json)."""
    from rag.settings import load_settings

    overrides: dict[str, object] = {"data_dir": data_dir} if data_dir else {}
    path = load_settings(**overrides).audit_path
    if not path.is_file():
        err.print(f"no audit log at {terminal_safe(str(path))} yet", highlight=False)
        raise typer.Exit(0)
    with path.open(encoding="utf-8", errors="replace") as f:
        newest = deque(f, maxlen=lines)
    for line in newest:
        if as_json:
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
            continue
        try:
            e = json.loads(line)
        except ValueError:
            continue
        returned = len(e.get("chunks") or [])
        extra = f" change={e['change']} {e.get('document')}" if e.get("change") else ""
        out.print(
            terminal_safe(
                f"{e.get('time')} {e.get('principal')} {e.get('method')} {e.get('route')}"
                f" {e.get('status')} chunks={returned}{extra}"
            ),
            highlight=False,
        )
