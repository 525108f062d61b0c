"""4-bit weights recovered exactly from a model whose weights are 4-bit already.

The embedded SmolLM2 comes as a GGUF whose every projection is Q4_1: blocks of 32 weights, each
``m + d * q`` with ``q`` in 0..15, where the quantizer set ``m`` to the block's minimum and
``d`` to its range / 15 (so every block holds a 0 and a 15). Converted to float for
transformers, those values still lie on each block's grid. ``recover_int4`` finds the grid
again, checks that every weight lies on it, and packs it for PyTorch's 4-bit CPU kernel,
which reads a quarter of the bytes of bfloat16 per token: the same weights, not a new
quantization. A matrix that is not on such a grid (any other model) is refused, so the result
is never an approximation of a full-precision model.

The kernel takes bfloat16 activations; the product comes back in the caller's dtype.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

#: the block length of Q4_1 and of the kernel's groups along the input dimension
GROUP = 32
#: a weight off its block's grid by more than this share of the block's step is not 4-bit
_OFF_GRID = 0.2


@dataclass(frozen=True)
class Int4Weight:
    """A (out, in) weight matrix as packed 4-bit values with per-group scale and offset."""

    packed: Any
    scales_and_zeros: Any  # (in / GROUP, out, 2), bfloat16
    out_features: int

    def mm(self, x: Any) -> Any:
        """``x @ W.T`` for ``x`` of shape (n, in), in ``x``'s dtype."""
        import torch

        y = torch._weight_int4pack_mm_for_cpu(
            x.to(torch.bfloat16), self.packed, GROUP, self.scales_and_zeros
        )
        return y if y.dtype == x.dtype else y.to(x.dtype)


def recover_int4(weight: Any) -> Int4Weight | None:
    """``weight`` (out, in) as 4-bit groups of 32, or None where it is not on such a grid.

    Each group's step and offset are fitted by least squares to the levels found, which gives
    them exactly from float32 weights and to better than one rounding from bfloat16 ones.
    """
    import torch

    if weight.dim() != 2 or weight.shape[1] % GROUP or weight.device.type != "cpu":
        return None
    n, k = weight.shape
    blocks = weight.detach().float().reshape(n, k // GROUP, GROUP)
    low = blocks.amin(-1, keepdim=True)
    step = (blocks.amax(-1, keepdim=True) - low) / 15
    flat = step == 0
    levels = torch.round((blocks - low) / torch.where(flat, 1.0, step)).clamp_(0, 15)
    off = (blocks - (low + levels * step)).abs().amax(-1, keepdim=True)
    if bool((off > _OFF_GRID * step).logical_and(~flat).any()):
        return None
    # least squares for value = offset + step * level over each group's 32 weights
    mean_q = levels.mean(-1, keepdim=True)
    mean_w = blocks.mean(-1, keepdim=True)
    var_q = ((levels - mean_q) ** 2).mean(-1, keepdim=True)
    cov = ((levels - mean_q) * (blocks - mean_w)).mean(-1, keepdim=True)
    step = torch.where(var_q > 0, cov / torch.where(var_q > 0, var_q, 1.0), 0.0)
    offset = mean_w - step * mean_q
    # the kernel computes (q - 8) * scale + zero
    zeros = offset + 8 * step
    scales_and_zeros = (
        torch.cat((step, zeros), dim=-1).transpose(0, 1).contiguous().to(torch.bfloat16)
    )
    packed = torch._convert_weight_to_int4pack_for_cpu(levels.reshape(n, k).to(torch.int32), 1)
    return Int4Weight(packed, scales_and_zeros, n)


def int4_is_faster(
    dense_t: Any, int4: Int4Weight, dtype: Any, *, repeats: int = 10, rounds: int = 7
) -> bool:
    """Whether the 4-bit product of one row beats the dense one on this CPU (measured here).

    The 4-bit kernel is fast where the CPU has wide vector units and slow elsewhere;
    measuring is the only way to know, so the choice is made on this machine at load. The two
    alternate over ``rounds`` and each keeps its fastest round: a busy moment of the machine
    (another process, a page fault) slows one round, not the choice.
    """
    import torch

    x = torch.randn(1, dense_t.shape[0], dtype=dtype)
    runs = (lambda: torch.mm(x, dense_t), lambda: int4.mm(x))
    best = [float("inf"), float("inf")]
    with torch.inference_mode():
        for run in runs:
            run()
        for _ in range(rounds):
            for i, run in enumerate(runs):
                start = time.perf_counter()
                for _ in range(repeats):
                    run()
                best[i] = min(best[i], time.perf_counter() - start)
    return best[1] < best[0]
