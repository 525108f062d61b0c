"""Shared fixtures: the example documents indexed once per session with the real models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from api.auth.keys import KeyStore
from ingest.service import build_ingestor
from rag.container import Container
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "docs"
#: base URL for TestClient: its default Host header, "testserver", is not a host the app trusts.
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted-model cache shared by the session (RAGSTEAD_TEST_MODEL_CACHE to keep it)."""
    env = os.environ.get("RAGSTEAD_TEST_MODEL_CACHE")
    return Path(env) if env else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def example_container(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Container:
    """A container whose data directory holds examples/docs, indexed with the real embedder."""
    data_dir = tmp_path_factory.mktemp("data")
    container = Container(Settings(data_dir=data_dir, model_cache_dir=model_cache))
    report = build_ingestor(container).ingest(EXAMPLES)
    assert report.ok, report.failed
    return container


def admin_headers_for(container: Container, name: str = "test-admin") -> dict[str, str]:
    """The Authorization header of a new key with every scope in the container's data dir."""
    created = KeyStore(container.settings.auth_path).create(name, scopes=["read", "write", "admin"])
    assert created.key is not None
    return {"Authorization": f"Bearer {created.key}"}


@pytest.fixture(scope="session")
def admin_key(example_container: Container) -> str:
    """An API key with every scope for the example container's data directory."""
    return admin_headers_for(example_container)["Authorization"].removeprefix("Bearer ")


@pytest.fixture(scope="session")
def admin_headers(admin_key: str) -> dict[str, str]:
    """The Authorization header of ``admin_key``."""
    return {"Authorization": f"Bearer {admin_key}"}


@pytest.fixture(scope="session")
def example_questions() -> list[dict[str, object]]:
    """Questions whose answers sit in one known example document."""
    lines = (ROOT / "examples" / "questions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
