"""Servers the contract suites run their implementations against, started on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chroma_server import chroma_server_at


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A ``chroma run`` server on 127.0.0.1 for the session: (host, port)."""
    with chroma_server_at(tmp_path_factory.mktemp("chroma-server")) as (host, port, _):
        yield host, port


from tests.pg_server import postgres_url  # noqa: E402, F401  (session fixture)
