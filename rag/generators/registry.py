"""Generator factories by settings ``generator.kind`` (see ``rag.registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.registry import Registry

if TYPE_CHECKING:
    from rag.generators.base import Generator
    from rag.settings import Settings

GENERATORS: Registry[Generator] = Registry("generator")
register_generator = GENERATORS.register
generator_kinds = GENERATORS.kinds


def build_generator(settings: Settings) -> Generator:
    """The generator ``settings.generator.kind`` names (cheap: the model loads later)."""
    return GENERATORS.build(settings.generator.kind, settings)
