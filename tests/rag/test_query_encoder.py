"""The onnxruntime encoder for queries and documents: the vectors sentence-transformers gives, a
graph that repairs itself, and the settings that choose it (real embedded MiniLM, real
onnxruntime)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.pipeline import index_config
from rag.cpu_features import cpu_has_int8_kernels
from rag.embedders import SentenceTransformerEmbedder
from rag.errors import ConfigurationError
from rag.query_encoder import OnnxQueryEncoder, unsupported_reason

TEXTS = [
    "How many days of annual leave do part-time staff get?",
    "Vitamin D deficiency is associated with higher cancer risk.",
    "Übergangsfrist für Verträge – Zürich, 2024 (§ 4.2)",
    "x",
    "a clause repeated until the text runs past the model's 256 token window " * 20,
]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformerEmbedder:
    e = SentenceTransformerEmbedder(
        cache_dir=tmp_path_factory.mktemp("models"), dtype="float32", device="cpu"
    )
    e.load()
    return e


def _torch_vectors(embedder: SentenceTransformerEmbedder, texts: list[str]) -> np.ndarray:
    """float32 PyTorch vectors through sentence-transformers' own ``encode``."""
    return np.asarray(embedder.model.encode(texts, normalize_embeddings=True), np.float32)


def test_queries_take_onnx_and_match_the_batch_vectors(
    embedder: SentenceTransformerEmbedder,
) -> None:
    assert isinstance(embedder._query_encoder(), OnnxQueryEncoder)
    embedder.clear_query_cache()
    batch = _torch_vectors(embedder, TEXTS)
    for text, expected in zip(TEXTS, batch, strict=True):
        vector = embedder.embed_query(text)
        assert vector.dtype == np.float32 and vector.shape == expected.shape
        assert float(np.abs(vector - expected).max()) < 1e-4, text


def test_a_new_process_searches_without_pytorch(
    embedder: SentenceTransformerEmbedder,
) -> None:
    import subprocess
    import sys

    assert embedder._cache_dir is not None
    model_dir = Path(embedder._key()[0])
    OnnxQueryEncoder.build(embedder.model, model_dir, embedder._cache_dir, name=embedder.name)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from rag.embedders import SentenceTransformerEmbedder\n"
        "e = SentenceTransformerEmbedder(cache_dir=Path(sys.argv[1]))\n"
        "e.prepare_queries()\n"
        "vectors = [e.embed_query(t).tolist() for t in json.loads(sys.argv[2])]\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'vectors': vectors}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(embedder._cache_dir), json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False  # the exported encoder and tokenizers alone
    expected = _torch_vectors(embedder, TEXTS)
    got = np.asarray(result["vectors"], dtype=np.float32)
    assert float(np.abs(got - expected).max()) < 1e-4


def test_bfloat16_documents_get_float32_queries(tmp_path: Path) -> None:
    bf16 = SentenceTransformerEmbedder(cache_dir=tmp_path, dtype="bfloat16", device="cpu")
    f32 = SentenceTransformerEmbedder(cache_dir=tmp_path, dtype="float32", device="cpu")
    assert isinstance(bf16._query_encoder(), OnnxQueryEncoder)
    reference = _torch_vectors(f32, [TEXTS[0]])[0]
    assert float(np.abs(bf16.embed_query(TEXTS[0]) - reference).max()) < 1e-4
    # an explicit bfloat16 keeps documents in PyTorch: onnxruntime embeds in float32 only
    assert bf16._document_encoder() is None
    assert isinstance(f32._document_encoder(), OnnxQueryEncoder)


def test_documents_take_onnx_and_match_sentence_transformers(
    embedder: SentenceTransformerEmbedder,
) -> None:
    # lengths from 1 to past the window, in no order: batches by length, padding, truncation
    texts = [*TEXTS, *(" ".join(["word"] * n) + f" {n}." for n in (3, 90, 1, 40, 300, 7, 12))]
    texts += [f"Sentence {i} of a longer list about leave, pay and travel." for i in range(70)]
    assert isinstance(embedder._document_encoder(), OnnxQueryEncoder)
    got = embedder.embed_batch(texts)
    expected = _torch_vectors(embedder, texts)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert float(np.abs(got - expected).max()) < 1e-4  # row for row: the order is kept
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384 and embedder.max_tokens == embedder.model.max_seq_length
    assert embedder.count_tokens(TEXTS[0]) == len(
        embedder.model.tokenizer(TEXTS[0], add_special_tokens=True)["input_ids"]
    )


