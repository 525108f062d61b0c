"""The sentence-transformers ``Embedder`` (settings ``embedder.kind: sentence-transformers``).

Example::

    embedder = SentenceTransformerEmbedder(model_dir=None)  # the embedded all-MiniLM-L6-v2
    vectors = embedder.embed_batch(["Annual leave is 28 days."])
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import rag.offline  # noqa: F401  (offline switches before any model library loads)
from rag.cpu_features import cpu_has_bf16, cpu_has_int8_kernels
from rag.embedders.base import Embedder
from rag.embedders.registry import register_embedder
from rag.embedders.span_pooling import embed_with_spans, span_pooling_reason
from rag.errors import ConfigurationError
from rag.generators.embedded import embedded_embedder_dir
from rag.generators.transformers_loader import resolve_device
from rag.model_cache import cached_model
from rag.query_encoder import OnnxQueryEncoder, needs_encode, torch_vector

if TYPE_CHECKING:
    from rag.settings import Settings


class TokenizerFileCounter:
    """Counts tokens with a ``tokenizer.json`` (the ``tokenizers`` library, no model loaded).

    Picklable (only the path travels), so worker processes can count exactly as the embedder
    does without loading torch: ``TokenizerFileCounter(path)("some text") -> int``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tokenizer: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._tokenizer = None

    def __call__(self, text: str) -> int:
        """Tokens of ``text``, special tokens included, never truncated."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.path))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)


#: how queries (and documents) are embedded: onnxruntime where it can (auto), always (onnx), or
#: never (torch).
QUERY_RUNTIMES = ("auto", "onnx", "torch")
#: how a chunk's sentence vectors are made: pooled from the chunk's own pass, or a pass each.
SENTENCE_POOLINGS = ("chunk", "separate", "sentences")
_log = logging.getLogger(__name__)


_THIS_THREAD = threading.local()


def _cores() -> int:
    """CPU cores this process may use (its affinity, where the platform says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _onnx_required(kind: str, reason: str) -> ConfigurationError:
    """The error for ``embedder.<kind>_runtime: onnx`` where the ONNX encoder cannot serve."""
    return ConfigurationError(
        f"embedder.{kind}_runtime is onnx, but the ONNX {kind} encoder is unusable: {reason}",
        hint=f"set embedder.{kind}_runtime to auto or torch",
    )


def _one_torch_thread() -> None:
    """Limit PyTorch to one intra-op thread on the calling thread (once; imports PyTorch)."""
    if not getattr(_THIS_THREAD, "one_torch_thread", False):
        import torch

        torch.set_num_threads(1)  # per thread (OpenMP): batch embedding elsewhere keeps its threads
        _THIS_THREAD.one_torch_thread = True


#: One short query gains nothing from intra-op threads on CPU, and they would fight the BM25 and
#: sentence searches running beside it (SciFact search p95 72 -> 41 ms on 2 cores): queries are
#: embedded on these threads, each limited to one torch thread where PyTorch embeds them (the
#: ONNX encoder is one thread of its own, and needs no PyTorch at all).
_QUERY_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ragstead-query")


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model, loaded lazily once per process and configuration."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        query_cache_size: int = 1024,
        cache_dir: Path | None = None,
        query_runtime: str = "auto",
        sentence_pooling: str = "separate",
        document_runtime: str = "auto",
        document_precision: str = "auto",
    ) -> None:
        if sentence_pooling not in SENTENCE_POOLINGS:
            raise ConfigurationError(
                f"unknown embedder.sentence_pooling {sentence_pooling!r}",
                hint=f"one of {', '.join(SENTENCE_POOLINGS)}",
            )
        for setting, value in (
            ("query_runtime", query_runtime),
            ("document_runtime", document_runtime),
        ):
            if value not in QUERY_RUNTIMES:
                raise ConfigurationError(
                    f"unknown embedder.{setting} {value!r}",
                    hint=f"one of {', '.join(QUERY_RUNTIMES)}",
                )
        if document_runtime == "onnx" and dtype not in ("auto", "float32"):
            raise ConfigurationError(
                f"embedder.document_runtime onnx embeds in float32, but embedder.dtype is {dtype}",
                hint="set embedder.dtype to auto or float32, or document_runtime to auto or torch",
            )
        self._model_dir = model_dir
        self._device = device
        self._dtype = dtype
        self._cache_dir = cache_dir
        self.query_runtime = query_runtime
        self.document_runtime = document_runtime
        if document_precision not in ("auto", "float32", "int8"):
            raise ConfigurationError(
                f"unknown embedder.document_precision {document_precision!r}",
                hint="auto, float32 or int8",
            )
        if document_precision == "int8" and document_runtime == "torch":
            raise ConfigurationError(
                "embedder.document_precision int8 runs through onnxruntime,"
                " but embedder.document_runtime is torch",
                hint="set document_runtime to auto or onnx, or document_precision to float32",
            )
        self._document_precision = document_precision
        self.sentence_pooling = sentence_pooling
        self._resolved: tuple[str, str, str] | None = None
        self.batch_size = batch_size
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self.name = model_dir.name if model_dir else "all-MiniLM-L6-v2"

    def _path(self) -> Path:
        if self._model_dir is None:
            return embedded_embedder_dir()
        if (
            not (self._model_dir / "config.json").exists()
            and not (self._model_dir / "modules.json").exists()
        ):
            raise ConfigurationError(
                f"embedder.model_dir {self._model_dir} is not a sentence-transformers model",
                hint="point it at a directory with modules.json or config.json",
            )
        return self._model_dir

    def _key(self) -> tuple[str, str, str]:
        """(model path, device, dtype) with ``auto`` resolved, once: every query asks for it,
        and resolving reads /proc/cpuinfo and looks up the model package (about 0.15 ms)."""
        if self._resolved is None:
            device = resolve_device(self._device)
            dtype = self._dtype
            if dtype == "auto":
                dtype = "bfloat16" if device == "cpu" and cpu_has_bf16() else "float32"
                if device.startswith("cuda"):
                    dtype = "float16"
            self._resolved = (str(self._path()), device, dtype)
        return self._resolved

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (loads on first use, once per process)."""
        path, device, dtype = self._key()

        def load() -> Any:
            import torch
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device=device, local_files_only=True)
            return model.to(getattr(torch, dtype)) if dtype != "float32" else model

        return cached_model(("embedder", path, device, dtype), load)

    def load(self) -> None:
        """Load what embedding documents and queries needs now rather than on first use: the
        ONNX encoders where they serve (no PyTorch), else the model."""
        if self._document_encoder() is None:
            _ = self.model
        self._query_encoder()

    def prepare_queries(self) -> None:
        """Make queries answerable now: the ONNX query encoder alone where it was exported
        before (no PyTorch: a server searches within a second or two of starting), else the
        model."""
        if self._query_encoder() is None:
            _ = self.model

    def _query_encoder(self) -> Any:
        """The onnxruntime query encoder (one thread) where ``query_runtime`` allows it, else
        None. Float32 queries beside documents embedded in bfloat16 where the CPU has it: the
        query side then carries no rounding (README, Retrieval figures)."""
        return self._onnx_encoder("query", self.query_runtime, threads=1)

    def _document_encoder(self) -> Any:
        """The onnxruntime encoder for batches of documents (a thread per core) where
        ``document_runtime`` allows it, else None (PyTorch embeds them)."""
        dtype_reason = (
            None
            if self._dtype in ("auto", "float32")
            else f"it embeds in float32 (embedder.dtype: {self._dtype})"
        )
        return self._onnx_encoder(
            "document",
            self.document_runtime,
            threads=_cores(),
            unusable=dtype_reason,
            int8=self.document_precision == "int8",
        )

    @property
    def document_precision(self) -> str:
        """The document encoder's precision, ``auto`` resolved: int8 where documents go through
        onnxruntime on a CPU with int8 kernels (``cpu_has_int8_kernels``) and no
        ``embedder.dtype`` was asked for; else float32 (or PyTorch's ``embedder.dtype``)."""
        if self._document_precision != "auto":
            return self._document_precision
        _, device, _ = self._key()
        onnx = self.document_runtime != "torch" and device == "cpu" and self._dtype == "auto"
        return "int8" if onnx and cpu_has_int8_kernels() else "float32"

    def _onnx_encoder(
        self,
        kind: str,
        runtime: str,
        *,
        threads: int,
        unusable: str | None = None,
        int8: bool = False,
    ) -> Any:
        """The exported graph opened for ``kind`` (query or document) with ``threads``
        intra-op threads, exported first from the PyTorch model where there is none yet; None
        where ``runtime`` is torch, or is auto and the graph cannot serve (``unusable`` says
        why, besides a GPU or no cache directory). With ``runtime`` onnx that is an error."""
        if runtime == "torch":
            return None
        path, device, _ = self._key()
        reason = (
            f"it runs on CPU (this embedder: {device})"
            if device != "cpu"
            else unusable
            or (
                "it needs a cache directory for the exported graph"
                if self._cache_dir is None
                else None
            )
        )
        if reason is not None:
            if runtime == "onnx":
                raise _onnx_required(kind, reason)
            _log.debug("%ss are embedded with PyTorch: %s", kind, reason)
            return None
        assert self._cache_dir is not None
        cache_dir = self._cache_dir

        def build() -> Any:
            opened = OnnxQueryEncoder.open(Path(path), cache_dir, name=self.name, threads=threads)
            try:  # exported once, from the PyTorch model; later processes need no PyTorch
                if opened is None:
                    opened = OnnxQueryEncoder.build(
                        self.model, Path(path), cache_dir, name=self.name, threads=threads
                    )
                if int8:  # from the float32 graph just checked
                    return OnnxQueryEncoder.quantized(
                        Path(path), cache_dir, name=self.name, threads=threads
                    )
                return opened
            except Exception as exc:  # any failure leaves the PyTorch path, which always works
                why = str(exc) or type(exc).__name__
                if runtime == "onnx":
                    raise _onnx_required(kind, why) from exc
                _log.warning("the ONNX %s encoder is unusable, using PyTorch: %s", kind, why)
                return None

        # the graph is the same whichever cache dir holds it; a failed build is remembered
        encoder = cached_model((f"{kind}-encoder", path, threads, int8), build)
        if encoder is None and runtime == "onnx":
            raise _onnx_required(kind, "its export or check failed (see the earlier warning)")
        return encoder

    @property
    def dim(self) -> int:
        """Vector dimension."""
        encoder = self._document_encoder()
        if encoder is not None:
            return int(encoder.dim)
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_tokens(self) -> int:  # type: ignore[override]
        """Longest input in tokens the model reads."""
        encoder = self._document_encoder()
        if encoder is not None and encoder.max_length is not None:
            return int(encoder.max_length)
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's tokenizer, special tokens included (through
        ``tokenizer.json`` where there is one: no model loaded)."""
        counter = self._file_counter
        if counter is not None:
            return counter(text)
        return len(
            self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"]
        )

    def token_counter(self) -> TokenizerFileCounter | None:
        """A picklable counter equal to :meth:`count_tokens` (None without ``tokenizer.json``)."""
        path = self._path() / "tokenizer.json"
        return TokenizerFileCounter(path) if path.is_file() else None

    @cached_property
    def _file_counter(self) -> TokenizerFileCounter | None:
        """This process's ``token_counter()``, made once."""
        return self.token_counter()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoder = self._document_encoder()
        if encoder is not None:
            return np.asarray(encoder.encode_batch(list(texts), self.batch_size), np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        # normalised again in float32: a bfloat16 model's own normalisation is off by up to 0.3 %
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` and of their character spans; with ``sentence_pooling: chunk``
        (and a model of the plain mean-pooling shape) from one forward pass per text
        (``rag.embedders.span_pooling``), else each span embedded on its own."""
        if self.sentence_pooling != "chunk" or not texts:
            return super().embed_spans(texts, spans)
        model = self.model
        reason = span_pooling_reason(model)
        if reason is not None:
            _log.debug("sentence vectors are embedded separately: %s", reason)
            return super().embed_spans(texts, spans)
        whole, pooled = embed_with_spans(model, texts, spans, batch_size=self.batch_size)
        # a span cut off by truncation (no token left) is embedded on its own
        missing = [(i, j) for i, row in enumerate(pooled) for j, v in enumerate(row) if v is None]
        if missing:
            fresh = self.embed_batch([texts[i][slice(*spans[i][j])] for i, j in missing])
            for (i, j), vector in zip(missing, fresh, strict=True):
                pooled[i][j] = vector
        dim = whole.shape[1]
        parts = [
            np.vstack([v for v in row if v is not None]).astype(np.float32)
            if row
            else np.zeros((0, dim), dtype=np.float32)
            for row in pooled
        ]
        return whole, parts

    def _embed_one(self, text: str) -> np.ndarray:
        """The vector ``embed_batch`` gives for one text, by the fastest path that gives it.

        On CPU in float32 that is the onnxruntime encoder (``rag.query_encoder``, 10-13 ms
        where PyTorch takes 20-25); otherwise the model's modules directly, without
        ``encode``'s batching machinery (about 3 ms less). Models with prompts or a truncated
        dimension take the ``encode`` path.
        """
        encoder = self._query_encoder()
        if encoder is not None:
            return np.asarray(encoder(text), dtype=np.float32)
        model = self.model
        if needs_encode(model) is not None:
            return self.embed_batch([text])[0]
        return torch_vector(model, text)

    def _embed_on_query_thread(self, text: str) -> np.ndarray:
        if self._query_encoder() is None:
            _one_torch_thread()
        return self._embed_one(text)

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (evaluation times cold queries)."""
        with self._cache_lock:
            self._query_cache.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query, with a small LRU cache for repeated questions."""
        with self._cache_lock:
            hit = self._query_cache.get(text)
            if hit is not None:
                self._query_cache.move_to_end(text)
                return hit
        if resolve_device(self._device) == "cpu":
            vector = _QUERY_THREADS.submit(self._embed_on_query_thread, text).result()
        else:
            vector = self._embed_one(text)
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector


@register_embedder("sentence-transformers")
def _from_settings(settings: Settings) -> SentenceTransformerEmbedder:
    s = settings.embedder
    return SentenceTransformerEmbedder(
        s.model_dir,
        device=s.device,
        dtype=s.dtype,
        batch_size=s.batch_size,
        query_cache_size=settings.retrieval.query_cache_size,
        cache_dir=settings.models_dir,
        query_runtime=s.query_runtime,
        sentence_pooling=s.sentence_pooling,
        document_runtime=s.document_runtime,
        document_precision=s.document_precision,
    )
