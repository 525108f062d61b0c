"""What routes receive, as FastAPI dependencies: tests replace them with
``app.dependency_overrides`` rather than reaching into the app's objects.

Example::

    app.dependency_overrides[get_assistant] = lambda: Assistant(retriever, EchoGenerator())
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.state import AppState
from rag.assistant import Assistant
from rag.container import Container
from rag.retriever import Retriever
from rag.stores.catalog import Catalog


def get_state(request: Request) -> AppState:
    """The app's container and readiness."""
    state: AppState = request.app.state.ragstead
    return state


def get_container(state: Annotated[AppState, Depends(get_state)]) -> Container:
    """The composition root."""
    return state.container


def get_assistant(container: Annotated[Container, Depends(get_container)]) -> Assistant:
    """Retrieval, answers, citations and grounding."""
    return container.assistant


def get_retriever(container: Annotated[Container, Depends(get_container)]) -> Retriever:
    """Hybrid search."""
    return container.retriever


def get_catalog(container: Annotated[Container, Depends(get_container)]) -> Catalog:
    """The document manifest and chunk texts."""
    return container.catalog


StateDep = Annotated[AppState, Depends(get_state)]
ContainerDep = Annotated[Container, Depends(get_container)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
