"""Small deterministic stand-ins for the models, shipped for tests of code built on Ragstead.

They are fakes for tests where the real model adds nothing to what is checked, never a feature:
``HashingEmbedder`` maps words to fixed random directions; ``EchoGenerator`` answers with the
first sentence of passage [1] and cites it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from rag.generators.base import Message

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Bag-of-words vectors from hashed words: similar word sets give similar vectors."""

    name = "hashing"
    max_tokens = 256

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

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

    def embed_query(self, text: str) -> np.ndarray:
        """One vector."""
        return self.embed_batch([text])[0]

    def load(self) -> None:
        """Nothing to load."""


class EchoGenerator:
    """Answers with the first sentence of passage [1], cited as [1]."""

    name = "echo"
    context_window = 2048

    def count_tokens(self, text: str) -> int:
        """Roughly one token a word."""
        return len(text.split())

    def stream(
        self, messages: Sequence[Message], *, max_new_tokens: int = 256, stop: Sequence[str] = ()
    ) -> Iterator[str]:
        """Yield the answer word by word."""
        user = messages[-1]["content"]
        match = re.search(r"\[1\][^\n]*\n(.+?)(?:[.!?](?:\s|$)|\n)", user, re.S)
        sentence = match.group(1).strip() if match else "The documents do not cover this."
        words = f"{sentence} [1]".split(" ")
        for i, word in enumerate(words[:max_new_tokens]):
            yield word if i == 0 else " " + word

    def load(self) -> None:
        """Nothing to load."""
