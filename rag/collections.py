"""Collections: named, isolated indexes in one data directory, sharing the loaded models.

``default`` is the data directory itself (so an index made before collections existed is the
default collection); any other lives in ``collections/<name>/`` with its own catalog, lexical
index and vectors (a Chroma collection of its own on a Chroma server). Documents, searches and
answers never cross collections.

In server mode every host sees the same collections: each has a PostgreSQL schema for its
catalog, and the list is the ``collections`` table in the default collection's schema (owned
here), not the folders of one host's data directory.

Example::

    collections = CollectionSet(container)
    collections.create("legal")
    answer = collections.container("legal").assistant.ask("What is the notice period?")
"""

from __future__ import annotations

import re
import shutil
import threading

from rag.container import Container
from rag.errors import InvalidRequestError, NotFoundError
from rag.settings import COLLECTION_NAME
from rag.stores.database import Database

DEFAULT = "default"
_SHARED_SCHEMA = "CREATE TABLE IF NOT EXISTS collections (name text PRIMARY KEY)"


def check_name(name: str) -> str:
    """``name`` if it is a valid collection name; InvalidRequestError otherwise."""
    if not re.fullmatch(COLLECTION_NAME, name or ""):
        raise InvalidRequestError(
            f"bad collection name {name!r}",
            hint="lower-case letters, digits, '-' and '_' (at most 48), first a letter or digit",
        )
    return name


class CollectionSet:
    """The collections of one data directory, each with its container (built once)."""

    def __init__(self, base: Container) -> None:
        self.base = base
        self.root = base.settings.data_dir / "collections"
        self._containers: dict[str, Container] = {DEFAULT: base}
        self._lock = threading.Lock()
        self._shared: Database | None = None
        if base.settings.store.mode == "server":
            self._shared = base.catalog.db
            self._shared.schema_script(_SHARED_SCHEMA)

    def names(self) -> list[str]:
        """Every collection, ``default`` first."""
        if self._shared is not None:
            sql = "SELECT name FROM collections ORDER BY name"
            return [DEFAULT, *(r[0] for r in self._shared.connect().execute(sql))]
        others = (
            sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        )
        return [DEFAULT, *others]

    def exists(self, name: str) -> bool:
        """Whether the collection exists."""
        if name == DEFAULT:
            return True
        check_name(name)
        if self._shared is not None:
            sql = "SELECT 1 FROM collections WHERE name=?"
            return self._shared.connect().execute(sql, (name,)).fetchone() is not None
        return (self.root / name).is_dir()

    def container(self, name: str = DEFAULT) -> Container:
        """The container of an existing collection (NotFoundError otherwise)."""
        if not self.exists(name):
            raise NotFoundError(f"no collection {name!r}", hint="GET /v1/collections lists them")
        with self._lock:
            if name not in self._containers:
                base = self.base
                self._containers[name] = Container(
                    base.settings.for_collection(name),
                    embedder=base.embedder,
                    generator=base.generator,
                )
            return self._containers[name]

    def create(self, name: str) -> None:
        """A new, empty collection; InvalidRequestError if it exists."""
        if self.exists(check_name(name)):
            raise InvalidRequestError(f"collection {name!r} exists")
        if self._shared is not None:
            with self._shared.transaction() as conn:
                conn.execute(
                    "INSERT INTO collections (name) VALUES (?) ON CONFLICT DO NOTHING", (name,)
                )
            return
        (self.root / name).mkdir(parents=True)

    def delete(self, name: str) -> None:
        """Remove a collection with everything indexed in it (not ``default``)."""
        if name == DEFAULT:
            raise InvalidRequestError("the default collection cannot be deleted")
        container = self.container(name)
        container.vector_store.drop()
        with self._lock:
            self._containers.pop(name, None)
        if self._shared is not None:
            from rag.stores.server_mode import drop_schema

            drop_schema(container.settings)
            with self._shared.transaction() as conn:
                conn.execute("DELETE FROM collections WHERE name=?", (name,))
        shutil.rmtree(self.root / name, ignore_errors=self._shared is not None)
