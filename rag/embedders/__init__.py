"""Embedders: the ``Embedder`` seam, its implementations, and the factory the container uses.

Adding a kind of embedder is one module: subclass ``Embedder`` and register a factory for a
settings ``kind`` with ``@register_embedder("name")``; import the module here.

Importing this package is cheap: torch and sentence-transformers load with the first model.
"""

from __future__ import annotations

from rag.embedders.base import Embedder
from rag.embedders.openai_server import OpenAIEmbedder
from rag.embedders.registry import build_embedder, embedder_kinds, register_embedder
from rag.embedders.sentence_transformer import SentenceTransformerEmbedder, TokenizerFileCounter

__all__ = [
    "Embedder",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "TokenizerFileCounter",
    "build_embedder",
    "embedder_kinds",
    "register_embedder",
]
