"""The Python client and the LangChain retriever against the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.client import RagsteadAPIError, RagsteadClient
from api.langchain import RagsteadRetriever
from rag.container import Container
from tests.serving import serving


@pytest.fixture(scope="module")
def client(example_container: Container, admin_key: str) -> Iterator[RagsteadClient]:
    """A real uvicorn server on a free loopback port, and a client pointed at it."""
    app = create_app(example_container, load_in_background=False)
    with serving(app) as url, RagsteadClient(url, api_key=admin_key) as c:
        yield c


def test_retrieve_returns_sources_and_ranks(client: RagsteadClient) -> None:
    passages = client.retrieve("Which VPN do we use?", top_k=3)
    assert len(passages) == 3
    assert Path(passages[0]["source"]).name == "it-security.html"
    assert "NorthGate" in passages[0]["text"]
    assert passages[0]["score"] >= passages[1]["score"]


def test_client_raises_the_servers_error(client: RagsteadClient) -> None:
    with pytest.raises(RagsteadAPIError) as info:
        client.retrieve("   ")
    assert info.value.status == 400 and "empty" in info.value.message


def test_langchain_retriever_over_http(client: RagsteadClient) -> None:
    docs = RagsteadRetriever(client=client, top_k=2).invoke("hotel cap per night")
    assert len(docs) == 2
    assert Path(docs[0].metadata["source"]).name == "travel-faq.txt"
    assert "140 EUR" in docs[0].page_content


def test_langchain_retriever_in_process(example_container: Container) -> None:
    retriever = RagsteadRetriever(retriever=example_container.retriever, top_k=3)
    docs = retriever.invoke("On which page is the probation period described?")
    assert docs[0].metadata["page"] == 3
    assert Path(docs[0].metadata["source"]).name == "onboarding-guide.pdf"
