"""Vector store factories by settings ``store.kind`` (see ``rag.registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.registry import Registry

if TYPE_CHECKING:
    from rag.settings import Settings
    from rag.stores.vector_store import VectorStore

VECTOR_STORES: Registry[VectorStore] = Registry("vector store")
register_vector_store = VECTOR_STORES.register


def build_vector_store(settings: Settings) -> VectorStore:
    """The vector store ``settings.store.kind`` names."""
    import rag.stores.vector_store  # noqa: F401  (registers "chroma")

    return VECTOR_STORES.build(settings.store.kind, settings)
