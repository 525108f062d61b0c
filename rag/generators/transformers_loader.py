"""Loading transformers models once per process, and the converted cache of the embedded GGUF.

The embedded SmolLM2 ships as a quantized GGUF. Dequantizing it takes tens of seconds, so the
first load writes a plain transformers copy (float32 safetensors + tokenizer) under
``cache_dir/<gguf stem>-<hash of name, size and format>/``; later processes load that copy in
seconds. The copy is written into a temporary directory and renamed into place, so a killed
process never leaves a half-written cache.

The GGUF is read with ``AutoConfig``/``AutoTokenizer.from_pretrained(..., gguf_file=...)`` and
transformers' own GGUF tensor reader (``load_gguf_checkpoint``) into a model built with
``from_config``: ``AutoModelForCausalLM.from_pretrained(..., gguf_file=...)`` would need the
``accelerate`` package, and its model refuses ``save_pretrained``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.cpu_features import cpu_has_bf16
from rag.errors import ConfigurationError, GenerationError, RagsteadError
from rag.memory import release_freed_memory
from rag.model_cache import cached_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

#: bump when the converted layout changes, so old caches are not reused.
CACHE_FORMAT = "1"
DTYPES = ("float32", "bfloat16", "float16")
_STALE_TMP_S = 3600.0


@dataclass(frozen=True)
class LoadedModel:
    """A model and its tokenizer, ready on ``device``; ``source`` says where it was read from."""

    model: Any
    tokenizer: Any
    device: str
    dtype: str
    #: "gguf" (converted now), "cache" (the converted copy) or "dir" (a model directory).
    source: str
    load_seconds: float


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; other names are checked.

    ``auto`` and ``cpu`` on a Linux machine without NVIDIA device files are answered without
    importing PyTorch (seconds a server would otherwise wait before its first search)."""
    if device == "cpu" or (device == "auto" and not _may_have_cuda()):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown device {device!r}", hint="use auto, cpu, cuda or cuda:N"
        ) from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(
            f"device {device!r} was asked for but no CUDA GPU is visible",
            hint="use device auto or cpu, or install a CUDA build of torch",
        )
    return str(parsed)


def _may_have_cuda() -> bool:
    """False only where a CUDA GPU surely is not visible: Linux without /dev/nvidia* files."""
    if not Path("/proc/version").is_file():  # not Linux: ask PyTorch
        return True
    return any(Path("/dev").glob("nvidia[0-9]*"))


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> bfloat16 on CUDA and on CPUs with bfloat16 instructions (AVX512-BF16, AMX),
    float32 on other CPUs, where bfloat16 is emulated and slower than float32.

    Measured on a 2-core EPYC with AVX512-BF16 (``benchmarks/generator_speed.py``): bfloat16
    decodes SmolLM2-135M 1.6x as fast as float32 and reads a 1,000-token prompt 2.4x as fast.
    """
    if dtype == "auto":
        if device.startswith("cuda") or (device == "cpu" and cpu_has_bf16()):
            return "bfloat16"
        return "float32"
    if dtype not in DTYPES:
        raise ConfigurationError(f"unknown dtype {dtype!r}", hint=f"use auto or one of {DTYPES}")
    return dtype


def check_model_dir(model_dir: Path) -> None:
    """Raise ``ConfigurationError`` unless ``model_dir`` is a transformers model directory."""
    if not model_dir.is_dir():
        raise ConfigurationError(
            f"model directory {model_dir} does not exist",
            hint="set the generator's model_dir to a local transformers model directory",
        )
    if not (model_dir / "config.json").is_file():
        raise ConfigurationError(
            f"model directory {model_dir} has no config.json",
            hint="point model_dir at a transformers model (config.json, weights, tokenizer)",
        )


def gguf_cache_dir(gguf: Path, cache_root: Path, dtype: str = "float32") -> Path:
    """Where the converted copy of ``gguf`` in ``dtype`` lives: stable for the same file name
    and size. float32 is the conversion itself; another dtype is a copy cast from it, so that
    loading it maps the file instead of casting every tensor (a bfloat16 load from the float32
    copy peaks at about 1.2 GB for the 135M model; from its own copy, at its size)."""
    key = f"{gguf.name}:{gguf.stat().st_size}:format{CACHE_FORMAT}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    suffix = "" if dtype == "float32" else f"-{dtype}"
    return cache_root / f"{gguf.stem}-{digest}{suffix}"


def load_model(
    *,
    model_dir: Path | None,
    gguf: Path | None,
    cache_root: Path | None,
    device: str,
    dtype: str,
) -> LoadedModel:
    """The model for this configuration, loaded at most once per process (thread-safe)."""
    source_path = model_dir if model_dir is not None else gguf
    if source_path is None:
        raise ConfigurationError("either a model directory or a GGUF file is needed")
    key = ("generator", str(source_path.resolve()), device, dtype)
    return cached_model(key, lambda: _load_uncached(model_dir, gguf, cache_root, device, dtype))


def _load_uncached(
    model_dir: Path | None,
    gguf: Path | None,
    cache_root: Path | None,
    device: str,
    dtype: str,
) -> LoadedModel:
    start = time.perf_counter()
    cast_copy: Path | None = None  # where to keep this dtype's copy of a converted GGUF
    if model_dir is not None:
        check_model_dir(model_dir)
        model, tokenizer = _from_dir(model_dir, dtype, error=ConfigurationError)
        source = "dir"
    else:
        assert gguf is not None
        if cache_root is None:
            raise ConfigurationError(
                "the embedded generator needs a cache directory for its converted model",
                hint="pass cache_dir (the data directory's models/ folder)",
            )
        target = gguf_cache_dir(gguf, cache_root, dtype)
        converted = gguf_cache_dir(gguf, cache_root)
        if (target / "config.json").is_file():
            model, tokenizer = _from_dir(target, dtype, error=GenerationError)
            source = "cache"
        elif (converted / "config.json").is_file():
            model, tokenizer = _from_dir(converted, dtype, error=GenerationError)
            source = "cache"
            cast_copy = target
        else:
            model, tokenizer = _convert_gguf(gguf)
            _save_atomically(model, tokenizer, gguf, converted)
            source = "gguf"
            cast_copy = target if target != converted else None
    model = _place(model, device, dtype)
    if cast_copy is not None and gguf is not None:
        _save_atomically(model, tokenizer, gguf, cast_copy)  # maps at the next start
    release_freed_memory()  # a conversion's or a dtype cast's float32 copy
    seconds = time.perf_counter() - start
    log.info(
        "loaded %s from %s on %s/%s in %.1f s",
        model_dir or gguf,
        source,
        device,
        dtype,
        seconds,
    )
    return LoadedModel(model, tokenizer, device, dtype, source, seconds)


def _from_dir(path: Path, dtype: str, *, error: type[RagsteadError]) -> tuple[Any, Any]:
    """Model (in ``dtype``) and tokenizer from a local directory; failures become ``error``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, dtype=getattr(torch, dtype)
        )
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
        hint = (
            f"delete {path} to convert the embedded model again"
            if error is GenerationError
            else "check that the directory holds a causal language model and its tokenizer"
        )
        raise error(f"could not load the model in {path}: {exc}", hint=hint) from exc
    return model, tokenizer


