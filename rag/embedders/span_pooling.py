"""A text's vector and the vectors of spans inside it (its sentences) from one forward pass.

A chunk and its sentences used to be embedded separately: every token went through the model
twice. Here the chunk goes through once; its vector is the model's own (mean of the token
embeddings, normalised), and each sentence's vector is the mean of the token embeddings whose
characters lie inside that sentence, normalised: the sentence read in its chunk's context.
Used with ``embedder.sentence_pooling: chunk`` (the default is ``separate``): measured against
separately embedded sentences, the served hybrid ranking holds on SciFact but dense-only search
and COVID-QA answer hits drop (README, Ingestion figures).

Only models of the plain shape qualify (one ``Transformer``, mean ``Pooling``, optional
``Normalize``, a fast tokenizer with offsets); for others ``span_pooling_reason`` says why not
and the caller embeds the sentences on their own. A span that truncation cut off has no tokens
left; it is returned as None for the caller to embed on its own.

Example::

    whole, spans = embed_with_spans(model, ["Leave. It is 28 days."], [[(0, 6), (7, 21)]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.query_encoder import unsupported_reason

Span = tuple[int, int]


def span_pooling_reason(model: Any) -> str | None:
    """Why ``model`` (a SentenceTransformer) cannot pool spans of one pass, or None if it can."""
    reason = unsupported_reason(model)
    if reason is not None:
        return reason
    tokenizer = getattr(model, "tokenizer", None)
    if not getattr(tokenizer, "is_fast", False):
        return "the tokenizer gives no character offsets (not a fast tokenizer)"
    return None


def embed_with_spans(
    model: Any,
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    *,
    batch_size: int = 32,
) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
    """Unit vectors of ``texts`` and of each character span of each text (one pass each).

    Texts are batched by length (less padding). Returns ``(whole, parts)``: ``whole`` float32
    (len(texts), dim); ``parts[i][j]`` the vector of ``spans[i][j]``, or None when no token of
    it survived truncation.
    """
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    whole: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(texts)
    parts: list[list[np.ndarray | None]] = [[] for _ in texts]
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        batch_texts = [texts[i] for i in batch]
        vectors, pooled = _one_batch(model, batch_texts, [spans[i] for i in batch], torch)
        for row, i in enumerate(batch):
            whole[i] = vectors[row]
            parts[i] = pooled[row]
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), parts
    return np.vstack(whole).astype(np.float32), parts


def _one_batch(
    model: Any, texts: list[str], spans: list[Sequence[Span]], torch: Any
) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
    features = model.preprocess(texts)
    offsets = model.tokenizer(
        texts,
        padding=True,
        truncation="longest_first",
        max_length=model.max_seq_length,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    if not torch.equal(offsets["input_ids"], features["input_ids"]):
        raise ValueError("the tokenizer's offsets do not match the model's own tokenization")
    device = model.device
    features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
    with torch.inference_mode():
        out = model(features)
        tokens = out["token_embeddings"].float()
        whole = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=-1)
    mask = features["attention_mask"].to(tokens.dtype)
    starts = offsets["offset_mapping"][..., 0].to(device)
    ends = offsets["offset_mapping"][..., 1].to(device)
    real = (ends > starts) & (mask > 0)  # special and padding tokens have empty offsets
    pooled: list[list[np.ndarray | None]] = []
    for row, row_spans in enumerate(spans):
        if not row_spans:
            pooled.append([])
            continue
        bounds = torch.tensor(row_spans, device=device)  # (n, 2)
        inside = (
            real[row][None, :]
            & (starts[row][None, :] >= bounds[:, :1])
            & (ends[row][None, :] <= bounds[:, 1:])
        ).to(tokens.dtype)  # (n, tokens)
        counts = inside.sum(1, keepdim=True)
        means = (inside @ tokens[row]) / counts.clamp(min=1.0)
        vectors = torch.nn.functional.normalize(means, dim=-1).cpu().numpy()
        kept = counts[:, 0].cpu().numpy() > 0
        pooled.append([vectors[j] if kept[j] else None for j in range(len(row_spans))])
    return whole.cpu().numpy(), pooled
