"""The database a catalog lives in: one SQLite file, or a schema in PostgreSQL (server mode).

``SqliteDatabase`` (``rag.stores.sqlite``) and ``PostgresDatabase`` (``rag.stores.postgres``)
answer the same calls, so the catalog, the manifest and the journal run one body of SQL, written
with ``?`` placeholders, on either. The few places the dialects differ (source globs, group
lists, schema scripts, the ingestion lock) are methods here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class SqlConnection(Protocol):
    """A connection that runs ``?``-style SQL; rows read by position or column name."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


class Database(Protocol):
    """Where the catalog's tables are, and how to reach them."""

    Error: type[Exception]

    @property
    def where(self) -> str: ...

    def connect(self) -> Any: ...

    def transaction(self) -> AbstractContextManager[Any]: ...

    def schema_script(self, script: str) -> None: ...

    def ingest_lock(self, *, wait: bool = False) -> AbstractContextManager[object]: ...

    def groups_sql(
        self, groups: frozenset[str], column: str = "groups"
    ) -> tuple[str, list[Any]]: ...

    def source_sql(self, pattern: str, column: str = "source") -> tuple[str, list[Any]]: ...