def _convert_gguf(gguf: Path) -> tuple[Any, Any]:
    """Dequantize ``gguf`` into a float32 transformers model and its tokenizer (slow)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    log.info("converting %s to a transformers model (once; the result is cached)", gguf)
    try:
        config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)
        missing, unexpected = model.load_state_dict(tensors["tensors"], strict=False)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
        raise GenerationError(
            f"could not convert {gguf}: {exc}", hint="reinstall the model package"
        ) from exc
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if unexpected or set(missing) - tied:
        raise GenerationError(
            f"{gguf} does not match its architecture: missing {sorted(set(missing) - tied)}, "
            f"unexpected {sorted(unexpected)}",
            hint="reinstall the model package",
        )
    model.tie_weights()
    return model, tokenizer


def _save_atomically(model: Any, tokenizer: Any, gguf: Path, target: Path) -> None:
    """Write the converted copy to ``target`` via a temporary sibling directory and a rename."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_tmp(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        log.warning("cannot write the model cache under %s: %s", target.parent, exc)
        return
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {"gguf": gguf.name, "size": gguf.stat().st_size, "format": CACHE_FORMAT}
        (tmp / "ragstead-source.json").write_text(json.dumps(info, indent=2))
        _make_readable(tmp)
        os.rename(tmp, target)
    except OSError as exc:
        if (target / "config.json").is_file():
            log.info("another process wrote %s first; keeping its copy", target)
        else:
            log.warning("could not write the model cache %s: %s", target, exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _make_readable(directory: Path) -> None:
    """Give the directory and its files the umask's usual modes (mkdtemp makes them private)."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~umask)


def _remove_stale_tmp(target: Path) -> None:
    """Delete temporary directories left by killed conversions (older than an hour)."""
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def _place(model: Any, device: str, dtype: str) -> Any:
    """Move ``model`` to ``device`` and ``dtype`` and switch it to inference mode."""
    import torch

    try:
        model = model.to(device=torch.device(device), dtype=getattr(torch, dtype))
    except (RuntimeError, ValueError) as exc:
        raise GenerationError(f"could not place the model on {device}/{dtype}: {exc}") from exc
    model.eval()
    return model
