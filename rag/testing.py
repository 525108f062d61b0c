"""Small deterministic stand-ins for the models, shipped for tests of code built on Ragstead.

They are fakes for tests where the real model adds nothing to what is checked, never a feature:
``HashingEmbedder`` maps words to fixed random directions; ``EchoGenerator`` answers with the
line of passage [1] nearest the question and cites it; ``MemoryVectorStore`` searches exactly
in a dict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rag.embedders.base import Embedder
from rag.errors import StoreError
from rag.filters import Filters, matches
from rag.generators.base import Message
from rag.generators.stops import apply_stops
from rag.types import Chunk

_WORD = re.compile(r"\w+")


class HashingEmbedder(Embedder):
    """Bag-of-words vectors from hashed words: similar word sets give similar vectors."""

    name = "hashing"
    max_tokens = 256

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    def count_tokens(self, text: str) -> int:
        """One token a word, plus the two special tokens."""
        return len(_WORD.findall(text)) + 2

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised hashed bag-of-words vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                out[row, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class EchoGenerator:
    """Answers with the line of passage [1] that shares most words with the question, cited [1]."""

    name = "echo"
    context_window = 2048

    def count_tokens(self, text: str) -> int:
        """Roughly one token a word."""
        return len(text.split())

    @staticmethod
    def answer_for(user: str) -> str:
        """The echoed sentence for a user prompt built by ``rag.prompting``."""
        match = re.search(r"\[1\][^\n]*\n(.*?)(?:\n\[2\]|\n\nQuestion:|\Z)", user, re.S)
        if not match:
            return "The documents do not cover this."
        question = user.rsplit("Question:", 1)[-1]
        wanted = {w for w in _WORD.findall(question.lower()) if len(w) > 3}
        lines = [ln.strip() for ln in match.group(1).split("\n") if ln.strip()]
        best = max(lines, key=lambda ln: len(wanted & set(_WORD.findall(ln.lower()))))
        return re.split(r"(?<=[.!?])\s", best, maxsplit=1)[0].rstrip(".!?")

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        """The answer word by word, cut at the first stop sequence."""
        words = f"{self.answer_for(messages[-1]['content'])} [1]".split(" ")
        pieces = (w if i == 0 else " " + w for i, w in enumerate(words[:max_new_tokens]))
        return apply_stops(pieces, stop)

    def load(self) -> None:
        """Nothing to load."""


class MemoryVectorStore:
    """A ``VectorStore`` in a dict, with exact cosine search and ``Filters`` by ``matches``.

    For tests of code built on Ragstead; it passes the same contract suite as ``ChromaStore``
    (``tests/contracts``).
    """

    def __init__(self) -> None:
        self._vectors: dict[str, np.ndarray] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._parts: dict[str, np.ndarray] = {}

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        parts: Sequence[np.ndarray] | None = None,
    ) -> None:
        """Insert or replace vectors and their sentence vectors."""
        for i, cid in enumerate(ids):
            self._vectors[cid] = np.asarray(vectors[i], dtype=np.float32)
            self._meta[cid] = dict(metadatas[i])
            if parts is not None:
                self._parts[cid] = np.asarray(parts[i], dtype=np.float32)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors and their parts."""
        for cid in ids:
            self._vectors.pop(cid, None)
            self._meta.pop(cid, None)
            self._parts.pop(cid, None)

    def _allowed(self, filters: Filters | None) -> list[str]:
        if filters is not None and filters.source and filters.doc_ids is None:
            raise StoreError("a source filter must be resolved into document ids first")
        if filters is None:
            return list(self._vectors)
        plain = dataclasses.replace(filters, source=None)
        return [cid for cid in self._vectors if matches(plain, _chunk_of(cid, self._meta[cid]))]

    def query(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Exact cosine search."""
        hits = [(cid, float(self._vectors[cid] @ vector)) for cid in self._allowed(filters)]
        return sorted(hits, key=lambda t: t[1], reverse=True)[:k]

    def query_parts(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Chunks by their best sentence vector."""
        hits = [
            (cid, float((self._parts[cid] @ vector).max()))
            for cid in self._allowed(filters)
            if cid in self._parts and len(self._parts[cid])
        ]
        return sorted(hits, key=lambda t: t[1], reverse=True)[:k]

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of ``ids``."""
        return {cid: self._vectors[cid] for cid in ids if cid in self._vectors}

    def get_parts(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors of ``ids`` (chunks without any are left out)."""
        return {cid: self._parts[cid] for cid in ids if len(self._parts.get(cid, ()))}

    def count(self) -> int:
        """Chunk vectors stored."""
        return len(self._vectors)

    def all_ids(self) -> set[str]:
        """Every chunk id stored."""
        return set(self._vectors)

    def part_chunk_ids(self) -> set[str]:
        """Chunk ids with sentence vectors."""
        return {cid for cid, parts in self._parts.items() if len(parts)}

    def drop(self) -> None:
        """Forget everything."""
        self._vectors.clear()
        self._meta.clear()
        self._parts.clear()


def _chunk_of(cid: str, meta: dict[str, Any]) -> Chunk:
    """The filterable fields of a chunk, back from its vector-store metadata."""
    return Chunk(
        id=cid,
        doc_id=str(meta.get("doc_id", "")),
        text="",
        source=str(meta.get("source", "")),
        section=str(meta.get("section", "")),
        mtime=float(meta.get("mtime", 0.0)),
        doc_type=str(meta.get("doc_type", "")),
        groups=tuple(meta.get("groups", ())),
        tags=tuple(meta.get("tags", ())),
    )
