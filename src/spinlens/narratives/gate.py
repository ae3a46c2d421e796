"""Which sentences are worth MiniLM's exact sentence vector: a cheap first look from the default tier's states.

Matching needs all-MiniLM-L6-v2's sentence vectors; the default tier (version 3) runs MiniLM with trained adapters,
whose states are other vectors (mean-pooled last layer: cosine 0.49 to MiniLM's own on CheckThat! tweets). Encoding
every sentence again cost +118% per article (`benchmarks/narratives.py`). So the matcher looks first through the
tier's states: a small trained head (`narratives.gate_head.GateHead`: a projection of the tier's layers 3 and 6,
one small transformer layer, a mean over the sentence's wordpieces; `narratives.train_gate`) gives an approximate
MiniLM vector (cosine 0.87 to the exact one on CheckThat! dev tweets), the same search and confidence as the real
thing follow, and the exact vector is computed only for sentences (and pairs) whose best approximate confidence
reaches ``threshold``. What is reported is always decided on exact vectors, by the same matcher; the gate only
decides what is worth encoding.

Measured when fitted (``model/gate-minilm.json``): the share of matches the exact matcher would report that the gate
drops, and the share of ordinary news sentences it lets through (most of the cost). On held-out news sentences
(odd-numbered PTC articles) against EUvsDisinfo / CLEF, at a threshold dropping <= 1% of exact matches: the previous
gate, a ridge map of mean-pooled states (cosine 0.79), let 9.5% / 12.1% through; this head lets 2.8% / 1.9% through
and costs about 16 ms on a 700-word article (2 cores; the encoder pass is 163 ms).
The gate reads only the query's own text (the sentence, or the pair), so an answer does not depend on what
surrounds it. Without the tier's states (another tier, matching stored texts later) the gate runs the tier's encoder
itself: the same answers, at a higher cost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spinlens.narratives.gate_head import GateHead

MODEL_DIR = Path(__file__).resolve().parent / "model"
GATE_FILE = MODEL_DIR / "gate-minilm.json"


@dataclass(frozen=True)
class StateGate:
    """Fitted state: the head from the tier's states to approximate MiniLM vectors, and the confidence threshold."""

    head: GateHead  # `narratives.gate_head` (torch, imported when a gate is read)
    threshold: float  # approximate confidence from which a query gets its exact vector
    layers: tuple[int, ...]  # the tier encoder's layers the head reads, in its column order
    delta_sha256: str  # first 12 hex digits of the tier's encoder delta: states of another delta are other vectors
    model: str  # the tier's model directory name, for its encoder delta
    card: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path = GATE_FILE) -> StateGate | None:
        """The shipped gate, or None when there is none or its tier's delta is not the installed one (then every
        sentence is encoded exactly: correct, slower)."""
        if not path.is_file():
            return None
        from safetensors.torch import load_file

        from spinlens.narratives.gate_head import GateHead

        data = json.loads(path.read_text(encoding="utf-8"))
        head = GateHead(**data["head"])
        head.load_state_dict({k: v.float() for k, v in load_file(str(path.parent / data["weights"])).items()})
        gate = cls(
            head=head.eval(),
            threshold=float(data["threshold"]),
            layers=tuple(data["layers"]),
            delta_sha256=data["delta_sha256"],
            model=data["model"],
            card=data,
        )
        return gate if gate.delta_path() is not None else None

    def delta_path(self) -> Path | None:
        """The tier's encoder delta, when the installed model's is the one this gate was fitted on."""
        from spinlens.detect.encoder import delta_digest
        from spinlens.detect.pipeline import MODELS_DIR

        path = MODELS_DIR / self.model / "encoder-delta.safetensors"
        return path if path.is_file() and delta_digest(path) == self.delta_sha256 else None

    @cached_property
    def encoder(self):  # type: ignore[no-untyped-def]
        """The tier's encoder, run by the gate itself when the caller has no states of it."""
        from spinlens.detect.encoder import Encoder

        return Encoder(layers=self.layers, kind="minilm", delta=self.delta_path())

    def accepts(self, encoder) -> bool:  # type: ignore[no-untyped-def]
        """Whether a technique encoder's (`detect.encoder.Encoder`) states are the ones this gate reads: the
        tier's delta, in torch float32 (the fast tier's int8 states are close, not the same: it is not accepted)."""
        delta = getattr(encoder, "delta", None)
        return (
            delta is not None
            and getattr(encoder, "kind", None) == "minilm"
            and getattr(encoder, "runtime", None) == "torch"
            and set(self.layers) <= set(getattr(encoder, "layers", ()))
            and getattr(encoder, "_delta_digest", None) == self.delta_sha256
        )

    def unit_states(self, encoded, layers: tuple[int, ...], units: list[tuple[int, int]]) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
        """Each unit's wordpiece states of the gate's layers (`detect.encoder.Encoded`, ``layers`` side by side);
        empty for a unit that has none."""
        width = encoded.vectors.shape[1] // len(layers) if len(layers) else 0
        cols = np.concatenate([np.arange(layers.index(k) * width, (layers.index(k) + 1) * width) for k in self.layers])
        starts = encoded.offsets[encoded.units[:, 0], 0] if len(encoded.units) else np.zeros(0, np.int64)
        out = []
        for a, b in units:
            k = int(np.searchsorted(starts, a))
            first, end = encoded.units[k] if k < len(starts) and starts[k] < b else (0, 0)
            out.append(encoded.vectors[first:end][:, cols])
        return out

    def approximate(self, rows: list[np.ndarray]) -> np.ndarray:
        """Approximate MiniLM sentence vectors (L2-normalised; zeros for a unit with no wordpieces)."""
        import torch

        from spinlens.narratives.gate_head import padded, token_batches

        width = self.head.proj.in_features
        out = np.zeros((len(rows), self.head.out.out_features), np.float32)
        keep = [i for i, r in enumerate(rows) if len(r)]
        with torch.inference_mode():
            for batch in token_batches([len(rows[i]) for i in keep]):
                chosen = [keep[j] for j in batch]
                out[chosen] = self.head(*padded([rows[i] for i in chosen], width)).numpy()
        return out

    def unit_vectors(
        self, texts: list[str], units: list[list[tuple[int, int]]], states: list | None
    ) -> list[np.ndarray]:  # type: ignore[type-arg]
        """Approximate vectors of each text's units, from ``states`` (per text: (`Encoded`, layers), or None) or
        from the gate's own encoder where a text has none; the head runs once over all texts' units."""
        states = states or [None] * len(texts)
        missing = [i for i, s in enumerate(states) if s is None]
        computed = (
            dict(zip(missing, self.encoder.encode_many([texts[i] for i in missing]), strict=True)) if missing else {}
        )
        rows: list[np.ndarray] = []
        for i, us in enumerate(units):
            encoded, layers = states[i] if states[i] is not None else (computed[i], self.layers)
            rows += self.unit_states(encoded, tuple(layers), us)
        vectors = self.approximate(rows)
        out, k = [], 0
        for us in units:
            out.append(vectors[k : k + len(us)])
            k += len(us)
        return out
