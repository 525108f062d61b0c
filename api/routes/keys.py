"""API keys over REST (scope ``admin``): create (the key is shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.audit import audit_note
from api.auth.keys import parse_duration
from api.deps import PrincipalDep, StateDep
from api.schemas import KeyIn, KeyList, KeyOut

router = APIRouter(prefix="/v1", tags=["keys"])


@router.post("/keys", status_code=201, response_model=KeyOut)
def create_key(body: KeyIn, request: Request, state: StateDep, principal: PrincipalDep) -> KeyOut:
    """A new key; ``key`` is in this response only (the server keeps its hash)."""
    principal.require("admin")
    audit_note(request, change="create key", key=body.name)
    made = state.authenticator.keys.create(
        body.name,
        groups=body.groups,
        scopes=list(body.scopes),
        collections=body.collections,
        expires_in=parse_duration(body.expires) if body.expires else None,
    )
    return KeyOut(**{**made.__dict__, "status": made.status})


@router.get("/keys", response_model=KeyList)
def list_keys(state: StateDep, principal: PrincipalDep) -> KeyList:
    """Every key (never its secret)."""
    principal.require("admin")
    return KeyList(
        keys=[
            KeyOut(**{**k.__dict__, "key": None, "status": k.status})
            for k in state.authenticator.keys.list()
        ]
    )


@router.delete("/keys/{name}", status_code=204)
def revoke_key(name: str, request: Request, state: StateDep, principal: PrincipalDep) -> None:
    """Revoke a key: it stops working at once."""
    principal.require("admin")
    audit_note(request, change="revoke key", key=name)
    state.authenticator.keys.revoke(name)
