"""The ``VectorStore`` seam and its Chroma implementation.

A vector store holds one embedding per chunk id, with flat metadata for filtering. Chunk texts
and the document manifest live in the SQLite catalog beside it; the catalog decides which chunk
ids are live, so a dense hit whose id the catalog no longer knows is ignored.

Example::

    store = ChromaStore.local(data_dir / "chroma", collection="ragstead")
    store.upsert(["c1"], vectors, [{"doc_id": "d1"}])
    hits = store.query(vectors[0], k=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import rag.offline  # noqa: F401
from rag.errors import ConfigurationError, StoreError

Where = dict[str, Any]


class VectorStore(Protocol):
    """Stores vectors by chunk id; nearest-neighbour search with metadata filters."""

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        """Insert or replace vectors."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by id (unknown ids are ignored)."""
        ...

    def query(
        self, vector: np.ndarray, k: int, where: Where | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest ids (cosine similarity, best first) among those matching ``where``."""
        ...

    def count(self) -> int:
        """Number of vectors stored."""
        ...

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``ids`` (unknown ids are left out)."""
        ...


class ChromaStore:
    """Chroma: ``PersistentClient`` in the data directory, or a ``chroma run`` server."""

    _BATCH = 4000

    def __init__(self, client: Any, collection: str) -> None:
        self._client = client
        self._name = collection
        self._collection: Any = None

    @classmethod
    def local(cls, path: Path, collection: str = "ragstead") -> ChromaStore:
        """A store in local files (telemetry off)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        try:
            client = chromadb.PersistentClient(
                path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
            )
        except Exception as exc:  # chroma raises many types for a bad directory
            raise StoreError(f"cannot open Chroma at {path}: {exc}") from exc
        return cls(client, collection)

    @classmethod
    def server(cls, host: str, port: int, collection: str = "ragstead") -> ChromaStore:
        """A store on a Chroma server on the premises (telemetry off)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            client = chromadb.HttpClient(
                host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
            )
        except Exception as exc:
            raise ConfigurationError(
                f"cannot reach the Chroma server at {host}:{port}: {exc}",
                hint="start it with `chroma run` or fix store.chroma_host/chroma_port",
            ) from exc
        return cls(client, collection)

    @property
    def collection(self) -> Any:
        """The Chroma collection (created on first use, cosine space)."""
        if self._collection is None:
            try:
                self._collection = self._client.get_or_create_collection(
                    self._name, metadata={"hnsw:space": "cosine"}
                )
            except Exception as exc:
                raise StoreError(f"cannot open Chroma collection {self._name}: {exc}") from exc
        return self._collection

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]
    ) -> None:
        """Insert or replace vectors, in batches Chroma accepts."""
        try:
            for start in range(0, len(ids), self._BATCH):
                end = start + self._BATCH
                self.collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=vectors[start:end].tolist(),
                    metadatas=list(metadatas[start:end]),
                )
        except Exception as exc:
            raise StoreError(f"Chroma upsert failed: {exc}") from exc

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by id."""
        try:
            for start in range(0, len(ids), self._BATCH):
                self.collection.delete(ids=list(ids[start : start + self._BATCH]))
        except Exception as exc:
            raise StoreError(f"Chroma delete failed: {exc}") from exc

    def query(
        self, vector: np.ndarray, k: int, where: Where | None = None
    ) -> list[tuple[str, float]]:
        """Nearest ids with cosine similarity (1 - distance), best first."""
        n = self.count()
        if n == 0:
            return []
        try:
            result = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(k, n),
                where=where or None,
                include=["distances"],
            )
        except Exception as exc:
            raise StoreError(f"Chroma query failed: {exc}") from exc
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def count(self) -> int:
        """Number of vectors stored."""
        try:
            return int(self.collection.count())
        except Exception as exc:
            raise StoreError(f"Chroma count failed: {exc}") from exc

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (ids not stored are left out), to reuse without re-embedding."""
        found: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(ids), self._BATCH):
                page = self.collection.get(
                    ids=list(ids[start : start + self._BATCH]), include=["embeddings"]
                )
                for cid, vector in zip(page["ids"], page["embeddings"], strict=True):
                    found[cid] = np.asarray(vector, dtype=np.float32)
        except Exception as exc:
            raise StoreError(f"Chroma get failed: {exc}") from exc
        return found

    def all_ids(self) -> set[str]:
        """Every id stored (for consistency checks after an interrupted run)."""
        ids: set[str] = set()
        offset = 0
        while True:
            page = self.collection.get(include=[], limit=self._BATCH, offset=offset)
            ids.update(page["ids"])
            if len(page["ids"]) < self._BATCH:
                return ids
            offset += self._BATCH
