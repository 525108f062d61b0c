"""Builds the ``Ingestor`` from a container (the ingest side of the composition root)."""

from __future__ import annotations

from typing import Any

from ingest.pipeline import Ingestor
from rag.container import Container


class _LazyStore:
    """The container's vector store, opened on first use: a run with nothing to write (every
    file unchanged) never imports or opens Chroma."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container.vector_store, name)


def build_ingestor(container: Container) -> Ingestor:
    """An Ingestor wired to the container's embedder, vector store and catalog."""
    c = container.settings.chunking
    i = container.settings.ingest
    return Ingestor(
        container.embedder,
        _LazyStore(container),  # type: ignore[arg-type]
        container.catalog,
        max_tokens=c.max_tokens,
        min_tokens=c.min_tokens,
        workers=i.workers,
        parse_timeout_s=i.parse_timeout_s,
        embed_batch=i.embed_batch,
        worker_nice=i.worker_nice,
        groups=i.groups,
        sentence_vectors=c.sentence_vectors,
    )
