"""Generator factories by settings ``kind``: one registration per implementation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from rag.errors import ConfigurationError

if TYPE_CHECKING:
    from rag.generators.base import Generator
    from rag.settings import Settings

#: builds a generator from the whole settings (its ``generator`` section, the model cache).
GeneratorFactory = Callable[["Settings"], "Generator"]
_FACTORIES: dict[str, GeneratorFactory] = {}
F = TypeVar("F", bound=GeneratorFactory)


def register_generator(kind: str) -> Callable[[F], F]:
    """Register ``factory(settings) -> Generator`` for ``generator.kind == kind``."""

    def decorate(factory: F) -> F:
        _FACTORIES[kind] = factory
        return factory

    return decorate


def generator_kinds() -> tuple[str, ...]:
    """The registered kinds."""
    return tuple(sorted(_FACTORIES))


def build_generator(settings: Settings) -> Generator:
    """The generator ``settings.generator.kind`` names (cheap: the model loads later)."""
    kind = settings.generator.kind
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigurationError(
            f"unknown generator kind {kind!r}", hint=f"use one of {', '.join(generator_kinds())}"
        )
    return factory(settings)
