"""Builds the ``Ingestor`` from a container (the ingest side of the composition root)."""

from __future__ import annotations

from ingest.pipeline import Ingestor
from rag.container import Container


def build_ingestor(container: Container) -> Ingestor:
    """An Ingestor wired to the container's embedder, vector store and catalog."""
    c = container.settings.chunking
    i = container.settings.ingest
    return Ingestor(
        container.embedder,
        container.vector_store,
        container.catalog,
        max_tokens=c.max_tokens,
        min_tokens=c.min_tokens,
        workers=i.workers,
        parse_timeout_s=i.parse_timeout_s,
        embed_batch=i.embed_batch,
        worker_nice=i.worker_nice,
        groups=i.groups,
    )