def test_int8_documents_stay_near_the_float32_vectors_and_queries_stay_float32(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    int8 = SentenceTransformerEmbedder(cache_dir=embedder._cache_dir, document_precision="int8")
    texts = [
        *TEXTS,
        *(f"Clause {i}: the notice period is {i} days after signing." for i in range(40)),
    ]
    got, expected = int8.embed_batch(texts), _torch_vectors(embedder, texts)
    cosines = np.sum(got * expected, axis=1)
    assert float(cosines.min()) > 0.97 and float(cosines.mean()) > 0.99
    assert float(np.abs(got - expected).max()) > 1e-4  # not the float32 graph again
    assert np.array_equal(int8.embed_query(TEXTS[0]), embedder.embed_query(TEXTS[0]))
    with pytest.raises(ConfigurationError, match="document_precision int8"):
        SentenceTransformerEmbedder(document_precision="int8", document_runtime="torch")
    # auto: int8 where the CPU has int8 kernels and no dtype was asked for, detected
    auto = SentenceTransformerEmbedder(cache_dir=embedder._cache_dir, device="cpu")
    assert auto.document_precision == ("int8" if cpu_has_int8_kernels() else "float32")
    assert embedder.document_precision == "float32"  # embedder.dtype float32 was asked for
    config = index_config(int8, max_tokens=200, min_tokens=20, sentence_vectors=True)
    assert config["document_precision"] == "int8"  # switching precision re-embeds
    assert "document_precision" not in index_config(
        embedder, max_tokens=200, min_tokens=20, sentence_vectors=True
    )


def test_a_damaged_graph_file_is_exported_again(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    model = embedder.model
    model_dir = Path(embedder._key()[0])
    first = OnnxQueryEncoder.build(model, model_dir, tmp_path, name="minilm")
    (path,) = (tmp_path / "query-encoders").glob("minilm-*.onnx")
    path.write_bytes(b"not an onnx graph")
    again = OnnxQueryEncoder.build(model, model_dir, tmp_path, name="minilm")
    assert path.stat().st_size > 1_000_000
    assert np.allclose(first(TEXTS[0]), again(TEXTS[0]), atol=1e-6)
    assert not list((tmp_path / "query-encoders").glob(".export-*"))  # no temporary left


def test_torch_runtime_gives_the_same_vectors(
    embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    plain = SentenceTransformerEmbedder(
        cache_dir=tmp_path, dtype="float32", device="cpu", query_runtime="torch"
    )
    assert plain._query_encoder() is None
    assert not (tmp_path / "query-encoders").exists()
    assert np.allclose(plain.embed_query(TEXTS[1]), embedder.embed_query(TEXTS[1]), atol=1e-4)
    documents = SentenceTransformerEmbedder(
        cache_dir=tmp_path, dtype="float32", device="cpu", document_runtime="torch"
    )
    assert documents._document_encoder() is None
    assert np.allclose(documents.embed_batch(TEXTS), embedder.embed_batch(TEXTS), atol=1e-4)


def test_onnx_runtime_that_cannot_be_had_is_a_clear_error() -> None:
    nowhere = SentenceTransformerEmbedder(cache_dir=None, device="cpu", query_runtime="onnx")
    with pytest.raises(ConfigurationError, match="cache directory"):
        nowhere.embed_query("anything")
    with pytest.raises(ConfigurationError, match="query_runtime"):
        SentenceTransformerEmbedder(query_runtime="tensorrt")
    required = SentenceTransformerEmbedder(cache_dir=None, device="cpu", document_runtime="onnx")
    with pytest.raises(ConfigurationError, match="document_runtime"):
        required.embed_batch(["anything"])
    with pytest.raises(ConfigurationError, match="float32"):
        SentenceTransformerEmbedder(dtype="bfloat16", document_runtime="onnx")


class Transformer:
    pass


class Pooling:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def get_config_dict(self) -> dict[str, Any]:
        return {"pooling_mode": self.mode}


class Normalize:
    pass


class Dense:
    pass


class Model(list[Any]):
    """A SentenceTransformer's shape: its modules in order, and preprocess()."""

    def preprocess(self, texts: list[str]) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize(
    ("modules", "reason"),
    [
        ([Transformer(), Pooling("mean"), Normalize()], None),
        ([Transformer(), Pooling("mean")], None),
        ([Transformer(), Pooling("cls"), Normalize()], "pooling 'cls'"),
        ([Transformer(), Pooling("mean"), Dense(), Normalize()], "modules"),
    ],
)
def test_only_plain_mean_pooled_models_qualify(modules: list[Any], reason: str | None) -> None:
    found = unsupported_reason(Model(modules))
    assert (found is None) if reason is None else (found is not None and reason in found)
