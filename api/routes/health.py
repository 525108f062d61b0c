"""GET /healthz: 200 once the models are loaded, 503 while loading or after a failed load."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.schemas import Health

router = APIRouter()


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(state: StateDep) -> JSONResponse:
    """Readiness of the server."""
    if state.load_error:
        body = Health(status="error", detail=state.load_error)
        return JSONResponse(body.model_dump(), status_code=503)
    if not state.ready.is_set():
        return JSONResponse(Health(status="loading").model_dump(), status_code=503)
    catalog = state.container.catalog
    body = Health(status="ok", documents=len(catalog.documents()), chunks=catalog.chunk_count())
    return JSONResponse(body.model_dump())
