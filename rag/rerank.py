"""The ``Reranker`` seam: rescore the best fused candidates with a slower, better model.

A reranker reads the question and each candidate's text together (a cross-encoder) and returns
one relevance score per text, higher is better. None ships with Ragstead (no cross-encoder is
packaged for offline install), so reranking is off unless ``retrieval.reranker_dir`` names a
sentence-transformers ``CrossEncoder`` directory on this machine, for example a copy of
``cross-encoder/ms-marco-MiniLM-L-6-v2`` fetched once with
``huggingface-cli download cross-encoder/ms-marco-MiniLM-L-6-v2 --local-dir /models/ce``.

Implement ``score`` to plug in anything else (a model server on the premises, a rules-based
scorer)::

    class KeywordReranker:
        name = "keywords"

        def score(self, question: str, texts: Sequence[str]) -> list[float]:
            words = set(question.lower().split())
            return [len(words & set(t.lower().split())) for t in texts]

    retriever = Retriever(embedder, store, catalog, reranker=KeywordReranker())
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import rag.offline  # noqa: F401
from rag.errors import ConfigurationError
from rag.generators.transformers_loader import resolve_device
from rag.model_cache import cached_model


@runtime_checkable
class Reranker(Protocol):
    """Scores (question, text) pairs; higher is more relevant."""

    name: str

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        """One score per text, in the order given."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` from a local directory, loaded once."""

    def __init__(self, model_dir: Path, *, device: str = "auto", batch_size: int = 32) -> None:
        if not (model_dir / "config.json").is_file():
            raise ConfigurationError(
                f"retrieval.reranker_dir {model_dir} is not a cross-encoder model directory",
                hint="point it at a directory with config.json and the weights, or unset it",
            )
        self.model_dir = model_dir
        self.device = device
        self.batch_size = batch_size
        self.name = model_dir.name

    @property
    def model(self) -> Any:
        """The loaded CrossEncoder (loads on first use)."""
        device = resolve_device(self.device)

        def load() -> Any:
            from sentence_transformers import CrossEncoder

            return CrossEncoder(str(self.model_dir), device=device, local_files_only=True)

        return cached_model(("reranker", str(self.model_dir), device), load)

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        """Cross-encoder scores of (question, text) pairs."""
        if not texts:
            return []
        scores = self.model.predict(
            [(question, t) for t in texts], batch_size=self.batch_size, show_progress_bar=False
        )
        return [float(s) for s in scores]
