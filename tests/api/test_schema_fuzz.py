"""Schemathesis over the app's OpenAPI schema, authenticated as an administrator: generated
requests to every route (valid and invalid bodies, parameters and ids) never get a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.auth.keys import KeyStore
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder


def _app(root: Path) -> tuple[Any, str]:
    docs = root / "docs"
    docs.mkdir(parents=True)
    (docs / "leave.md").write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.")
    container = Container(
        Settings(data_dir=root / "data"), embedder=HashingEmbedder(), generator=EchoGenerator()
    )
    assert build_ingestor(container).ingest(docs).ok
    key = KeyStore(container.settings.auth_path).create("fuzz-admin", scopes=["admin"]).key
    return create_app(container, load_in_background=False), str(key)


_APP, _KEY = _app(Path(__import__("tempfile").mkdtemp(prefix="ragstead-fuzz-")))
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP, headers={"Host": "127.0.0.1"})


@pytest.fixture(scope="module", autouse=True)
def _lifespan() -> Any:
    from fastapi.testclient import TestClient

    with TestClient(_APP, base_url="http://127.0.0.1"):  # runs the app's start-up (job runner)
        yield


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_KEY}", "Host": "127.0.0.1"},
        checks=[not_a_server_error],
        excluded_checks=[],
    )
