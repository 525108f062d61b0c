"""The composition root: every long-lived object built from ``Settings``, lazily, once."""

from __future__ import annotations

from functools import cached_property

from rag.assistant import AnswerConfig, Assistant
from rag.conversation import ModelRewriter, QueryRewriter, RuleRewriter
from rag.embedder import SentenceTransformerEmbedder
from rag.generators import build_generator
from rag.generators.base import Generator
from rag.prompting import PromptTemplate
from rag.rerank import CrossEncoderReranker
from rag.retriever import RetrievalParams, Retriever
from rag.settings import Settings
from rag.stores.catalog import Catalog
from rag.stores.vector_store import ChromaStore


class Container:
    """Builds the embedder, stores, retriever, generator and assistant for one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def embedder(self) -> SentenceTransformerEmbedder:
        """The embedder (model loads on first use)."""
        s = self.settings.embedder
        return SentenceTransformerEmbedder(
            s.model_dir,
            device=s.device,
            dtype=s.dtype,
            batch_size=s.batch_size,
            query_cache_size=self.settings.retrieval.query_cache_size,
            cache_dir=self.settings.models_dir,
            query_runtime=s.query_runtime,
        )

    @cached_property
    def vector_store(self) -> ChromaStore:
        """Chroma in the data directory, or the configured server."""
        s = self.settings.store
        if s.chroma_host:
            return ChromaStore.server(s.chroma_host, s.chroma_port, s.collection)
        return ChromaStore.local(self.settings.chroma_dir, s.collection)

    @cached_property
    def catalog(self) -> Catalog:
        """Manifest, chunk texts and the BM25 index."""
        return Catalog(self.settings.index_path)

    @cached_property
    def retriever(self) -> Retriever:
        """Hybrid retriever."""
        r = self.settings.retrieval
        params = RetrievalParams(
            dense_candidates=r.dense_candidates,
            sentence_candidates=r.sentence_candidates,
            lexical_candidates=r.lexical_candidates,
            fusion=r.fusion,
            dense_weight=r.dense_weight,
            sentence_weight=r.sentence_weight,
            rrf_k=r.rrf_k,
            title_weight=r.title_weight,
            context_weight=r.context_weight,
            mmr_lambda=r.mmr_lambda,
            neighbors=r.neighbors,
            rerank_candidates=r.rerank_candidates,
        )
        reranker = CrossEncoderReranker(r.reranker_dir) if r.reranker_dir else None
        return Retriever(self.embedder, self.vector_store, self.catalog, params, reranker=reranker)

    @cached_property
    def generator(self) -> Generator:
        """The answer-writing model (loads on first use)."""
        g = self.settings.generator
        return build_generator(
            g.kind,
            model_dir=g.model_dir,
            base_url=g.base_url,
            model=g.model,
            api_key=g.api_key,
            cache_dir=self.settings.models_dir,
            device=g.device,
            dtype=g.dtype,
            timeout_s=g.timeout_s,
            max_queue=g.max_queue,
            temperature=g.temperature,
            max_retries=g.max_retries,
            context_window=g.context_window,
        )

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
        a = self.settings.answers
        config = AnswerConfig(
            mode=self.answer_mode,
            top_k=a.top_k,
            max_new_tokens=self.settings.generator.max_new_tokens,
            min_relevance=a.min_relevance,
            min_support=a.min_support,
            stop=tuple(a.stop),
            history_tokens=self.settings.chat.history_tokens,
            template=PromptTemplate(a.system_prompt, a.passage_template, a.question_template),
        )
        return Assistant(
            self.retriever,
            self.generator,
            embedder=self.embedder,
            config=config,
            rewriter=self.rewriter,
        )
