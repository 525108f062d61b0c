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

import itertools
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
    #: how ``embed_spans`` shares passes between a text and its spans: ``separate`` (the text
    #: and each span embedded on their own: two passes over the text), ``chunk`` (spans pooled
    #: from the text's own pass) or ``sentences`` (each span embedded on its own, and the text's
    #: vector pooled from the vectors of the pieces that cover it: one pass over short
    #: pieces); part of the index key.
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
        if self.sentence_pooling == "sentences":
            return self._pooled_from_pieces(texts, spans)
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

    def _pooled_from_pieces(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``sentence_pooling: sentences``: every piece of each text (its spans and the text
        between them: a title line, short sentences) embedded once, identical pieces once; a
        text's vector is the mean of its pieces' vectors weighted by their token counts, as
        mean pooling weighs tokens. A text without spans is embedded whole."""
        covers = [cover(text, group) for text, group in zip(texts, spans, strict=True)]
        unique = list(dict.fromkeys(p for pieces in covers for p in pieces))
        vectors = self.embed_batch(unique)
        at = {t: i for i, t in enumerate(unique)}
        tokens = np.array([self.count_tokens(p) for p in unique], dtype=np.float32)
        whole = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        for i, pieces in enumerate(covers):
            rows = [at[p] for p in pieces]
            whole[i] = tokens[rows] @ vectors[rows]
        whole /= np.maximum(np.linalg.norm(whole, axis=1, keepdims=True), 1e-12)
        parts = [
            vectors[[at[texts[i][s:e].strip()] for s, e in group]]
            if group
            else np.zeros((0, vectors.shape[1]), dtype=np.float32)
            for i, group in enumerate(spans)
        ]
        return whole, parts

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

    def prepare_queries(self) -> None:
        """Make ``embed_query`` ready now, loading no more than it needs (default: ``load``)."""
        self.load()


def cover(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """``text`` cut at the ``spans``' ends into pieces, stripped, empty ones dropped: the spans
    themselves and whatever lies between them (a title line, sentences too short to have a
    span). ``cover("T\nA. B.", [(2, 4)]) == ["T", "A.", "B."]``."""
    cuts = sorted({0, len(text), *(x for span in spans for x in span)})
    pieces = (text[a:b].strip() for a, b in itertools.pairwise(cuts))
    return [p for p in pieces if p] or [text]
