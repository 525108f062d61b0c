"""Offline by construction: switch off every download and phone-home before libraries load.

Every entry point imports this module before any model library, so the one other switch that
must precede them, the cap on oneDNN's kernel cache (``rag.memory``), is set here too.
"""

from __future__ import annotations

import os

from rag.memory import bound_kernel_caches

_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # onnxruntime (the query encoder) uploads usage events over HTTPS from a background thread
    # on Linux too (its 1DS telemetry), unless this is set before its environment starts.
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "SCARF_NO_ANALYTICS": "true",
    "DO_NOT_TRACK": "true",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def enforce_offline() -> None:
    """Set the environment switches that keep HF, Chroma, onnxruntime and unstructured off the
    network."""
    for key, value in _OFFLINE_ENV.items():
        os.environ[key] = value


enforce_offline()
bound_kernel_caches()  # an environment switch too: oneDNN reads it at its first kernel
