"""Ragstead's core: retrieval, answers and the seams a deployment swaps.

The public surface::

    from rag import Assistant, Container, Retriever, Settings

    container = Container(Settings(data_dir=Path("/srv/ragstead")))
    answer = container.assistant.ask("How many days of annual leave?")

Seams (subclass or implement one, register a factory, set its ``kind``): ``Embedder``
(``rag.embedders``), ``VectorStore`` (``rag.stores.vector_store``), ``LexicalIndex``
(``rag.stores.lexical_index``), ``Generator`` (``rag.generators``), ``Reranker``
(``rag.rerank``). Filters cross every seam as ``Filters``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.assistant import Assistant
    from rag.container import Container
    from rag.embedders.base import Embedder
    from rag.filters import Filters
    from rag.generators.base import Generator
    from rag.retriever import Retriever
    from rag.settings import Settings, load_settings
    from rag.stores.lexical_index import LexicalIndex
    from rag.stores.vector_store import VectorStore
    from rag.types import Answer, Chunk, Citation, Passage

# Loaded on first use (PEP 562): ``import rag.offline`` or ``rag.errors`` (every CLI command
# does) must not import retrieval, answering and the stores; ``from rag import X`` works alike.
_HOMES = {
    "Answer": "rag.types",
    "Assistant": "rag.assistant",
    "Chunk": "rag.types",
    "Citation": "rag.types",
    "Container": "rag.container",
    "Embedder": "rag.embedders.base",
    "Filters": "rag.filters",
    "Generator": "rag.generators.base",
    "LexicalIndex": "rag.stores.lexical_index",
    "Passage": "rag.types",
    "Retriever": "rag.retriever",
    "Settings": "rag.settings",
    "VectorStore": "rag.stores.vector_store",
    "load_settings": "rag.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Container",
    "Embedder",
    "Filters",
    "Generator",
    "LexicalIndex",
    "Passage",
    "Retriever",
    "Settings",
    "VectorStore",
    "load_settings",
]
