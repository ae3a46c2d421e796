"""The trained token-level model: a BiLSTM over frozen MiniLM vectors with two heads.

Heads, per wordpiece:
* ``tags``: outside / first of a span / inside a span (span identification; overlapping spans merged);
* ``techniques``: 14 independent probabilities that the wordpiece lies in a span of each PTC technique
  (used as features by the technique classifier);
* with ``label_layer``, ``label_tags``: outside / first / inside of a span of the labelling techniques alone
  (`LABEL_TECHNIQUES`), so that a label inside a longer span (a sentence of doubt or fear that calls a government a
  "regime") is a span of its own; the merged tags cannot say where it starts and ends.

Fine-tuning MiniLM's top three layers instead was tried on fold 0 and gave a lower span F1 (0.31 against 0.35
for this head after 2 epochs each; see the model card), so the encoder stays frozen and only this head is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from spinlens.detect.encoder import keep_most_central, length_batches, window_starts

N_TAGS = 3
# the techniques of the label layer: words that name someone or something (issue 19: "a label inside reported speech
# is its own span"); 16% of PTC's Name_Calling spans and 13% of its Loaded_Language spans lie inside a longer span
# of another technique, and on the genre check 53 of 181 name-calling spans were swallowed by a longer predicted span
LABEL_TECHNIQUES = ("Name_Calling,Labeling", "Loaded_Language")
SEGMENT = 512  # wordpieces per BiLSTM segment; long articles are cut into overlapping segments
SEGMENT_STRIDE = 384
# At most this many padded wordpieces a BiLSTM batch: units sorted by length and batched 64 at a time padded each to
# the longest; on the 700-word article (56 units, 839 wordpieces) the tagger took 90-97 ms in one batch and 55-56 ms
# in batches of <= 512 (one thread, busy 2-core machine); outputs equal to 3e-11
BATCH_TOKENS = 512


@dataclass
class TokenOutputs:
    """Per-wordpiece outputs for one article."""

    tag_probs: np.ndarray  # (n, 3): outside, begin, inside
    technique_probs: np.ndarray  # (n, n_techniques)
    vectors: np.ndarray  # (n, dim): the frozen encoder's vectors
    label_probs: np.ndarray | None = None  # (n, 3): the label layer's outside, begin, inside (models with one)


class SpanTagger(nn.Module):
    def __init__(
        self,
        input_dim: int,
        n_techniques: int,
        hidden: int = 192,
        projection: int = 256,
        dropout: float = 0.3,
        surface: bool = False,
        label_layer: bool = False,
    ):
        super().__init__()
        self.config = {
            "input_dim": input_dim,
            "n_techniques": n_techniques,
            "hidden": hidden,
            "projection": projection,
            "surface": surface,  # inputs carry `detect.surface` columns after the encoder vectors
            "label_layer": label_layer,  # tags of `LABEL_TECHNIQUES`' spans alone, after the merged tags
        }
        self.surface = surface
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Linear(input_dim, projection)
        # Two one-way LSTMs rather than one bidirectional LSTM over packed sequences: packing is ~14x slower
        # on a CPU, and reversing each row within its own length keeps padding out of the backward pass.
        self.forward_lstm = nn.LSTM(projection, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(projection, hidden, batch_first=True)
        self.tags = nn.Linear(2 * hidden, N_TAGS)
        self.techniques = nn.Linear(2 * hidden, n_techniques)
        self.label_tags = nn.Linear(2 * hidden, N_TAGS) if label_layer else None

    @property
    def n_layers(self) -> int:
        """Tag layers: 1 (merged spans), 2 with the label layer (its 3 tag logits after the merged ones)."""
        return 2 if self.label_tags is not None else 1

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (batch, width, input_dim) padded; lengths: true length of each row (padding never enters the LSTM).
        Returns tag logits (3 per tag layer, `n_layers`) and technique logits."""
        h = torch.relu(self.projection(self.dropout(x)))
        reverse = _reverse_index(lengths.to(x.device), x.shape[1]).unsqueeze(-1)
        ahead, _ = self.forward_lstm(h)
        behind, _ = self.backward_lstm(h.gather(1, reverse.expand_as(h)))
        behind = behind.gather(1, reverse.expand_as(behind))
        h = self.dropout(torch.cat([ahead, behind], -1))
        tags = self.tags(h)
        if self.label_tags is not None:
            tags = torch.cat([tags, self.label_tags(h)], -1)
        return tags, self.techniques(h)

    @torch.inference_mode()
    def predict(
        self,
        vectors_list: list[np.ndarray],
        units_list: list[np.ndarray],
        batch_segments: int = 64,
        batch_tokens: int | None = BATCH_TOKENS,
    ) -> list[TokenOutputs]:
        """Tag each article (its encoder vectors) unit by unit; units are batched across articles, sorted by length,
        at most ``batch_segments`` a batch and, with ``batch_tokens``, at most that many padded wordpieces.

        The BiLSTM never reads across a sentence unit's edge, so a sentence is tagged the same wherever it stands;
        padding never enters it, so a unit's outputs do not depend on the batch it is in (BATCH_TOKENS).
        """
        self.eval()
        jobs = [  # (article, unit's first wordpiece, segment start within the unit, unit's end)
            (a, int(u0), s, int(u1))
            for a, units in enumerate(units_list)
            for u0, u1 in units
            for s in window_starts(int(u1 - u0), SEGMENT, SEGMENT_STRIDE)
        ]
        n_tech, n_tags = self.techniques.out_features, N_TAGS * self.n_layers
        merged = [np.zeros((len(v), n_tags + n_tech), np.float32) for v in vectors_list]
        best = [np.full(len(v), -1, dtype=np.int64) for v in vectors_list]
        widths = [min(SEGMENT, end - first - s) for _, first, s, end in jobs]
        for group in length_batches(widths, batch_tokens, most=batch_segments):
            batch = [jobs[i] for i in group]
            lengths = [min(SEGMENT, end - first - s) for _, first, s, end in batch]
            x = np.zeros((len(batch), max(lengths), vectors_list[batch[0][0]].shape[1]), np.float32)
            for i, (a, first, s, _) in enumerate(batch):
                x[i, : lengths[i]] = vectors_list[a][first + s : first + s + lengths[i]]
            tags, techs = self(torch.from_numpy(x).to(self.tags.weight.device), torch.tensor(lengths))
            layers = [torch.softmax(t, -1) for t in tags.split(N_TAGS, -1)]
            rows = torch.cat([*layers, torch.sigmoid(techs)], -1).cpu().numpy()
            for i, (a, first, s, end) in enumerate(batch):
                keep_most_central(merged[a][first:end], best[a][first:end], rows[i, : lengths[i]], s, end - first)
        return [
            TokenOutputs(m[:, :N_TAGS], m[:, n_tags:], v, m[:, N_TAGS:n_tags] if self.n_layers == 2 else None)
            for m, v in zip(merged, vectors_list, strict=True)
        ]


def _reverse_index(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """Per row, positions that reverse the first ``length`` items and leave the padding where it is."""
    pos = torch.arange(width, device=lengths.device).unsqueeze(0)
    lengths = lengths.unsqueeze(1)
    return torch.where(pos < lengths, lengths - 1 - pos, pos)
