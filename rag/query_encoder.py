"""Embedding on CPU through onnxruntime: the same vectors as sentence-transformers, faster.

A search embeds one short question. In PyTorch that costs about 20-25 ms on a 2-core AVX2 CPU
for all-MiniLM-L6-v2, most of it in matrix products that re-pack the weights on every call;
onnxruntime packs them once and fuses the small operators, and embeds the same question in
10-13 ms: a quarter of the 50 ms a search may take. Documents go through the same graph in
batches sorted by length (``encode_batch``, a session with a thread per core): 3x PyTorch's
float32 speed on sentences, and on a CPU with bfloat16 instructions faster than PyTorch's
bfloat16 on sentences and about as fast on chunk-length texts (README, Ingestion figures),
without importing PyTorch at all.

The encoder is the model's transformer, its mean pooling and the L2 normalisation, exported
once with ``torch.onnx.export`` to ``<cache dir>/query-encoders/<model>-<hash>.onnx`` (a few
seconds; written to a temporary file and renamed, so a killed process leaves no half file),
beside a record (``.json``) of the tokenizer's settings and the float32 PyTorch vector of a
probe text. Every process checks the loaded graph against that vector and falls back to
PyTorch if they differ, so a stale or foreign file can never change what is retrieved.

Once exported, a process opens the encoder without PyTorch (``OnnxQueryEncoder.open``: the
``tokenizers`` library reads the model's ``tokenizer.json``, checked at export to cut text into
the tokens sentence-transformers does), so a server answers searches before PyTorch has loaded.
The vectors are float32 whatever dtype PyTorch would use.

Only models of the plain shape qualify: one ``Transformer`` module, mean ``Pooling`` and an
optional ``Normalize``, without prompts or a truncated dimension; others keep PyTorch.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import rag.offline  # noqa: F401  (ORT_DISABLE_TELEMETRY before onnxruntime loads)

log = logging.getLogger(__name__)

#: bump when the exported graph or its record changes, so older files are not reused.
EXPORT_FORMAT = "3"
#: largest difference from the PyTorch vector accepted for the probe text.
TOLERANCE = 1e-4
#: the least cosine between the int8 graph's probe vector and PyTorch's float32 one.
INT8_COSINE = 0.99
_PROBE = "Which documents say how many days of annual leave part-time staff get?"


def needs_encode(model: Any) -> str | None:
    """Why one text through ``model``'s modules (``torch_vector``, or the exported graph) would
    not give ``encode``'s vector, or None: prompts and truncation are ``encode``'s own steps."""
    if getattr(model, "default_prompt_name", None) is not None:
        return "the model has a default prompt"
    if getattr(model, "truncate_dim", None) is not None:
        return "the model truncates its vectors"
    if not hasattr(model, "preprocess"):
        return "this sentence-transformers has no preprocess()"
    return None


def unsupported_reason(model: Any) -> str | None:
    """Why ``model`` (a SentenceTransformer) cannot take the ONNX path, or None if it can."""
    names = [type(m).__name__ for m in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"modules {names} are not Transformer, Pooling[, Normalize]"
    reason = needs_encode(model)
    if reason is not None:
        return reason
    pooling = model[1]
    config = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
    mode = config.get("pooling_mode")
    if mode is None:
        on = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
        mode = "mean" if on == ["pooling_mode_mean_tokens"] else ",".join(on)
    if mode != "mean":
        return f"pooling {mode!r} is not mean pooling"
    return None


def model_digest(model_dir: Path) -> str:
    """A key for the exported file: the model's files (names, sizes, times; ``modules.json``
    among them) and the exporter's version, read without importing PyTorch."""
    try:
        exporter = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        exporter = "none"
    h = hashlib.sha256(f"{EXPORT_FORMAT}:{exporter}:{model_dir.resolve()}".encode())
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path.relative_to(model_dir)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def encoder_path(model_dir: Path, cache_root: Path, name: str | None = None) -> Path:
    """Where the graph of ``model_dir``'s query encoder lives (its record: ``.json`` beside)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name or model_dir.name)
    return cache_root / "query-encoders" / f"{name}-{model_digest(model_dir)}.onnx"


def _record_path(graph: Path) -> Path:
    return graph.with_suffix(".json")


class WordPieces:
    """One text to the model's input ids with the ``tokenizers`` library (no PyTorch), as
    sentence-transformers' ``preprocess`` does it: stripped, lower-cased where the model says,
    special tokens added, cut at ``max_length``."""

    def __init__(self, tokenizer_json: Path, max_length: int, lower: bool) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)
        self._lower = lower

    def __call__(self, text: str) -> dict[str, np.ndarray]:
        text = text.strip()
        encoding = self._tokenizer.encode(text.lower() if self._lower else text)
        return {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }


def _graph(transformer: Any) -> Any:
    """The module exported: transformer, masked mean pooling, L2 normalisation."""
    import torch

    class QueryGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, *rest: Any) -> Any:
            extra = {"token_type_ids": rest[0]} if rest else {}
            out = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, **extra
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    return QueryGraph().eval()


class OnnxQueryEncoder:
    """Texts -> unit vectors through an onnxruntime session: one text (``__call__``, a query)
    or many (``encode_batch``, documents)."""

    def __init__(
        self,
        tokenize: Callable[[str], dict[str, np.ndarray]],
        session: Any,
        max_length: int | None = None,
    ) -> None:
        self._tokenize = tokenize
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        #: the longest input in tokens (the model's ``max_seq_length``), where the record says
        self.max_length = max_length

    def __call__(self, text: str) -> np.ndarray:
        """The unit-length float32 vector of ``text``."""
        features = self._tokenize(text)
        feed = {name: features[name] for name in self._inputs}
        return np.asarray(self._session.run(None, feed)[0][0], dtype=np.float32)

    def encode_batch(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 vectors of ``texts``, (len(texts), dim), in batches of similar
        length: sorted by tokens, and a batch closes at ``batch_size`` texts or at
        ``batch_size * 32`` tokens with its padding, so long texts go in smaller batches and
        padding stays low (the mask keeps it out of every real token's vector)."""
        features = [self._tokenize(t) for t in texts]
        lengths = [int(f["input_ids"].shape[1]) for f in features]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        budget = batch_size * 32
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and end - start < batch_size
                and lengths[order[end]] * (end - start + 1) <= budget
            ):
                end += 1
            rows = order[start:end]
            out[rows] = self._run_padded([features[i] for i in rows], lengths[order[end - 1]])
            start = end
        return out

    def _run_padded(self, features: list[dict[str, np.ndarray]], width: int) -> np.ndarray:
        """One session run over ``features`` padded with zeros to ``width`` tokens."""
        feed = {}
        for name in self._inputs:
            block = np.zeros((len(features), width), dtype=np.int64)
            for r, f in enumerate(features):
                row = f[name][0]
                block[r, : row.shape[0]] = row
            feed[name] = block
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)

    @property
    def dim(self) -> int:
        """Vector dimension (the graph's output width)."""
        return int(self._session.get_outputs()[0].shape[-1])

    @classmethod
    def open(
        cls, model_dir: Path, cache_root: Path, *, name: str | None = None, threads: int = 1
    ) -> OnnxQueryEncoder | None:
        """The encoder exported earlier for ``model_dir``, opened and checked without PyTorch
        (a session of ``threads`` intra-op threads); None where there is none yet or it fails
        its check (``build`` then makes it)."""
        graph = encoder_path(model_dir, cache_root, name)
        try:
            return cls._from_record(None, model_dir, graph, threads)
        except Exception as exc:  # no record yet, or one from something else: build it
            log.debug("no usable exported query encoder at %s: %s", graph, exc)
            return None

    @classmethod
    def build(
        cls,
        model: Any,
        model_dir: Path,
        cache_root: Path,
        *,
        name: str | None = None,
        threads: int = 1,
    ) -> OnnxQueryEncoder:
        """Export (or reuse) the graph for ``model`` and check it; raises if it cannot be used."""
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(reason)
        target = encoder_path(model_dir, cache_root, name)
        if not target.is_file() or not _record_path(target).is_file():
            _export(model, model_dir, target)
        try:
            return cls._from_record(model, model_dir, target, threads)
        except Exception as exc:  # a file cut short or written by another exporter: redo it
            log.warning("re-exporting the query encoder %s: %s", target, exc)
            target.unlink(missing_ok=True)
            _export(model, model_dir, target)
            return cls._from_record(model, model_dir, target, threads)

    @classmethod
    def quantized(
        cls, model_dir: Path, cache_root: Path, *, name: str | None = None, threads: int = 1
    ) -> OnnxQueryEncoder:
        """The int8 form of the exported graph (weights quantized per channel, activations
        at run time), made once beside it from the float32 graph without PyTorch, and checked:
        its probe vector within ``INT8_COSINE`` of PyTorch's float32 one."""
        graph = encoder_path(model_dir, cache_root, name)
        target = graph.with_name(graph.stem + ".int8.onnx")
        if not target.is_file():
            _quantize(graph, target)
        try:
            return cls._from_record(None, model_dir, graph, threads, session_graph=target)
        except ValueError:
            target.unlink(missing_ok=True)  # cut short or from another graph: make it again
            _quantize(graph, target)
            return cls._from_record(None, model_dir, graph, threads, session_graph=target)

    @classmethod
    def _from_record(
        cls,
        model: Any | None,
        model_dir: Path,
        graph: Path,
        threads: int = 1,
        *,
        session_graph: Path | None = None,
    ) -> OnnxQueryEncoder:
        """The encoder on ``graph``, tokenizing as its record says: with ``tokenizers`` (no
        PyTorch), or through the loaded ``model`` (raises where there is none)."""
        record = json.loads(_record_path(graph).read_text())
        reference = np.asarray(record["probe"], dtype=np.float32)
        max_length = int(record["max_seq_length"])
        run = session_graph or graph
        if record.get("tokenizer") == "tokenizers":
            words = WordPieces(model_dir / "tokenizer.json", max_length, record["do_lower_case"])
            return cls._checked(words, run, reference, threads, max_length)
        if model is None:
            raise ValueError("only the loaded model tokenizes for this graph")
        return cls._checked(_model_tokenize(model), run, reference, threads, max_length)

    @classmethod
    def _checked(
        cls,
        tokenize: Callable[[str], dict[str, np.ndarray]],
        path: Path,
        reference: np.ndarray,
        threads: int = 1,
        max_length: int | None = None,
    ) -> OnnxQueryEncoder:
        """A session on ``path`` whose probe vector matches ``reference`` (else raises)."""
        import onnxruntime as ort

        ort.disable_telemetry_events()  # besides ORT_DISABLE_TELEMETRY (rag.offline)
        options = ort.SessionOptions()
        # one thread for a short query (the searches beside it need a core); a thread per core
        # for batches of documents
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if threads > 1:  # idle threads sleep: parse workers and searches need the cores
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        encoder = cls(tokenize, session, max_length)
        vector = encoder(_PROBE)
        if path.name.endswith(".int8.onnx"):
            cosine = float(vector @ reference)
            if cosine < INT8_COSINE:
                raise ValueError(f"the int8 graph's probe vector is at cosine {cosine:.4f}")
            return encoder
        diff = float(np.abs(vector - reference).max())
        if diff > TOLERANCE:
            raise ValueError(f"the exported graph differs from PyTorch by {diff:.2e}")
        return encoder


