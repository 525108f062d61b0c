"""The ``VectorStore`` seam and its Chroma implementation.

A vector store holds one embedding per chunk id, with flat metadata for filtering, and
optionally "parts": one vector per sentence of the chunk (``rag.chunk_vectors``), found with
``query_parts`` and removed with their chunk. Chunk texts and the document manifest live in the
catalog beside it; the catalog decides which chunk ids are live, so a dense hit whose id the
catalog no longer knows is ignored. Searches take Ragstead's ``Filters`` and translate them
into the store's own dialect (here a Chroma ``where``); ``Filters.source`` reaches a store
resolved into ``doc_ids`` (the retriever does that with the catalog).

Example::

    store = ChromaStore.local(data_dir / "chroma", collection="ragstead")
    store.upsert(["c1"], vectors, [chunk.metadata()])
    hits = store.query(vectors[0], k=5, filters=Filters(doc_types=("pdf",)))
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np

import rag.offline  # noqa: F401
from rag.errors import ConfigurationError, StoreError
from rag.filters import Filters, section_path
from rag.stores.freshness import Freshness
from rag.stores.registry import register_vector_store

if TYPE_CHECKING:
    from rag.settings import Settings


@runtime_checkable
class VectorStore(Protocol):
    """Stores vectors by chunk id; nearest-neighbour search inside ``Filters``."""

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        parts: Sequence[np.ndarray] | None = None,
    ) -> None:
        """Insert or replace vectors; ``parts[i]`` holds the sentence vectors of ``ids[i]``."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors and their parts by chunk id (unknown ids are ignored)."""
        ...

    def query(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest ids (cosine similarity, best first) among those ``filters`` allow."""
        ...

    def query_parts(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Up to ``k`` chunk ids by their best sentence's cosine similarity, best first."""
        ...

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``ids`` (unknown ids are left out)."""
        ...

    def get_parts(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored sentence vectors of ``ids`` (chunks without any are left out)."""
        ...

    def count(self) -> int:
        """Number of chunk vectors stored."""
        ...

    def all_ids(self) -> set[str]:
        """Every chunk id stored (for consistency checks)."""
        ...

    def drop(self) -> None:
        """Delete everything this store holds (its collection is being removed)."""
        ...

    def part_chunk_ids(self) -> set[str]:
        """The chunk ids that have sentence vectors stored (for consistency checks)."""
        ...


def chroma_where(filters: Filters | None) -> dict[str, Any] | None:
    """The Chroma ``where`` clause for ``filters`` (``source`` must arrive as ``doc_ids``)."""
    if filters is None:
        return None
    if filters.source and filters.doc_ids is None:
        raise StoreError(
            "a source filter must be resolved into document ids before a vector search",
            hint="Retriever does this with the catalog (Filters.doc_ids)",
        )
    clauses: list[dict[str, Any]] = []
    if filters.doc_ids is not None:
        clauses.append({"doc_id": {"$in": sorted(filters.doc_ids)}})
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": list(filters.doc_types)}})
    if filters.section:
        clauses.append({"sections": {"$contains": section_path(filters.section)}})
    if filters.date_from is not None:
        clauses.append({"mtime": {"$gte": filters.date_from}})
    if filters.date_to is not None:
        clauses.append({"mtime": {"$lte": filters.date_to}})
    clauses.extend({"tags": {"$contains": t}} for t in filters.tags)
    if filters.groups is not None:
        allowed: list[dict[str, Any]] = [{"restricted": False}]
        allowed.extend({"groups": {"$contains": g}} for g in sorted(filters.groups))
        clauses.append(allowed[0] if len(allowed) == 1 else {"$or": allowed})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


_Method = TypeVar("_Method", bound=Callable[..., Any])


_READ_RETRIES = 3


def _current(*, writes: bool = False) -> Callable[[_Method], _Method]:
    """Run a ChromaStore method on a client that sees other processes' writes (local only)."""

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> Any:
            for attempt in range(_READ_RETRIES + 1):
                try:
                    with self._access(writes=writes):
                        return method(self, *args, **kwargs)
                except StoreError:
                    # Another process wrote while this read ran on the old segments ("Error
                    # finding id"): read again on a reopened client; writes are not retried.
                    if writes or self._freshness is None or attempt == _READ_RETRIES:
                        raise
                    self._freshness.invalidate()
                    time.sleep(0.05 * (attempt + 1))
            raise AssertionError("unreachable")

        return wrapper  # type: ignore[return-value]

    return decorate


def _query_matrix(vector: np.ndarray) -> np.ndarray:
    """One query vector as the (1, dim) float32 array Chroma reads without a list round trip.

    Queries ask for ``n_results`` without counting first: Chroma 1.x returns what there is
    (a count call cost 1-3 ms of a 50 ms search budget).
    """
    return np.asarray(vector, dtype=np.float32).reshape(1, -1)


@contextmanager
def chroma_errors(action: str) -> Iterator[None]:
    """Chroma raises many exception types; callers see one ``StoreError`` saying what failed."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        text = str(exc).lower()
        hint = None
        if any(sign in text for sign in _DISK_TROUBLE):
            hint = (
                "the disk may be full or the data directory not writable: free space (or fix"
                " its permissions), then run the same command again; what was half-written is"
                " journalled and cleaned up then"
            )
        raise StoreError(f"Chroma {action} failed: {exc}", hint=hint) from exc


_DISK_TROUBLE = ("disk i/o error", "no space", "file too large", "read-only", "readonly")


class ChromaStore:
    """Chroma: ``PersistentClient`` in the data directory, or a ``chroma run`` server."""

    _BATCH = 4000
    #: chunk ids per ``$in`` clause when deleting or fetching parts by chunk id.
    _ID_BATCH = 500
    #: sentence hits read per chunk wanted (several sentences of one chunk often match). On
    #: SciFact 2 already yields the 100 chunks asked for: 3 gave the same lists, 1.5x the time.
    _PARTS_PER_CHUNK = 2

    def __init__(
        self, client: Any, collection: str, *, connect: Callable[[], Any] | None = None
    ) -> None:
        self._client = client
        self._name = collection
        self._collection: Any = None
        self._parts: Any = None
        self._connect = connect
        self._freshness: Freshness | None = None

    @classmethod
    def local(cls, path: Path, collection: str = "ragstead") -> ChromaStore:
        """A store in local files (telemetry off) that sees what other processes write."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        def connect() -> Any:
            with chroma_errors(f"open at {path}"):
                return chromadb.PersistentClient(
                    path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
                )

        path.mkdir(parents=True, exist_ok=True)
        store = cls(connect(), collection, connect=connect)
        store._freshness = Freshness(path / "chroma.sqlite3", reopen=store._reopen)
        return store

    def _access(self, *, writes: bool = False) -> Any:
        """Where another process may write (local files): reopen first if it has."""
        if self._freshness is None:
            return nullcontext()
        return self._freshness.access(writes=writes)

    def _reopen(self) -> None:
        """A new client (the old one's in-memory segments miss other processes' writes)."""
        assert self._connect is not None
        close = getattr(self._client, "close", None)
        if callable(close):
            close()  # releases the shared Chroma system, so the new client loads afresh
        self._client = self._connect()
        self._collection = None
        self._parts = None

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

    def _open(self, name: str) -> Any:
        with chroma_errors(f"open collection {name}"):
            return self._client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"})

    @property
    def collection(self) -> Any:
        """The Chroma collection (created on first use, cosine space)."""
        if self._collection is None:
            self._collection = self._open(self._name)
        return self._collection

    @property
    def parts_collection(self) -> Any:
        """The collection of sentence vectors (``<collection>-sentences``; ``chunk_id`` key)."""
        if self._parts is None:
            self._parts = self._open(f"{self._name}-sentences")
        return self._parts

    @_current(writes=True)
    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        parts: Sequence[np.ndarray] | None = None,
    ) -> None:
        """Insert or replace vectors (and their sentence vectors), in batches Chroma accepts."""
        with chroma_errors("upsert"):
            for start in range(0, len(ids), self._BATCH):
                end = start + self._BATCH
                self.collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=vectors[start:end].tolist(),
                    metadatas=list(metadatas[start:end]),
                )
            if parts is not None:
                self._upsert_parts(ids, metadatas, parts)

    def _upsert_parts(
        self,
        ids: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        parts: Sequence[np.ndarray],
    ) -> None:
        part_ids: list[str] = []
        part_vectors: list[np.ndarray] = []
        part_meta: list[dict[str, Any]] = []
        for cid, meta, matrix in zip(ids, metadatas, parts, strict=True):
            for j, vector in enumerate(matrix):
                part_ids.append(f"{cid}#{j}")
                part_vectors.append(vector)
                part_meta.append({**meta, "chunk_id": cid})
        # A chunk's parts are replaced whole: sentences past its new count go, but only after
        # the new ones are written (a crash in between leaves extra sentences, never none).
        before = self._part_ids(ids)
        for start in range(0, len(part_ids), self._BATCH):
            end = start + self._BATCH
            self.parts_collection.upsert(
                ids=part_ids[start:end],
                embeddings=np.asarray(part_vectors[start:end], dtype=np.float32).tolist(),
                metadatas=part_meta[start:end],
            )
        stale = sorted(before - set(part_ids))
        for start in range(0, len(stale), self._BATCH):
            self.parts_collection.delete(ids=stale[start : start + self._BATCH])

    def _part_ids(self, ids: Sequence[str]) -> set[str]:
        """Ids of the sentence vectors stored for these chunk ids."""
        found: set[str] = set()
        if not ids or not self.parts_collection.count():
            return found
        for start in range(0, len(ids), self._ID_BATCH):
            batch = list(ids[start : start + self._ID_BATCH])
            found.update(
                self.parts_collection.get(where={"chunk_id": {"$in": batch}}, include=[])["ids"]
            )
        return found

    @_current(writes=True)
    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors and their sentence vectors by chunk id."""
        with chroma_errors("delete"):
            for start in range(0, len(ids), self._BATCH):
                self.collection.delete(ids=list(ids[start : start + self._BATCH]))
            if ids and self.parts_collection.count():
                for start in range(0, len(ids), self._ID_BATCH):
                    batch = list(ids[start : start + self._ID_BATCH])
                    self.parts_collection.delete(where={"chunk_id": {"$in": batch}})

    @_current()
    def query(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Nearest ids with cosine similarity (1 - distance), best first."""
        return self._nearest(self.collection, vector, k, filters)

    @staticmethod
    def _nearest(
        collection: Any, vector: np.ndarray, n: int, filters: Filters | None
    ) -> list[tuple[str, float]]:
        """The ``n`` nearest ids of ``collection`` inside ``filters``, with cosine similarity."""
        if filters is not None and filters.doc_ids == frozenset():
            return []  # no document can match (Chroma rejects an empty $in)
        with chroma_errors("query"):
            result = collection.query(
                query_embeddings=_query_matrix(vector),
                n_results=n,
                where=chroma_where(filters),
                include=["distances"],
            )
        pairs = zip(result["ids"][0], result["distances"][0], strict=True)
        return [(i, 1.0 - float(d)) for i, d in pairs]

    @_current()
    def query_parts(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Chunk ids by their best sentence's cosine similarity, best first (at most ``k``)."""
        hits = self._nearest(self.parts_collection, vector, k * self._PARTS_PER_CHUNK, filters)
        best: dict[str, float] = {}
        for pid, similarity in hits:
            cid = pid.rsplit("#", 1)[0]  # "<chunk id>#<sentence>": no metadata to read
            if cid not in best:  # hits come best first
                best[cid] = similarity
                if len(best) >= k:
                    break
        return list(best.items())

    @_current()
    def get_parts(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by chunk id, in sentence order (to reuse on a rename)."""
        found: dict[str, list[tuple[int, np.ndarray]]] = {}
        with chroma_errors("get"):
            if not ids or not self.parts_collection.count():
                return {}
            for start in range(0, len(ids), self._ID_BATCH):
                page = self.parts_collection.get(
                    where={"chunk_id": {"$in": list(ids[start : start + self._ID_BATCH])}},
                    include=["embeddings", "metadatas"],
                )
                for pid, meta, vector in zip(
                    page["ids"], page["metadatas"], page["embeddings"], strict=True
                ):
                    cid = str(meta["chunk_id"])
                    order = int(pid.rsplit("#", 1)[1])
                    found.setdefault(cid, []).append((order, np.asarray(vector, np.float32)))
        return {
            cid: np.stack([v for _, v in sorted(rows, key=lambda t: t[0])])
            for cid, rows in found.items()
        }

    @_current()
    def count(self) -> int:
        """Number of vectors stored."""
        with chroma_errors("count"):
            return int(self.collection.count())

    @_current()
    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (ids not stored are left out), to reuse without re-embedding."""
        found: dict[str, np.ndarray] = {}
        with chroma_errors("get"):
            for start in range(0, len(ids), self._BATCH):
                page = self.collection.get(
                    ids=list(ids[start : start + self._BATCH]), include=["embeddings"]
                )
                for cid, vector in zip(page["ids"], page["embeddings"], strict=True):
                    found[cid] = np.asarray(vector, dtype=np.float32)
        return found

    @_current()
    def part_chunk_ids(self) -> set[str]:
        """Chunk ids of every stored sentence vector."""
        ids: set[str] = set()
        offset = 0
        with chroma_errors("get"):
            while True:
                page = self.parts_collection.get(include=[], limit=self._BATCH, offset=offset)
                ids.update(pid.rsplit("#", 1)[0] for pid in page["ids"])
                if len(page["ids"]) < self._BATCH:
                    return ids
                offset += self._BATCH

    def drop(self) -> None:
        """Delete both Chroma collections of this store."""
        with chroma_errors("delete collection"):
            existing = {getattr(c, "name", c) for c in self._client.list_collections()}
            for name in (self._name, f"{self._name}-sentences"):
                if name in existing:
                    self._client.delete_collection(name)
        self._collection = self._parts = None

    def all_ids(self) -> set[str]:
        """Every id stored (for consistency checks after an interrupted run)."""
        ids: set[str] = set()
        offset = 0
        with chroma_errors("get"):
            while True:
                page = self.collection.get(include=[], limit=self._BATCH, offset=offset)
                ids.update(page["ids"])
                if len(page["ids"]) < self._BATCH:
                    return ids
                offset += self._BATCH


@register_vector_store("chroma")
def _from_settings(settings: Settings) -> ChromaStore:
    """Chroma in the data directory, or the ``chroma run`` server ``store.chroma_host`` names."""
    s = settings.store
    if s.chroma_host:  # one server for every Ragstead collection: a Chroma collection each
        name = (
            s.collection
            if settings.collection == "default"
            else f"{s.collection}-{settings.collection}"
        )
        return ChromaStore.server(s.chroma_host, s.chroma_port, name)
    return ChromaStore.local(settings.chroma_dir, s.collection)
