"""What routes receive, as FastAPI dependencies: tests replace them with
``app.dependency_overrides`` rather than reaching into the app's objects.

Example::

    app.dependency_overrides[get_assistant] = lambda: Assistant(retriever, EchoGenerator())
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth.principal import Principal
from api.source_view import SourceView
from api.state import AppState
from rag.assistant import Assistant
from rag.container import Container
from rag.retriever import Retriever
from rag.stores.catalog import Catalog


def get_state(request: Request) -> AppState:
    """The app's container and readiness."""
    state: AppState = request.app.state.ragstead
    return state


_bearer = HTTPBearer(
    auto_error=False, description="an API key (ragstead keys create) or an OIDC token"
)


def get_principal(
    request: Request,
    state: Annotated[AppState, Depends(get_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (401 without valid credentials)."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    peer = request.client.host if request.client else None
    proxied = None
    if header is None and state.authenticator.enabled:
        proxied = state.authenticator.proxy.principal(peer, request.headers, request.method)
        if proxied is not None:
            state.authenticator.admit(proxied)
    principal = proxied or state.authenticator.principal(header, client=peer)
    request.state.principal = f"{principal.kind}:{principal.name}"
    return principal


def get_reader(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """A caller holding the ``read`` scope (403 otherwise)."""
    principal.require("read")
    return principal


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
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ReaderDep = Annotated[Principal, Depends(get_reader)]
ContainerDep = Annotated[Container, Depends(get_container)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def assistant_in(
    collection: str, default: Assistant, state: AppState, principal: Principal
) -> Assistant:
    """The assistant of ``collection`` (``default``: the one the route was given, which a test
    may override); a collection the caller may not use is NotFoundError."""
    if collection == "default" and principal.may_use(collection):
        return default
    return state.container_for(collection, principal).assistant


def source_view(state: AppState, collection: str, principal: Principal) -> SourceView:
    """How ``principal`` sees the sources of ``collection`` (relative unless an admin)."""
    container = state.container_for(collection, principal)
    return SourceView.for_caller(principal, container.catalog, container.settings.uploads_dir)
