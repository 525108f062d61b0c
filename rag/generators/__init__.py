"""Generators: the ``Generator`` seam, its implementations and the factory the container uses.

Adding a kind of generator is one module: implement ``Generator`` and register a factory for a
settings ``kind`` with ``@register_generator("name")``; import the module here.

Importing this package is cheap: torch and transformers load when a model first loads.
"""

from __future__ import annotations

from rag.generators.base import Generator, Message, complete
from rag.generators.embedded import embedded_embedder_dir, embedded_generator_gguf
from rag.generators.openai_compatible import OpenAICompatibleGenerator
from rag.generators.registry import build_generator, generator_kinds, register_generator
from rag.generators.transformers_generator import GenerationStream, TransformersGenerator

__all__ = [
    "GenerationStream",
    "Generator",
    "Message",
    "OpenAICompatibleGenerator",
    "TransformersGenerator",
    "build_generator",
    "complete",
    "embedded_embedder_dir",
    "embedded_generator_gguf",
    "generator_kinds",
    "register_generator",
]
