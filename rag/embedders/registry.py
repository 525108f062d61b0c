"""Embedder factories by settings ``kind``: one registration per implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from rag.errors import ConfigurationError

if TYPE_CHECKING:
    from rag.embedders.base import Embedder
    from rag.settings import Settings

#: builds an embedder from the whole settings (its section, the model cache, the query cache).
EmbedderFactory = Callable[["Settings"], "Embedder"]
_FACTORIES: dict[str, EmbedderFactory] = {}
F = TypeVar("F", bound=EmbedderFactory)


def register_embedder(kind: str) -> Callable[[F], F]:
    """Register ``factory(settings) -> Embedder`` for ``embedder.kind == kind``."""

    def decorate(factory: F) -> F:
        _FACTORIES[kind] = factory
        return factory

    return decorate


def embedder_kinds() -> tuple[str, ...]:
    """The registered kinds."""
    return tuple(sorted(_FACTORIES))


def build_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings.embedder.kind`` names (cheap: the model loads on first use)."""
    kind = settings.embedder.kind
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigurationError(
            f"unknown embedder kind {kind!r}", hint=f"one of {', '.join(embedder_kinds())}"
        )
    return factory(settings)