def _model_tokenize(model: Any) -> Callable[[str], dict[str, np.ndarray]]:
    """Tokenizing through the loaded model's ``preprocess`` (where ``tokenizers`` cannot)."""

    def tokenize(text: str) -> dict[str, np.ndarray]:
        features = model.preprocess([text])
        return {k: v.numpy().astype(np.int64) for k, v in features.items() if hasattr(v, "numpy")}

    return tokenize


#: texts on which the ``tokenizers`` path must give ``preprocess``'s ids before it is used.
_TOKENIZER_CHECKS = (
    _PROBE,
    "  Übergangsfrist für Verträge – Zürich, 2024 (§ 4.2)  ",
    "HbA1c ≥ 6.5% in COVID-19 patients; IL-1β and TNF-α levels?",
    "a clause repeated until the text runs past the model's token window " * 40,
)


def _tokenizer_record(model: Any, model_dir: Path) -> dict[str, Any]:
    """How a process without PyTorch tokenizes for ``model``: ``tokenizers`` where it gives
    ``preprocess``'s ids on the check texts, else the loaded model's own ``preprocess``."""
    max_length = int(model.max_seq_length)
    lower = bool(getattr(model[0], "do_lower_case", False))
    config = {"max_seq_length": max_length, "do_lower_case": lower}
    try:
        words = WordPieces(model_dir / "tokenizer.json", max_length, lower)
        same = all(
            np.array_equal(words(t)["input_ids"], model.preprocess([t])["input_ids"].numpy())
            for t in _TOKENIZER_CHECKS
        )
    except Exception as exc:  # no tokenizer.json, or one tokenizers cannot read
        log.debug("tokenizers cannot stand in for preprocess(): %s", exc)
        same = False
    return {**config, "tokenizer": "tokenizers" if same else "model"}


