"""The composition root: every long-lived object built from ``Settings``, lazily, once."""

from __future__ import annotations

from functools import cached_property

from rag.assistant import Assistant
from rag.embedder import SentenceTransformerEmbedder
from rag.generators import build_generator
from rag.generators.base import Generator
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
            lexical_candidates=r.lexical_candidates,
            fusion=r.fusion,
            dense_weight=r.dense_weight,
            rrf_k=r.rrf_k,
            title_weight=r.title_weight,
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
        )

    @cached_property
    def assistant(self) -> Assistant:
        """Retrieval plus generation."""
        return Assistant(
            self.retriever, self.generator, max_new_tokens=self.settings.generator.max_new_tokens
        )
