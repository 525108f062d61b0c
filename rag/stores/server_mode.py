"""Server mode: which stores are shared through servers, checked before anything opens.

``store.mode: server`` puts the catalog (manifest, chunk texts, the ingestion journal), the
lexical index and the ingestion lock in PostgreSQL (``store.postgres_url``), a schema per
collection, and the vectors in a ``chroma run`` server (``store.chroma_host``/``chroma_port``),
so API processes and ingestion workers on any number of hosts share one index. What stays in
each data directory is the host's own: API keys, upload jobs, registered sources, the model
cache.
"""

from __future__ import annotations

from rag.errors import ConfigurationError
from rag.settings import Settings
from rag.stores.catalog import Catalog
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


def server_schema(settings: Settings) -> str:
    """The PostgreSQL schema of this collection: named as its Chroma collection."""
    schema = settings.store.collection
    if settings.collection != "default":
        schema += f"_{settings.collection}"
    return schema


def server_catalog(settings: Settings, lexical: LexicalIndex | None = None) -> Catalog | None:
    """The catalog in PostgreSQL in server mode; None in embedded mode (the SQLite file)."""
    check_server_mode(settings)
    if settings.store.mode != "server":
        return None
    from rag.stores.postgres import PostgresDatabase

    assert settings.store.postgres_url is not None
    database = PostgresDatabase(settings.store.postgres_url, schema=server_schema(settings))
    return Catalog(database, lexical=lexical)


def drop_schema(settings: Settings) -> None:
    """Drop a collection's schema with every table in it (its catalog, keywords, journal)."""
    from psycopg import sql

    from rag.stores.postgres import PostgresDatabase

    assert settings.store.postgres_url is not None
    database = PostgresDatabase(settings.store.postgres_url)
    with database.transaction() as conn:
        conn.raw.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(server_schema(settings))
            )
        )
