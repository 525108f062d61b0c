"""The web page over plain HTTP: served at /, its assets carry the security headers, and
nothing it loads or calls names a host other than this server."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.web import STATIC
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.conftest import LOCAL

ASSETS = sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    container = Container(
        Settings(data_dir=tmp_path_factory.mktemp("web-data")),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    return TestClient(create_app(container, load_in_background=False), base_url=LOCAL)


def _csp(value: str) -> dict[str, str]:
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in value.split(";"))
        if part
    }


def test_the_page_and_every_asset_carry_the_security_headers(client: TestClient) -> None:
    assert {"index.html", "app.css", "js/main.js", "js/api.js"} <= set(ASSETS)
    for path in ["/", *(f"/web/{a}" for a in ASSETS)]:
        response = client.get(path)
        assert response.status_code == 200, path
        csp = _csp(response.headers["content-security-policy"])
        assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'", path
        assert csp["style-src"] == "'self'" and csp["connect-src"] == "'self'", path
        assert csp["frame-ancestors"] == "'none'", path
        assert "unsafe" not in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/web/js/main.js").headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }


def test_the_api_itself_is_left_as_it_was(client: TestClient) -> None:
    assert "content-security-policy" not in client.get("/healthz").headers


@pytest.mark.parametrize("asset", ASSETS)
def test_no_asset_references_another_host_or_runs_inline_code(asset: str) -> None:
    text = (STATIC / asset).read_text()
    assert not re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), asset
    if asset.endswith(".html"):
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script"
        assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
        assert not re.search(r"\sstyle\s*=|<style", text), "inline style"
        assert "@import" not in text
    if asset.endswith(".js"):
        assert "innerHTML" not in text and "eval(" not in text, asset
        assert "localStorage" not in text, "the key lives in sessionStorage only"
