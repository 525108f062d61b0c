"""GET /metrics: Prometheus metrics (``api.metrics``), for callers with ``admin``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import PrincipalDep
from api.metrics import Metrics

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request, principal: PrincipalDep) -> Response:
    """Request, answer, job and upload metrics in the Prometheus text format."""
    principal.require("admin")
    registry: Metrics = request.app.state.metrics
    body, content_type = registry.render()
    return Response(body, media_type=content_type)
