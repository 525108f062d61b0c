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
        """Yield the answer word by word."""
        words = f"{self.answer_for(messages[-1]['content'])} [1]".split(" ")
        for i, word in enumerate(words[:max_new_tokens]):
            yield word if i == 0 else " " + word

    def load(self) -> None:
        """Nothing to load."""
