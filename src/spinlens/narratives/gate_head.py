"""The gate's head (`narratives.gate`): token states of the default tier -> an approximate MiniLM sentence vector.

A projection of the tier's layers side by side to MiniLM's width, one transformer layer (trained from MiniLM's
sixth), and the mean over a unit's wordpieces; trained by `narratives.train_gate`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from spinlens.detect.bert import _Layer

BATCH_TOKENS = 512  # padded wordpieces per head batch (as the encoder batches its windows)


class GateHead(nn.Module):
    """Token states of the tier's layers (side by side) -> one approximate MiniLM sentence vector per unit: a
    projection to ``hidden``, one transformer layer, the mean over the unit's wordpieces, a map to MiniLM's width."""

    def __init__(
        self, width: int = 768, hidden: int = 256, heads: int = 4, intermediate: int = 1024, out: int = 384
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(width, hidden)
        self.layer = _Layer(hidden, heads, intermediate, eps=1e-12)
        self.out = nn.Linear(hidden, out)

    def tokens(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(units, wordpieces, width) padded states and their 0/1 mask -> (units, wordpieces, hidden)."""
        additive = (1.0 - mask[:, None, None, :].to(states.dtype)) * torch.finfo(states.dtype).min
        return self.layer(self.proj(states), additive)

    def finish(self, mean: torch.Tensor) -> torch.Tensor:
        """Mean token outputs (n, hidden) -> L2-normalised approximate MiniLM vectors (n, out)."""
        return nn.functional.normalize(self.out(mean), dim=-1)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One approximate vector per unit: (units, out)."""
        summed = (self.tokens(states, mask) * mask[..., None]).sum(1)
        return self.finish(summed / mask.sum(1).clamp(min=1)[:, None])


def padded(rows: list[np.ndarray], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of (wordpieces, width) states as one zero-padded batch and its mask."""
    n = max((len(r) for r in rows), default=0)
    x = np.zeros((len(rows), n, width), np.float32)
    mask = np.zeros((len(rows), n), np.float32)
    for i, r in enumerate(rows):
        x[i, : len(r)] = r
        mask[i, : len(r)] = 1.0
    return torch.from_numpy(x), torch.from_numpy(mask)


def token_batches(lengths: list[int], budget: int = BATCH_TOKENS) -> list[list[int]]:
    """Row indices, shortest first, grouped so that a batch's padded size stays within ``budget`` wordpieces."""
    from spinlens.detect.encoder import length_batches

    return length_batches(lengths, budget)