def torch_vector(model: Any, text: str) -> np.ndarray:
    """``text`` through ``model``'s modules in PyTorch (no ``encode`` batching), unit length."""
    import torch

    with torch.inference_mode():
        features = model.preprocess([text])
        features = {
            k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()
        }
        vector = model(features)["sentence_embedding"].float()
        vector = torch.nn.functional.normalize(vector, dim=-1)
    return np.asarray(vector[0].cpu().numpy(), dtype=np.float32)


def _export(model: Any, model_dir: Path, target: Path) -> None:
    """Write the ONNX graph of ``model``'s query path to ``target`` and its record (tokenizer
    settings, the float32 PyTorch vector of the probe text) beside it, each atomically, the
    record first."""
    import torch

    if next(model.parameters()).dtype != torch.float32:
        # a bfloat16 model's weights are rounded: export the float32 ones from the files
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    transformer = copy.deepcopy(model[0].auto_model).to("cpu").float().eval()
    # The SDPA attention path traces its mask for the example's length; eager attention
    # exports a graph that is right for every length.
    if hasattr(transformer, "set_attn_implementation"):
        transformer.set_attn_implementation("eager")
    else:  # pragma: no cover - older transformers
        transformer.config._attn_implementation = "eager"
    features = model.preprocess(["a short example question"])
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in features:
        names.append("token_type_ids")
    args = tuple(features[n].to("cpu") for n in names)
    graph = _graph(transformer)
    probe = model.preprocess([_PROBE])
    with torch.no_grad():
        reference = graph(*(probe[n].to("cpu") for n in names))[0].numpy()
    record = {**_tokenizer_record(model, model_dir), "probe": reference.tolist()}
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(_record_path(target), json.dumps(record).encode())
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    log.info("exporting the query encoder to %s (once; the file is reused)", target)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                args,
                tmp,
                input_names=names,
                output_names=["vector"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
                opset_version=17,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    """Leave out onnxruntime's advice to pre-process a graph before quantizing it."""
    return "pre-processing before quantization" not in record.getMessage()


def _quantize(graph: Path, target: Path) -> None:
    """Write the int8 form of the float32 ``graph`` to ``target`` (atomically)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().addFilter(_quiet_quantizer)  # its advice, logged on the root logger
    fd, tmp = tempfile.mkstemp(prefix=".quantize-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    log.info("quantizing the document encoder to int8 at %s (once; the file is reused)", target)
    try:
        quantize_dynamic(str(graph), tmp, weight_type=QuantType.QInt8, per_channel=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` into ``path`` through a temporary sibling and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
