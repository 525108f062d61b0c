"""``ragstead keys``: create (shown once, --json shape), list (never the secret), revoke."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.auth.keys import KeyStore
from api.cli import app
from rag.errors import AuthenticationError

runner = CliRunner()


def test_create_list_revoke(tmp_path: Path) -> None:
    base = ["--data-dir", str(tmp_path)]
    made = runner.invoke(
        app,
        ["keys", "create", "--name", "hr-bot", "--groups", "hr,finance", "--scopes",
         "read,write", "--expires", "90d", "--json", *base],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    body = json.loads(made.stdout)
    assert set(body) == {"name", "key", "groups", "scopes", "collections", "expires"}
    assert body["groups"] == ["finance", "hr"] and body["scopes"] == ["read", "write"]
    assert body["collections"] is None and body["expires"].endswith("Z")
    store = KeyStore(tmp_path / "auth.sqlite3")
    assert store.authenticate(body["key"]).groups == {"hr", "finance"}

    listed = runner.invoke(app, ["keys", "list", "--json", *base])
    assert listed.exit_code == 0 and body["key"] not in listed.stdout
    assert json.loads(listed.stdout)[0]["status"] == "active"
    assert body["key"].split("_")[-1] not in (tmp_path / "auth.sqlite3").read_bytes().decode(
        "latin-1"
    )  # only the hash is stored

    again = runner.invoke(app, ["keys", "create", "--name", "hr-bot", *base])
    assert again.exit_code == 2 and "exists" in again.output
    bad = runner.invoke(app, ["keys", "create", "--name", "x", "--scopes", "root", *base])
    assert bad.exit_code == 2 and "unknown scopes" in bad.output

    assert runner.invoke(app, ["keys", "revoke", "hr-bot", *base]).exit_code == 0
    try:
        store.authenticate(body["key"])
    except AuthenticationError:
        pass
    else:
        raise AssertionError("a revoked key still works")
    assert runner.invoke(app, ["keys", "revoke", "hr-bot", *base]).exit_code == 2


def test_a_key_written_to_a_file_is_private(tmp_path: Path) -> None:
    target = tmp_path / "admin.key"
    r = runner.invoke(
        app,
        ["keys", "create", "--name", "admin", "--scopes", "admin", "--output-file", str(target),
         "--data-dir", str(tmp_path / "data")],
    )  # fmt: skip
    assert r.exit_code == 0 and str(target) in r.stdout
    assert target.stat().st_mode & 0o077 == 0
    assert target.read_text().startswith("rsk_") and target.read_text().strip() not in r.stdout
