"""Which sentences are worth MiniLM's exact sentence vector: a cheap first look from the default tier's states.

Matching needs all-MiniLM-L6-v2's sentence vectors; the default tier (version 3) runs MiniLM with trained adapters,
whose states are other vectors (mean-pooled last layer: cosine 0.49 to MiniLM's own on CheckThat! tweets). Encoding
every sentence again cost +128% per article (`benchmarks/narratives.py`). So the matcher looks first through the
tier's states: a fitted linear map (ridge, `narratives.train.fit_gate`) from their mean-pooled layers 3 and 6 to
MiniLM's vector (cosine 0.79 to the exact one), the same search and confidence as the real thing, and the exact
vector is computed only for sentences (and pairs) whose best approximate confidence reaches ``threshold``. What is
reported is always decided on exact vectors, by the same matcher; the gate only decides what is worth encoding.

Measured when fitted (``model/gate-minilm.json``): the share of matches the exact matcher would report that the gate
drops, and the share of ordinary news sentences it lets through (most of the cost). The gate reads only the query's
own text (the sentence, or the pair), so an answer does not depend on what surrounds it. Without the tier's states
(another tier, matching stored texts later) the gate encodes them itself: the same answers, at the old cost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from spinlens.narratives.encoders import normalise

MODEL_DIR = Path(__file__).resolve().parent / "model"
GATE_FILE = MODEL_DIR / "gate-minilm.json"


@dataclass(frozen=True)
class StateGate:
    """Fitted state: the map from pooled tier states to approximate MiniLM vectors, and the confidence threshold."""

    weights: np.ndarray  # (len(layers) * 384 + 1, 384): [pooled states, 1] @ weights ~ MiniLM's sentence vector
    threshold: float  # approximate confidence from which a query gets its exact vector
    layers: tuple[int, ...]  # the tier encoder's layers the map reads, in its column order
    delta_sha256: str  # first 12 hex digits of the tier's encoder delta: states of another delta are other vectors
    model: str  # the tier's model directory name, for its encoder delta
    card: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path = GATE_FILE) -> StateGate | None:
        """The shipped gate, or None when there is none or its tier's delta is not the installed one (then every
        sentence is encoded exactly: correct, slower)."""
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        gate = cls(
            weights=np.load(path.parent / data["weights"]).astype(np.float32),
            threshold=float(data["threshold"]),
            layers=tuple(data["layers"]),
            delta_sha256=data["delta_sha256"],
            model=data["model"],
            card=data,
        )
        return gate if gate.delta_path() is not None else None

    def delta_path(self) -> Path | None:
        """The tier's encoder delta, when the installed model's is the one this gate was fitted on."""
        import hashlib

        from spinlens.detect.pipeline import MODELS_DIR

        path = MODELS_DIR / self.model / "encoder-delta.safetensors"
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest()[:12] != self.delta_sha256:
            return None
        return path

    @cached_property
    def encoder(self):  # type: ignore[no-untyped-def]
        """The tier's encoder, run by the gate itself when the caller has no states of it."""
        from spinlens.detect.encoder import Encoder

        return Encoder(layers=self.layers, kind="minilm", delta=self.delta_path())

    def accepts(self, encoder) -> bool:  # type: ignore[no-untyped-def]
        """Whether a technique encoder's (`detect.encoder.Encoder`) states are the ones this gate reads."""
        delta = getattr(encoder, "delta", None)
        return (
            delta is not None
            and getattr(encoder, "kind", None) == "minilm"
            and getattr(encoder, "runtime", None) == "torch"
            and set(self.layers) <= set(getattr(encoder, "layers", ()))
            and getattr(encoder, "_delta_digest", None) == self.delta_sha256
        )

    def pooled(self, encoded, layers: tuple[int, ...], units: list[tuple[int, int]]) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Mean states of the gate's layers over each unit's wordpieces (`detect.encoder.Encoded`, ``layers`` side
        by side); zeros for a unit that has none."""
        width = encoded.vectors.shape[1] // len(layers) if len(layers) else 0
        cols = np.concatenate([np.arange(layers.index(k) * width, (layers.index(k) + 1) * width) for k in self.layers])
        starts = encoded.offsets[encoded.units[:, 0], 0] if len(encoded.units) else np.zeros(0, np.int64)
        out = np.zeros((len(units), len(cols)), np.float32)
        for i, (a, b) in enumerate(units):
            k = int(np.searchsorted(starts, a))
            if k < len(starts) and starts[k] < b:
                first, end = encoded.units[k]
                if end > first:
                    out[i] = encoded.vectors[first:end][:, cols].mean(axis=0)
        return out

    def approximate(self, pooled: np.ndarray) -> np.ndarray:
        """Approximate MiniLM sentence vectors (L2-normalised) of pooled states."""
        x = np.concatenate([pooled, np.ones((len(pooled), 1), np.float32)], axis=1)
        return normalise(x @ self.weights)

    def unit_vectors(
        self, texts: list[str], units: list[list[tuple[int, int]]], states: list | None
    ) -> list[np.ndarray]:  # type: ignore[type-arg]
        """Approximate vectors of each text's units, from ``states`` (per text: (`Encoded`, layers), or None) or
        from the gate's own encoder where a text has none."""
        states = states or [None] * len(texts)
        missing = [i for i, s in enumerate(states) if s is None]
        computed = (
            dict(zip(missing, self.encoder.encode_many([texts[i] for i in missing]), strict=True)) if missing else {}
        )
        out = []
        for i, us in enumerate(units):
            encoded, layers = states[i] if states[i] is not None else (computed[i], self.layers)
            out.append(self.approximate(self.pooled(encoded, tuple(layers), us)))
        return out
