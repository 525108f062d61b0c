"""The ``Embedder`` seam: one required method, ``embed_batch``; the rest has defaults.

A new kind of embedder subclasses ``Embedder`` and implements ``embed_batch``; it may override
the conveniences where it can do better (a query path, an exact token count, a picklable
counter for the parse workers, an eager ``load``) and registers a factory for its settings
``kind`` (``rag.embedders.register_embedder``).

Example::

    class MyEmbedder(Embedder):
        name = "my-model"
        def embed_batch(self, texts):
            return my_model(texts)            # float32 (len(texts), dim), unit length

    vectors = MyEmbedder().embed_batch(["Annual leave is 28 days."])
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

_WORDS = re.compile(r"\w+|[^\w\s]")


class Embedder(ABC):
    """Turns texts into unit-length float32 vectors."""

    #: a short name; part of what the index depends on (a new name re-indexes).
    name: str = "embedder"
    #: texts per model call when embedding documents.
    batch_size: int = 32
    #: longest input in tokens the model reads (the chunker keeps chunks within it); None: unknown.
    max_tokens: int | None = None
    #: how ``embed_spans`` gets a span's vector: ``separate`` (the span embedded as a text of
    #: its own) or ``chunk`` (pooled from the text's own forward pass); part of the index key.
    sentence_pooling: str = "separate"

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; float32 array (len(texts), dim), L2-normalised."""

    @property
    def dim(self) -> int:
        """Vector dimension (by default from one embedding)."""
        return int(self.embed_batch(["dimension"]).shape[1])

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` and of the character spans ``spans[i]`` of each ``texts[i]``
        (a chunk and its sentences): ``(whole, parts)``, ``parts[i]`` of shape
        (len(spans[i]), dim). Default: each span embedded as a text of its own, in the same
        ``embed_batch`` call, identical ones once (table rows, repeated headers); an embedder
        that can pool spans from one pass overrides it."""
        pieces = [[texts[i][s:e] for s, e in group] for i, group in enumerate(spans)]
        whole_texts = set(texts)
        unique = list(dict.fromkeys(p for group in pieces for p in group if p not in whole_texts))
        vectors = self.embed_batch([*texts, *unique])
        at = {t: i for i, t in enumerate([*texts, *unique])}
        dim = vectors.shape[1]
        parts = [
            vectors[[at[p] for p in group]] if group else np.zeros((0, dim), dtype=vectors.dtype)
            for group in pieces
        ]
        return vectors[: len(texts)], parts

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector (override for a faster single-text path or a query prompt)."""
        return np.asarray(self.embed_batch([text])[0], dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes, special tokens included (default: a word-and-punctuation
        estimate; override with the model's tokenizer where there is one)."""
        return len(_WORDS.findall(text)) + 2

    def token_counter(self) -> Callable[[str], int] | None:
        """A picklable equivalent of ``count_tokens`` for parse worker processes (None:
        chunking uses ``count_tokens`` in the main process)."""
        return None

    def load(self) -> None:  # noqa: B027  (a default, not a required method)
        """Load the model now rather than on first use (default: nothing to load)."""
