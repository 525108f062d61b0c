"""Server mode: which stores are shared through servers, checked before anything opens.

``store.mode: server`` puts the lexical index in PostgreSQL (``store.postgres_url``) and the
vectors in a ``chroma run`` server (``store.chroma_host``/``chroma_port``), so several API
processes and ingestion workers share them. The catalog (manifest and chunk texts) stays in
SQLite in the data directory: processes on one host share it through the file; processes on
several hosts need the catalog in PostgreSQL too (planned; a network file system under the
SQLite file is not a way round it, docs/deployment.md).
"""

from __future__ import annotations

from rag.errors import ConfigurationError
from rag.settings import Settings
from rag.stores.lexical_index import LexicalIndex


def check_server_mode(settings: Settings) -> None:
    """Raise a clear error where server mode lacks the address of one of its servers."""
    s = settings.store
    if s.mode != "server":
        return
    missing = [
        name
        for name, value in (
            ("store.postgres_url", s.postgres_url),
            ("store.chroma_host", s.chroma_host),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(
            f"store.mode is server but {' and '.join(missing)} is not set"
            " (RAGSTEAD_STORE__POSTGRES_URL, RAGSTEAD_STORE__CHROMA_HOST)"
        )


def server_lexical_index(settings: Settings) -> LexicalIndex | None:
    """The PostgreSQL lexical index in server mode; None in embedded mode (SQLite FTS5)."""
    check_server_mode(settings)
    if settings.store.mode != "server":
        return None
    from rag.stores.pg_lexical_index import PostgresLexicalIndex

    s = settings.store
    assert s.postgres_url is not None
    table = f"{s.collection}_lexical"  # a table per collection, named as its Chroma collection
    if settings.collection != "default":
        table += f"_{settings.collection}"
    return PostgresLexicalIndex(s.postgres_url, table=table)
