"""Identity from a trusted reverse proxy (``auth.proxy``): believed only from its address,
never by default, never over a key; changes need X-Requested-With (no cross-site forgery)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.container import Container
from rag.errors import ConfigurationError
from rag.settings import AuthSettings, ProxyAuthSettings, Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL

PROXY = "10.0.0.7"
ALICE = {"X-Forwarded-User": "alice@corp", "X-Forwarded-Groups": "hr, staff"}


def _client(tmp_path: Path, peer: str, **proxy: object) -> TestClient:
    settings = Settings(
        data_dir=tmp_path, auth=AuthSettings(proxy=ProxyAuthSettings.model_validate(proxy))
    )
    container = Container(settings, embedder=HashingEmbedder(), generator=EchoGenerator())
    return TestClient(
        create_app(container, load_in_background=False), base_url=LOCAL, client=(peer, 4321)
    )


def _upload(client: TestClient, headers: dict[str, str]) -> int:
    files = [("files", ("pay.md", b"# Pay\n\nSalaries are paid on the 25th."))]
    return client.post("/v1/documents", headers=headers, files=files).status_code


def test_the_proxy_names_the_person_with_their_groups(tmp_path: Path) -> None:
    client = _client(
        tmp_path, PROXY, enabled=True, trusted=["10.0.0.0/24"], scopes=["read", "write"]
    )
    assert client.get("/v1/collections", headers=ALICE).status_code == 200
    assert client.get("/v1/collections").status_code == 401  # no user header: no one
    assert _upload(client, ALICE) == 403  # a change without X-Requested-With
    assert _upload(client, {**ALICE, "X-Requested-With": "ragstead"}) == 202
    jobs = client.get("/v1/jobs", headers=ALICE).json()
    assert len(jobs["jobs"]) == 1  # alice's own job, seen as alice


def test_headers_from_any_other_address_are_ignored(tmp_path: Path) -> None:
    client = _client(tmp_path, "10.9.9.9", enabled=True, trusted=[PROXY])
    assert client.get("/v1/collections", headers=ALICE).status_code == 401


def test_off_by_default_and_a_key_wins(tmp_path: Path) -> None:
    client = _client(tmp_path, PROXY)
    assert client.get("/v1/collections", headers=ALICE).status_code == 401
    proxied = _client(tmp_path / "p", PROXY, enabled=True, trusted=[PROXY])
    bad = {**ALICE, "Authorization": "Bearer rsk_wrong"}
    assert proxied.get("/v1/collections", headers=bad).status_code == 401


def test_on_without_a_trusted_address_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        _client(tmp_path, PROXY, enabled=True)
