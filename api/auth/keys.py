"""API keys: random tokens shown once, stored hashed, compared in constant time.

A key reads ``rsk_<id>_<secret>``; the store keeps the id, the SHA-256 of the secret (a
256-bit random secret needs no slow hash), the name, groups, scopes, collections and expiry in
``auth.sqlite3`` in the data directory. Revoked keys stay listed as revoked.

Example::

    store = KeyStore(data_dir / "auth.sqlite3")
    created = store.create("hr-bot", groups=["hr"], scopes=["read"])
    principal = store.authenticate(created.key)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from api.auth.principal import SCOPES, Principal
from rag.errors import AuthenticationError, InvalidRequestError, NotFoundError
from rag.stores.sqlite import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL,
    groups TEXT NOT NULL DEFAULT '[]',
    scopes TEXT NOT NULL DEFAULT '["read"]',
    collections TEXT,
    created REAL NOT NULL,
    expires REAL,
    revoked REAL
);
"""
_KEY = re.compile(r"rsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DURATION = re.compile(r"(\d+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds in ``90d``, ``12h``, ``30m``, ``2w`` or ``45s``."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise InvalidRequestError(f"not a duration: {text!r}", hint="e.g. 90d, 12h, 30m, 2w")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class ApiKey:
    """One key as listed (never its secret)."""

    name: str
    key_id: str
    groups: list[str]
    scopes: list[str]
    collections: list[str] | None
    created: float
    expires: float | None = None
    revoked: float | None = None
    #: the whole key, only when just created.
    key: str | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= time.time():
            return "expired"
        return "active"


def _names(values: list[str] | tuple[str, ...], what: str) -> list[str]:
    out = sorted({v.strip() for v in values if v.strip()})
    for v in out:
        if not _NAME.fullmatch(v):
            raise InvalidRequestError(
                f"bad {what} name {v!r}", hint="letters, digits, '.', '_', '@' and '-'"
            )
    return out


class KeyStore:
    """The API keys of one data directory."""

    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path)
        self.db.connect().executescript(_SCHEMA)
        path.chmod(0o600)

    def create(
        self,
        name: str,
        *,
        groups: list[str] | tuple[str, ...] = (),
        scopes: list[str] | tuple[str, ...] = ("read",),
        collections: list[str] | tuple[str, ...] | None = None,
        expires_in: float | None = None,
    ) -> ApiKey:
        """A new key; its ``key`` field is the only time the secret is seen."""
        if not _NAME.fullmatch(name):
            raise InvalidRequestError(
                f"bad key name {name!r}", hint="letters, digits, '.', '_', '@' and '-'"
            )
        scope_list = _names(list(scopes), "scope")
        unknown = set(scope_list) - set(SCOPES)
        if unknown or not scope_list:
            raise InvalidRequestError(
                f"unknown scopes {sorted(unknown)}" if unknown else "a key needs a scope",
                hint=f"use {', '.join(SCOPES)}",
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = time.time()
        record = ApiKey(
            name=name,
            key_id=key_id,
            groups=_names(list(groups), "group"),
            scopes=scope_list,
            collections=None if collections is None else _names(list(collections), "collection"),
            created=now,
            expires=now + expires_in if expires_in else None,
            key=f"rsk_{key_id}_{secret}",
        )
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM api_keys WHERE name=?", (name,)).fetchone():
                raise InvalidRequestError(
                    f"a key named {name!r} exists", hint="revoke it first, or pick another name"
                )
            conn.execute(
                "INSERT INTO api_keys VALUES (?,?,?,?,?,?,?,?,NULL)",
                (
                    key_id,
                    name,
                    _hash(secret),
                    json.dumps(record.groups),
                    json.dumps(record.scopes),
                    None if record.collections is None else json.dumps(record.collections),
                    now,
                    record.expires,
                ),
            )
        return record

    def list(self) -> list[ApiKey]:
        """Every key, by name (secrets are never stored, so never shown)."""
        rows = self.db.connect().execute("SELECT * FROM api_keys ORDER BY name").fetchall()
        return [
            ApiKey(
                name=r["name"],
                key_id=r["key_id"],
                groups=json.loads(r["groups"]),
                scopes=json.loads(r["scopes"]),
                collections=None if r["collections"] is None else json.loads(r["collections"]),
                created=r["created"],
                expires=r["expires"],
                revoked=r["revoked"],
            )
            for r in rows
        ]

    def revoke(self, name: str) -> None:
        """Revoke the key called ``name``: it stops working at once."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked=? WHERE name=? AND revoked IS NULL",
                (time.time(), name),
            )
            if cur.rowcount == 0:
                raise NotFoundError(
                    f"no active key named {name!r}", hint="see `ragstead keys list`"
                )

    def authenticate(self, token: str) -> Principal:
        """The principal of a key; AuthenticationError for anything else (same message for an
        unknown, wrong, revoked or expired key, so a guesser learns nothing)."""
        denied = AuthenticationError("invalid API key", hint="check the key or ask for a new one")
        match = _KEY.fullmatch(token)
        if not match:
            raise denied
        key_id, secret = match.groups()
        row = (
            self.db.connect().execute("SELECT * FROM api_keys WHERE key_id=?", (key_id,)).fetchone()
        )
        stored = row["secret_sha256"] if row is not None else _hash("")
        if not hmac.compare_digest(_hash(secret), stored) or row is None:
            raise denied
        if row["revoked"] is not None or (
            row["expires"] is not None and row["expires"] <= time.time()
        ):
            raise denied
        collections = row["collections"]
        return Principal(
            name=row["name"],
            groups=frozenset(json.loads(row["groups"])),
            scopes=frozenset(json.loads(row["scopes"])),
            collections=None if collections is None else frozenset(json.loads(collections)),
            kind="key",
        )
