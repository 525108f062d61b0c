"""Embedder factories by settings ``embedder.kind`` (see ``rag.registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.registry import Registry

if TYPE_CHECKING:
    from rag.embedders.base import Embedder
    from rag.settings import Settings

EMBEDDERS: Registry[Embedder] = Registry("embedder")
register_embedder = EMBEDDERS.register
embedder_kinds = EMBEDDERS.kinds


def build_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings.embedder.kind`` names (cheap: the model loads on first use)."""
    return EMBEDDERS.build(settings.embedder.kind, settings)
