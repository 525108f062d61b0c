"""LangChain: Ragstead's retrieval as a ``BaseRetriever``, in-process or over the REST API.

Example::

    from api.langchain import RagsteadRetriever

    retriever = RagsteadRetriever.from_url("http://127.0.0.1:8000", top_k=4)
    docs = retriever.invoke("How many days of annual leave?")
    docs[0].metadata["source"], docs[0].metadata["page"]
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.types import Passage


def passage_to_document(passage: Passage) -> Document:
    """A LangChain Document carrying the passage's text, source, page and scores."""
    c = passage.chunk
    return Document(
        page_content=c.text,
        id=c.id,
        metadata={
            "source": c.source,
            "page": c.page,
            "title": c.title,
            "section": c.section,
            "chunk_id": c.id,
            "doc_id": c.doc_id,
            "score": passage.score,
            "dense_rank": passage.dense_rank,
            "lexical_rank": passage.lexical_rank,
        },
    )


class RagsteadRetriever(BaseRetriever):
    """Hybrid retrieval from a Ragstead index: pass ``retriever`` (in-process) or ``client``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any = None
    client: Any = None
    top_k: int = 5

    @classmethod
    def from_url(cls, base_url: str, *, top_k: int = 5, **client_options: Any) -> RagsteadRetriever:
        """A retriever that calls a Ragstead server's /v1/retrieve."""
        from api.client import RagsteadClient

        return cls(client=RagsteadClient(base_url, **client_options), top_k=top_k)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        if self.retriever is not None:
            return [
                passage_to_document(p) for p in self.retriever.retrieve(query, top_k=self.top_k)
            ]
        if self.client is None:
            raise ValueError("RagsteadRetriever needs `retriever` or `client`")
        docs = []
        for p in self.client.retrieve(query, top_k=self.top_k):
            meta = {k: v for k, v in p.items() if k != "text"}
            docs.append(Document(page_content=p["text"], id=p["chunk_id"], metadata=meta))
        return docs
