"""Generators: the ``Generator`` seam, its two implementations and the factory the container uses.

Importing this package is cheap: torch and transformers load when a model first loads.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import ConfigurationError
from rag.generators.base import Generator, Message, complete
from rag.generators.embedded import embedded_embedder_dir, embedded_generator_gguf
from rag.generators.openai_compatible import OpenAICompatibleGenerator
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
]

GENERATOR_KINDS = ("transformers", "openai")


def build_generator(
    kind: str,
    *,
    model_dir: Path | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    cache_dir: Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    timeout_s: float = 60.0,
    max_queue: int = 8,
    temperature: float = 0.0,
    max_retries: int = 2,
    context_window: int | None = None,
) -> Generator:
    """The generator for ``kind`` ("transformers" or "openai"); cheap, the model loads later."""
    if kind == "transformers":
        if model_dir is None and cache_dir is None:
            raise ConfigurationError(
                "the embedded generator needs a cache directory for its converted model",
                hint="set the data directory, or the generator's model_dir",
            )
        generator = TransformersGenerator(
            model_dir,
            cache_dir,
            device=device,
            dtype=dtype,
            max_queue=max_queue,
            temperature=temperature or None,
        )
        if context_window is not None:
            generator.context_window = context_window
        return generator
    if kind == "openai":
        if not base_url:
            raise ConfigurationError(
                "generator kind 'openai' needs base_url",
                hint="e.g. RAGSTEAD_GENERATOR__BASE_URL=http://127.0.0.1:8000/v1",
            )
        if not model:
            raise ConfigurationError(
                "generator kind 'openai' needs the model name the server serves",
                hint="e.g. RAGSTEAD_GENERATOR__MODEL=meta-llama/Llama-3.1-8B-Instruct",
            )
        return OpenAICompatibleGenerator(
            base_url,
            model,
            api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            context_window=context_window or 8192,
            temperature=temperature,
        )
    raise ConfigurationError(
        f"unknown generator kind {kind!r}", hint=f"use one of {', '.join(GENERATOR_KINDS)}"
    )
