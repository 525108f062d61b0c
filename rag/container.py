"""The composition root: every long-lived object built from ``Settings``, lazily, once."""

from __future__ import annotations

from functools import cached_property

from rag.assistant import AnswerConfig, Assistant
from rag.conversation import ModelRewriter, QueryRewriter, RuleRewriter
from rag.embedders import Embedder, build_embedder
from rag.generators import build_generator
from rag.generators.base import Generator
from rag.rerank import CrossEncoderReranker
from rag.retriever import Retriever
from rag.settings import EMBEDDED_PROMPT_TOKENS, Settings
from rag.stores.catalog import Catalog
from rag.stores.lexical_index import LexicalIndex
from rag.stores.registry import build_vector_store
from rag.stores.vector_store import VectorStore


class Container:
    """Builds the embedder, stores, retriever, generator and assistant for one settings object.

    Each seam may be given instead of built (a test's fake, a store the caller already
    opened): ``Container(settings, embedder=HashingEmbedder())``. Everything else is built
    from ``settings`` on first use, once.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        vector_store: VectorStore | None = None,
        lexical_index: LexicalIndex | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings
        given = {
            "embedder": embedder,
            "vector_store": vector_store,
            "generator": generator,
        }
        for name, value in given.items():
            if value is not None:
                self.__dict__[name] = value  # what cached_property would have stored
        self._lexical_index = lexical_index

    @cached_property
    def embedder(self) -> Embedder:
        """The embedder (model loads on first use)."""
        return build_embedder(self.settings)

    @cached_property
    def vector_store(self) -> VectorStore:
        """The configured vector store (Chroma in the data directory by default)."""
        from rag.stores.server_mode import check_server_mode

        check_server_mode(self.settings)
        return build_vector_store(self.settings)

    @cached_property
    def catalog(self) -> Catalog:
        """Manifest and chunk texts, keeping the lexical index in step (the data directory's
        SQLite file, or PostgreSQL in server mode)."""
        from rag.stores.server_mode import server_catalog

        shared = server_catalog(self.settings, self._lexical_index)
        return shared or Catalog(self.settings.index_path, lexical=self._lexical_index)

    @property
    def lexical_index(self) -> LexicalIndex:
        """Keyword search over chunk texts, kept in step by the catalog (SQLite FTS5 in its
        file, or PostgreSQL full-text search in server mode, unless given)."""
        return self.catalog.lexical

    @cached_property
    def retriever(self) -> Retriever:
        """Hybrid retriever."""
        r = self.settings.retrieval
        reranker = CrossEncoderReranker(r.reranker_dir) if r.reranker_dir else None
        return Retriever(self.embedder, self.vector_store, self.catalog, r, reranker=reranker)

    @cached_property
    def generator(self) -> Generator:
        """The answer-writing model (loads on first use)."""
        return build_generator(self.settings)

    @property
    def embedded_generator(self) -> bool:
        """True when the generator is the embedded SmolLM2-135M (no model configured)."""
        g = self.settings.generator
        return g.kind == "transformers" and g.model_dir is None

    @property
    def answer_mode(self) -> str:
        """The default answer mode: ``auto`` is extractive for the embedded model."""
        mode = self.settings.answers.mode
        if mode == "auto":
            return "extractive" if self.embedded_generator else "generative"
        return mode

    @property
    def max_prompt_tokens(self) -> int | None:
        """``answers.max_prompt_tokens``, with None resolved: a small budget for the embedded
        model, the model's whole context window for any other."""
        cap = self.settings.answers.max_prompt_tokens
        if cap is None and self.embedded_generator:
            return EMBEDDED_PROMPT_TOKENS
        return cap

    @cached_property
    def rewriter(self) -> QueryRewriter | None:
        """How follow-up questions are made standalone (None: they are not)."""
        kind = self.settings.chat.rewriter
        if kind == "off":
            return None
        rules = RuleRewriter(self.embedder)
        if kind == "rules" or (kind == "auto" and self.embedded_generator):
            return rules
        return ModelRewriter(self.generator, rules)

    @cached_property
    def assistant(self) -> Assistant:
        """Retrieval, answering, citations and the grounding check."""
        config = AnswerConfig(
            answers=self.settings.answers,
            mode=self.answer_mode,
            max_new_tokens=self.settings.generator.max_new_tokens,
            max_prompt_tokens=self.max_prompt_tokens,
            history_tokens=self.settings.chat.history_tokens,
        )
        return Assistant(
            self.retriever,
            self.generator,
            embedder=self.embedder,
            config=config,
            rewriter=self.rewriter,
        )
