"""Collections over REST: list those the caller may use; create and delete (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.audit import audit_note
from api.deps import PrincipalDep, ReaderDep, StateDep
from api.schemas import CollectionIn, CollectionList, CollectionOut
from api.state import AppState

router = APIRouter(prefix="/v1", tags=["collections"])


def _out(state: AppState, name: str) -> CollectionOut:
    catalog = state.collections.container(name).catalog
    return CollectionOut(
        name=name, documents=len(catalog.documents()), chunks=catalog.chunk_count()
    )


@router.get("/collections", response_model=CollectionList)
def list_collections(state: StateDep, principal: ReaderDep) -> CollectionList:
    """The collections the caller's key may use, with their sizes."""
    names = [n for n in state.collections.names() if principal.may_use(n)]
    return CollectionList(collections=[_out(state, n) for n in names])


@router.post("/collections", status_code=201, response_model=CollectionOut)
def create_collection(
    body: CollectionIn, request: Request, state: StateDep, principal: PrincipalDep
) -> CollectionOut:
    """A new, empty collection (scope ``admin``)."""
    principal.require("admin")
    audit_note(request, change="create collection", collection=body.name)
    state.collections.create(body.name)
    return _out(state, body.name)


@router.delete("/collections/{name}", status_code=204)
def delete_collection(
    name: str, request: Request, state: StateDep, principal: PrincipalDep
) -> None:
    """Remove a collection and everything indexed in it (scope ``admin``)."""
    principal.require("admin")
    state.container_for(name, principal)
    audit_note(request, change="delete collection", collection=name)
    state.collections.delete(name)
