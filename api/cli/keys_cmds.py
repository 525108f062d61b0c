"""``ragstead keys``: create, list and revoke API keys (stored hashed in the data directory)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli.common import DataDir, JsonFlag, err, fail, out
from rag.errors import RagsteadError

if TYPE_CHECKING:
    from api.auth.keys import KeyStore

keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


def _store(data_dir: Path | None) -> KeyStore:
    from api.auth.keys import KeyStore
    from rag.settings import load_settings

    overrides: dict[str, object] = {"data_dir": data_dir} if data_dir else {}
    return KeyStore(load_settings(**overrides).auth_path)


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v.strip()]


def _when(moment: float | None) -> str | None:
    return None if moment is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="a name for the key (unique)")],
    groups: Annotated[
        str | None, typer.Option("--groups", help="access groups, comma-separated")
    ] = None,
    scopes: Annotated[str, typer.Option("--scopes", help="read, write, admin")] = "read",
    collections: Annotated[
        str | None, typer.Option("--collections", help="collections it may use (default: all)")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="lifetime, e.g. 90d, 12h (default: none)")
    ] = None,
    output_file: Annotated[
        Path | None,
        typer.Option("--output-file", help="write the key to this file (mode 600), not stdout"),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a key. It is shown once: only its hash is stored."""
    from api.auth.keys import parse_duration

    try:
        created = _store(data_dir).create(
            name,
            groups=_split(groups),
            scopes=_split(scopes),
            collections=_split(collections) if collections is not None else None,
            expires_in=parse_duration(expires) if expires else None,
        )
    except RagsteadError as exc:
        fail(exc)
    assert created.key is not None
    if output_file is not None:
        output_file.parent.mkdir(parents=True, exist_ok=True)
        output_file.touch(mode=0o600)
        output_file.chmod(0o600)
        output_file.write_text(created.key + "\n")
    shown = created.key if output_file is None else f"written to {output_file}"
    if as_json:
        body = {
            "name": created.name,
            "key": created.key if output_file is None else None,
            "groups": created.groups,
            "scopes": created.scopes,
            "collections": created.collections,
            "expires": _when(created.expires),
        }
        sys.stdout.write(json.dumps(body) + "\n")
        return
    out.print(f"key {created.name}: {shown}", highlight=False)
    err.print("keep it now: it is not stored and cannot be shown again", highlight=False)


@keys_app.command("list")
def list_keys(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """List keys (names, groups, scopes, status; never the secret)."""
    try:
        keys = _store(data_dir).list()
    except RagsteadError as exc:
        fail(exc)
    rows = [
        {
            "name": k.name,
            "groups": k.groups,
            "scopes": k.scopes,
            "collections": k.collections,
            "created": _when(k.created),
            "expires": _when(k.expires),
            "status": k.status,
        }
        for k in keys
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table("name", "groups", "scopes", "collections", "expires", "status")
    for r in rows:
        table.add_row(
            str(r["name"]),
            ",".join(r["groups"] or []),  # type: ignore[arg-type]
            ",".join(r["scopes"] or []),  # type: ignore[arg-type]
            "all" if r["collections"] is None else ",".join(r["collections"]),  # type: ignore[arg-type]
            str(r["expires"] or "never"),
            str(r["status"]),
        )
    out.print(table)


@keys_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="the key's name")], data_dir: DataDir = None
) -> None:
    """Revoke a key: requests with it fail from now on."""
    try:
        _store(data_dir).revoke(name)
    except RagsteadError as exc:
        fail(exc)
    out.print(f"revoked {name}", highlight=False)
