"""A company's own embedder, generator and vector store: one module of its own and one
setting each (``kind: module:name``), with no change to Ragstead."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingest.service import build_ingestor
from rag import Container, Settings
from rag.errors import ConfigurationError
from rag.settings import EmbedderSettings, GeneratorSettings, StoreSettings
from rag.testing import EchoGenerator, HashingEmbedder, MemoryVectorStore

PLUGIN = """
from rag.embedders import register_embedder
from rag.generators import register_generator
from rag.stores.registry import register_vector_store
from rag.testing import EchoGenerator, HashingEmbedder, MemoryVectorStore


@register_embedder("acme_seams:words")
def words(settings):
    return HashingEmbedder(dim=32)


@register_generator("acme_seams:echo")
def echo(settings):
    return EchoGenerator()


@register_vector_store("acme_seams:memory")
def memory(settings):
    return MemoryVectorStore()
"""


def test_one_module_and_one_setting_swap_each_seam(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "acme_seams.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    settings = Settings(
        data_dir=tmp_path / "data",
        embedder=EmbedderSettings(kind="acme_seams:words"),
        generator=GeneratorSettings(kind="acme_seams:echo"),
        store=StoreSettings(kind="acme_seams:memory"),
    )
    container = Container(settings)
    assert isinstance(container.embedder, HashingEmbedder)
    assert isinstance(container.generator, EchoGenerator)
    assert isinstance(container.vector_store, MemoryVectorStore)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nFull-time staff receive 28 days of annual leave.\n")
    assert build_ingestor(container).ingest(docs).ok
    assert container.vector_store.count() == container.catalog.chunk_count() > 0
    answer = container.assistant.ask("How many days of annual leave?", mode="generative")
    assert "28 days" in answer.answer and answer.model == "echo"


def test_an_unknown_kind_is_a_clear_configuration_error(tmp_path: Path) -> None:
    for settings in (
        Settings(data_dir=tmp_path, embedder=EmbedderSettings(kind="nope")),
        Settings(data_dir=tmp_path, embedder=EmbedderSettings(kind="no_such_module:x")),
    ):
        with pytest.raises(ConfigurationError, match=r"embedder kind|cannot import"):
            _ = Container(settings).embedder


def test_constructor_overrides_take_the_place_of_what_settings_would_build(
    tmp_path: Path,
) -> None:
    embedder, store, generator = HashingEmbedder(), MemoryVectorStore(), EchoGenerator()
    container = Container(
        Settings(data_dir=tmp_path), embedder=embedder, vector_store=store, generator=generator
    )
    assert container.embedder is embedder and container.vector_store is store
    assert container.generator is generator
    assert container.retriever.embedder is embedder and container.retriever.store is store
    assert container.assistant.generator is generator


def test_settings_refuse_servers_outside_loopback_unless_allowed() -> None:
    from rag.errors import ConfigurationError
    from rag.settings import load_settings

    for section, field in (
        ("generator", "base_url"),
        ("embedder", "base_url"),
        ("store", "chroma_host"),
    ):
        with pytest.raises(ConfigurationError, match=r"gpu\.corp, a host Ragstead may not"):
            load_settings(**{section: {field: "http://gpu.corp:8000/v1"}})
        allowed = load_settings(
            **{section: {field: "http://gpu.corp:8000/v1"}},
            network={"outbound_hosts": ["gpu.corp"]},
        )
        assert getattr(getattr(allowed, section), field) == "http://gpu.corp:8000/v1"
    with pytest.raises(ConfigurationError, match=r"auth\.oidc\.jwks_url"):
        load_settings(auth={"oidc": {"issuer": "x", "jwks_url": "https://sso.corp/jwks"}})
    with pytest.raises(ConfigurationError, match="http"):
        load_settings(generator={"base_url": "file:///etc/passwd"})
    assert load_settings(generator={"base_url": "http://[::1]:8000/v1"}).generator.base_url


def test_a_postgresql_url_is_checked_like_every_other_server() -> None:
    from rag.errors import ConfigurationError
    from rag.settings import load_settings

    assert load_settings(store={"postgres_url": "postgresql://u@127.0.0.1:5432/r"}).store
    assert load_settings(store={"postgres_url": "postgresql:///ragstead?host=/run/pg"}).store
    with pytest.raises(ConfigurationError, match=r"db\.corp, a host Ragstead may not"):
        load_settings(store={"postgres_url": "postgresql://u@db.corp/r"})
    allowed = {"outbound_hosts": ["db.corp"]}
    assert load_settings(store={"postgres_url": "postgresql://u@db.corp/r"}, network=allowed)
