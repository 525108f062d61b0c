"""A lean decoding loop for Llama-architecture models (the embedded SmolLM2 among them).

``model.generate`` runs each new token through transformers' general machinery: cache objects,
mask builders, logits processors, stopping criteria, and per layer three projections for the
attention and two for the MLP, a rotary table computed again for each position, a norm in six
operations. For a small model on a CPU that machinery, not the arithmetic, takes most of each
step (about half of it for SmolLM2-135M in bfloat16 on two cores). ``LlamaDecoder`` runs the same
model with fewer, larger operations:

- the q/k/v projections fused into one matrix and gate/up into another; the original modules'
  weights become views of the fused ones, so no weight is held twice and the model still works
  as before for anything else;
- the rotary cosines and sines computed once per request for every position it can reach;
- a key/value cache preallocated for the prompt plus the answer budget, written in place;
- one ``rms_norm`` call per norm; a step's attention as two small products (CPU SDPA kernels
  are built for long queries), greedy or sampled choice;
- where the weights are 4-bit already (the embedded model's GGUF is Q4_1), the steps read them
  in that form through PyTorch's 4-bit CPU kernel (``int4_weights``), a quarter of the bytes
  of bfloat16, chosen only where a probe at load finds it faster on this CPU; the prompt,
  one large product per matrix, stays dense.

With dense weights it gives the tokens ``model.generate`` gives (greedy, float32: the same ids,
a test checks it); in bfloat16 the fused operations round differently in the last place, as
two BLAS libraries would. ``LlamaDecoder.supports(model)`` says whether a model has the plain
Llama shape (no biases, SiLU, no sliding window); any other model goes through
``model.generate``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from rag.generators.int4_weights import Int4Weight, int4_is_faster, recover_int4
from rag.memory import release_freed_memory

#: model types whose layers have the plain Llama shape (checked field by field in ``supports``).
_LLAMA_TYPES = frozenset({"llama", "mistral"})


class LlamaDecoder:
    """Greedy or sampled decoding of one sequence at a time through a Llama model's weights."""

    def __init__(self, model: Any, *, step_weights: str = "auto") -> None:
        if not self.supports(model):
            raise ValueError(f"{type(model).__name__} is not a plain Llama-shaped model")
        config = model.config
        self.model = model
        self.layers = model.model.layers
        self.n_heads = int(config.num_attention_heads)
        self.n_kv = int(getattr(config, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // self.n_heads)
        self.eps = float(config.rms_norm_eps)
        self.dtype = model.dtype
        self.device = model.device
        self.scale = float(self.layers[0].self_attn.scaling)
        inner = model.model
        self._prompt_weights = self._prompt_views()
        self._embed = inner.embed_tokens.weight.detach()
        self._norm = inner.norm.weight.detach()
        self._head = model.lm_head.weight.detach().t()
        self._intermediate = int(config.intermediate_size)
        self._lock = threading.Lock()
        if step_weights not in ("auto", "dense", "int4"):
            raise ValueError(f"step_weights is auto, dense or int4, not {step_weights!r}")
        # the steps after the prompt read every weight once per token: where the weights are
        # 4-bit already (the embedded GGUF), they read the 4-bit form (a quarter of the bytes);
        # the prompt, one large product per matrix, stays dense, where it is faster
        packed = None
        if step_weights != "dense":
            packed = self._int4_weights(probe=step_weights == "auto")
            release_freed_memory()  # the recovery's float32 temporaries
            if packed is None and step_weights == "int4":
                raise ValueError("the model's weights are not 4-bit (Q4_1-like) groups")
        self.step_format = "int4" if packed is not None else "dense"
        # per layer for the steps: input norm, q/k/v fused, output, post-attention norm,
        # gate/up fused, down (dense: transposed views of fused copies, which the model's
        # modules then view in turn, so nothing is held twice)
        self._step_weights: list[tuple[Any, ...]] = packed or self._dense_step_weights()

    def _dense_step_weights(self) -> list[tuple[Any, ...]]:
        import torch

        weights = []
        with torch.no_grad():
            for layer in self.layers:
                attn, mlp = layer.self_attn, layer.mlp
                qkv = _fuse_into_views(attn.q_proj, attn.k_proj, attn.v_proj)
                gate_up = _fuse_into_views(mlp.gate_proj, mlp.up_proj)
                weights.append(
                    (
                        layer.input_layernorm.weight.detach(),
                        qkv.t(),
                        attn.o_proj.weight.detach().t(),
                        layer.post_attention_layernorm.weight.detach(),
                        gate_up.t(),
                        mlp.down_proj.weight.detach().t(),
                    )
                )
        self._prompt_weights = self._prompt_views()  # the modules' weights are views now
        return weights

    def _prompt_views(self) -> list[tuple[Any, ...]]:
        """Per layer, plain tensors (no module lookups in the loop), projections transposed:
        input norm, q, k, v, output, post-attention norm, gate, up, down. Views of the model's
        own weights: the prompt's large products need no fused copy."""
        views: list[tuple[Any, ...]] = []
        for layer in self.layers:
            attn, mlp = layer.self_attn, layer.mlp
            views.append(
                (
                    layer.input_layernorm.weight.detach(),
                    *(m.weight.detach().t() for m in (attn.q_proj, attn.k_proj, attn.v_proj)),
                    attn.o_proj.weight.detach().t(),
                    layer.post_attention_layernorm.weight.detach(),
                    *(m.weight.detach().t() for m in (mlp.gate_proj, mlp.up_proj, mlp.down_proj)),
                )
            )
        return views

    def _int4_weights(self, *, probe: bool) -> list[tuple[Any, ...]] | None:
        """Per layer, the projections as 4-bit weights; None where a matrix is not 4-bit, the
        device is not a CPU, or (``probe``) the 4-bit product is slower on this CPU."""
        import torch

        if self.device.type != "cpu":
            return None
        layers: list[tuple[Any, ...]] = []
        for ln1, q, k, v, o, ln2, gate, up, down in self._prompt_weights:
            qkv = recover_int4(torch.cat((q, k, v), dim=1).t())
            o4, down4 = recover_int4(o.t()), recover_int4(down.t())
            gate_up_t = torch.cat((gate, up), dim=1)  # the widest product of a step
            gate_up = recover_int4(gate_up_t.t())
            if qkv is None or o4 is None or gate_up is None or down4 is None:
                return None
            if probe and not layers and not int4_is_faster(gate_up_t, gate_up, self.dtype):
                return None
            del gate_up_t
            layers.append((ln1, qkv, o4, ln2, gate_up, down4))
        return layers

    @staticmethod
    def supports(model: Any) -> bool:
        """True where ``model`` is a Llama-shaped causal LM this loop runs exactly."""
        config = getattr(model, "config", None)
        inner = getattr(model, "model", None)
        if config is None or inner is None or not hasattr(inner, "layers"):
            return False
        if getattr(config, "model_type", None) not in _LLAMA_TYPES:
            return False
        if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
            return False
        if getattr(config, "hidden_act", "silu") != "silu":
            return False
        if getattr(config, "sliding_window", None):
            return False
        if getattr(config, "pretraining_tp", 1) not in (None, 1):
            return False
        return hasattr(inner, "rotary_emb") and hasattr(model, "lm_head")

    # -- decoding ------------------------------------------------------------------------

    def tokens(
        self,
        input_ids: Any,
        max_new_tokens: int,
        *,
        eos_ids: set[int],
        temperature: float | None = None,
        cancel: threading.Event | None = None,
        step_threads: int | None = None,
    ) -> Iterator[int]:
        """Yield new token ids for the one sequence ``input_ids`` (shape ``(1, n)``).

        Ends after ``max_new_tokens``, at an end-of-sequence id (not yielded), or once
        ``cancel`` is set. One call at a time per decoder (its weights are shared).
        ``step_threads``: PyTorch's intra-op threads for the steps after the prompt (the prompt
        itself uses the process's setting), restored at the end.
        """
        import torch

        if input_ids.dim() != 2 or input_ids.shape[0] != 1:
            raise ValueError("LlamaDecoder decodes one sequence: input_ids of shape (1, n)")
        position = int(input_ids.shape[1])
        length = position + max_new_tokens
        with self._lock, torch.inference_mode():
            cos, sin = self._rotary(length)
            cache = self._empty_cache(length)
            logits = self._prefill(input_ids.to(self.device), cos, sin, cache)
            # a step's rotary rows: (heads + kv, head_dim), the query rows carrying the
            # attention scale so that the scores need no multiplication of their own
            rows = torch.ones(self.n_heads + self.n_kv, 1, dtype=self.dtype, device=self.device)
            rows[: self.n_heads] = self.scale
            cos_rows, sin_rows = rows * cos[0, 0, :, None], rows * sin[0, 0, :, None]
            threads = torch.get_num_threads()
            if step_threads is not None:
                torch.set_num_threads(step_threads)
            try:
                for _ in range(max_new_tokens):
                    if cancel is not None and cancel.is_set():
                        return
                    token = _choose(logits, temperature)
                    if token in eos_ids:
                        return
                    yield token
                    if position >= length:
                        return
                    logits = self._step(
                        token, position, cos_rows[position], sin_rows[position], cache
                    )
                    position += 1
            finally:
                if step_threads is not None:
                    torch.set_num_threads(threads)

    def _empty_cache(self, length: int) -> list[tuple[Any, Any]]:
        """Per layer: keys transposed, (kv, head_dim, length), so a step multiplies the queries
        by a prefix of its columns; values (kv, length, head_dim)."""
        import torch

        kv, hd = self.n_kv, self.head_dim
        return [
            (
                torch.empty((kv, hd, length), dtype=self.dtype, device=self.device),
                torch.empty((kv, length, hd), dtype=self.dtype, device=self.device),
            )
            for _ in self.layers
        ]

    def _rotary(self, length: int) -> tuple[Any, Any]:
        """Cosines and sines for positions 0..length-1, shaped (1, 1, length, head_dim)."""
        import torch

        positions = torch.arange(length, device=self.device).unsqueeze(0)
        probe = torch.empty(1, dtype=self.dtype, device=self.device)
        cos, sin = self.model.model.rotary_emb(probe, positions)
        return cos.unsqueeze(1), sin.unsqueeze(1)

    def _prefill(self, ids: Any, cos: Any, sin: Any, cache: list[tuple[Any, Any]]) -> Any:
        """Run the prompt ``ids`` (1, t) through the model, filling the cache; last logits."""
        import torch
        import torch.nn.functional as F

        t = int(ids.shape[1])
        heads, kv, hd, eps = self.n_heads, self.n_kv, self.head_dim, self.eps
        q_size = heads * hd
        cos_t, sin_t = cos[:, :, :t], sin[:, :, :t]
        x = F.embedding(ids, self._embed)
        for (ln1, q_t, k_t, v_t, o_t, ln2, gate_t, up_t, down_t), (k_cache, v_cache) in zip(
            self._prompt_weights, cache, strict=True
        ):
            h = F.rms_norm(x, (x.shape[-1],), ln1, eps)
            q, k, v = h @ q_t, h @ k_t, h @ v_t
            q = q.view(1, t, heads, hd).transpose(1, 2)
            k = k.view(1, t, kv, hd).transpose(1, 2)
            v = v.view(1, t, kv, hd).transpose(1, 2)
            q = q * cos_t + _rotate_half(q) * sin_t
            k = k * cos_t + _rotate_half(k) * sin_t
            k_cache[:, :, :t] = k[0].transpose(-1, -2)
            v_cache[:, :t] = v[0]
            out = F.scaled_dot_product_attention(
                q, k, v, is_causal=t > 1, enable_gqa=heads != kv, scale=self.scale
            )
            x = x + torch.matmul(out.transpose(1, 2).reshape(1, t, q_size), o_t)
            h = F.rms_norm(x, (x.shape[-1],), ln2, eps)
            x = x + (F.silu(h @ gate_t) * (h @ up_t)) @ down_t
        last = F.rms_norm(x[0, -1:], (x.shape[-1],), self._norm, eps)
        return torch.mm(last, self._head).float()

    def _step(
        self, token: int, position: int, cos: Any, sin: Any, cache: list[tuple[Any, Any]]
    ) -> Any:
        """One new token at ``position``: write its keys and values, return the next logits.

        ``cos``/``sin`` are this position's rotary rows for the query and key heads, the query
        rows scaled by the attention scale. Every operation here runs once per layer and token,
        so each is counted: fused products, the rotary applied to queries and keys at once, the
        softmax computed in float32 in one call.
        """
        import torch
        import torch.nn.functional as F

        heads, kv, hd, eps = self.n_heads, self.n_kv, self.head_dim, self.eps
        qk_size, groups, inter = (heads + kv) * hd, heads // kv, self._intermediate
        half = hd // 2
        end = position + 1
        norm_shape = (self._embed.shape[1],)
        x = self._embed[token : token + 1]
        for (ln1, qkv_w, o_w, ln2, gate_up_w, down_w), (k_cache, v_cache) in zip(
            self._step_weights, cache, strict=True
        ):
            h = F.rms_norm(x, norm_shape, ln1, eps)
            qkv = _project(h, qkv_w)
            qk = qkv[:, :qk_size].view(heads + kv, hd)
            qk = qk * cos + torch.cat((-qk[:, half:], qk[:, :half]), dim=-1) * sin
            k_cache[:, :, position] = qk[heads:]
            v_cache[:, position] = qkv[:, qk_size:].view(kv, hd)
            scores = torch.matmul(qk[:heads].view(kv, groups, hd), k_cache[:, :, :end])
            weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(self.dtype)
            out = torch.matmul(weights, v_cache[:, :end])
            x = x + _project(out.view(1, heads * hd), o_w)
            h = F.rms_norm(x, norm_shape, ln2, eps)
            gate_up = _project(h, gate_up_w)
            x = x + _project(F.silu(gate_up[:, :inter]) * gate_up[:, inter:], down_w)
        return torch.mm(F.rms_norm(x, norm_shape, self._norm, eps), self._head).float()


def _project(x: Any, weight: Any) -> Any:
    """``x`` times a projection: a transposed dense matrix or 4-bit weights."""
    if isinstance(weight, Int4Weight):
        return weight.mm(x)
    return x @ weight


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _choose(logits: Any, temperature: float | None) -> int:
    """The next token from (1, vocab) logits: the argmax, or a sample at ``temperature``."""
    import torch

    if not temperature:
        return int(logits.argmax(-1).item())
    probs = torch.softmax(logits / temperature, dim=-1)
    return int(torch.multinomial(probs, 1).item())


def _fuse_into_views(*linears: Any) -> Any:
    """One weight matrix stacking ``linears``' weights; each linear's weight becomes a view of it.

    Computing the stacked product once is cheaper than one product per matrix, and the views
    keep the model's own modules working on the same memory (nothing is held twice).
    """
    import torch

    fused = torch.cat([lin.weight.detach() for lin in linears], dim=0)
    offset = 0
    for lin in linears:
        rows = lin.weight.shape[0]
        lin.weight = torch.nn.Parameter(fused[offset : offset + rows], requires_grad=False)
        offset += rows
    return fused
