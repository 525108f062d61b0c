"""Continuous sources over REST (scope ``admin``: a source is a folder on the server).

``GET /v1/sources`` lists them with their last run; ``POST /v1/sources`` registers a folder
(``{"path", "collection", "groups", "every"}``); ``POST /v1/sources/{id}/sync`` runs one now;
``DELETE /v1/sources/{id}`` removes it and its documents. The running server syncs each on its
interval and when files change under it (``ingest.sources``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from api.deps import PrincipalDep, StateDep
from ingest.sources import parse_every
from rag.collections import check_name
from rag.errors import InvalidRequestError, PermissionDeniedError

router = APIRouter(prefix="/v1", tags=["sources"])


class SourceIn(BaseModel):
    """A folder to keep in sync."""

    path: str = Field(..., min_length=1, max_length=4096, description="a folder on the server")
    collection: str = Field("default", max_length=64)
    groups: list[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    ] = Field(default_factory=list, max_length=64, description="access groups of its documents")
    every: str = Field("15m", max_length=16, description="interval: 30s, 15m, 1h, 1d")


@router.get("/sources")
def list_sources(state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every source and how its last sync went."""
    principal.require("admin")
    return {"sources": [s.to_dict() for s in state.sources.store.list()]}


@router.post("/sources", status_code=201)
def add_source(body: SourceIn, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a folder; the server syncs it within seconds and then on its interval."""
    principal.require("admin")
    name = check_name(body.collection)
    state.container_for(name, principal)  # the collection exists
    try:
        folder = Path(body.path).expanduser().resolve()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        raise InvalidRequestError(f"not a usable folder path: {exc}") from exc
    roots = [Path(r).expanduser().resolve() for r in state.container.settings.ingest.source_roots]
    if not any(folder == root or root in folder.parents for root in roots):
        raise PermissionDeniedError(
            f"{body.path} is not under a folder the API may register sources in",
            hint="list the allowed folders in ingest.source_roots"
            " (RAGSTEAD_INGEST__SOURCE_ROOTS), or use `ragstead sources add` on the server",
        )
    source = state.sources.store.add(
        folder, collection=name, groups=body.groups, every_s=parse_every(body.every)
    )
    return source.to_dict()


@router.post("/sources/{source_id}/sync")
def sync_source(source_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    """Sync one source now and return how it went."""
    principal.require("admin")
    return state.sources.run(state.sources.store.get(source_id)).to_dict()


@router.delete("/sources/{source_id}")
def remove_source(source_id: str, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    """Forget a source and remove its documents."""
    principal.require("admin")
    source, removed = state.sources.remove(source_id)
    return {"removed": source.to_dict(), "documents_removed": removed}
