"""An encoder's frozen lower layers computed once, so that a CPU trains only the layers above them (issue 19).

Training adapters through all six of all-mpnet-base-v2's layers that the accurate tier runs costs about four times
MiniLM's per wordpiece (768 wide against 384): 12-18 hours for the six parts on 2 cores. With layers 1 to K frozen,
their output never changes, between epochs or between folds: it is computed once for every window of every text,
kept in the run directory (float32, memory-mapped, so parallel workers share one copy) and each step runs only the
layers above K. Frozen states are exactly what inference computes (`tests/test_bert.py` checks that resuming from a
layer's states gives the full pass's), so nothing is approximated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spinlens.detect.bert import Bert
from spinlens.detect.encoder import WINDOW, keep_most_central, length_batches, window_starts
from spinlens.progress import progress
from spinlens.training.examples import Example


@dataclass(frozen=True)
class Window:
    """One encoder window of one sentence unit: what the model reads at inference, [CLS] and [SEP] aside."""

    doc: str
    first: int  # the unit's first wordpiece in the text
    end: int  # one past the unit's last
    start: int  # where the window starts in the unit

    @property
    def key(self) -> str:
        return f"{self.doc}\t{self.first + self.start}"

    def span(self) -> tuple[int, int]:
        """The window's wordpieces in the text."""
        return self.first + self.start, min(self.end, self.first + self.start + WINDOW - 2)


def windows(example: Example) -> list[Window]:
    """The windows of each sentence unit of ``example``, in order (as `detect.encoder.Encoder.encode_many`)."""
    return [
        Window(example.document.id, int(u0), int(u1), s)
        for u0, u1 in example.encoded.units
        for s in window_starts(int(u1 - u0))
    ]


class LowerStates:
    """The states after ``layers`` (each at most the last frozen layer) of every window, [CLS] and [SEP] included."""

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / "index.json").read_text())
        self.layers: tuple[int, ...] = tuple(meta["layers"])
        self.rows: dict[str, tuple[int, int]] = {k: (int(a), int(n)) for k, a, n in meta["rows"]}
        self.arrays = {k: np.load(folder / f"L{k}.npy", mmap_mode="r") for k in self.layers}

    @classmethod
    def build(
        cls, folder: Path, encoder_dir: Path, examples: list[Example], ids: dict, layers: tuple[int, ...], specials
    ) -> LowerStates:  # type: ignore[no-untyped-def]
        """Compute (once: an existing folder is read as it is) the states of every window of ``examples``.

        ``specials``: the ids of [CLS] and [SEP] (``<s>``, ``</s>`` for MPNet), which every window is wrapped in."""
        if (folder / "index.json").exists():
            return cls(folder)
        bert = Bert.from_directory(encoder_dir, n_layers=max(layers))
        cls_id, sep_id = specials
        todo = [w for ex in examples for w in windows(ex)]
        lengths = [w.span()[1] - w.span()[0] + 2 for w in todo]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        folder.mkdir(parents=True, exist_ok=True)
        hidden = bert.word.embedding_dim
        tmp = {
            k: np.lib.format.open_memmap(folder / f"L{k}.tmp.npy", "w+", np.float32, (int(offsets[-1]), hidden))
            for k in layers
        }
        groups = length_batches(lengths, 4096)
        for group in progress(groups, f"frozen layers {'+'.join(map(str, layers))}, once", total=len(groups)):
            width = max(lengths[i] for i in group)
            batch = np.full((len(group), width), bert.pad_id if bert.mpnet else 0, np.int64)
            mask = np.zeros_like(batch)
            for j, i in enumerate(group):
                a, b = todo[i].span()
                batch[j, : lengths[i]] = np.concatenate([[cls_id], ids[todo[i].doc][a:b], [sep_id]])
                mask[j, : lengths[i]] = 1
            with torch.inference_mode():
                states = bert(torch.from_numpy(batch), torch.from_numpy(mask))
            for k in layers:
                for j, i in enumerate(group):
                    tmp[k][offsets[i] : offsets[i + 1]] = states[k][j, : lengths[i]].numpy()
        for k, array in tmp.items():
            array.flush()
            (folder / f"L{k}.tmp.npy").replace(folder / f"L{k}.npy")
        rows = [[w.key, int(offsets[i]), lengths[i]] for i, w in enumerate(todo)]
        index = {"layers": list(layers), "rows": rows}
        (folder / "index.tmp.json").write_text(json.dumps(index))
        (folder / "index.tmp.json").replace(folder / "index.json")  # written last: a folder with it is whole
        return cls(folder)

    def batch(self, chosen: list[Window], device: str = "cpu") -> tuple[dict[int, torch.Tensor], torch.Tensor]:
        """The stored states of ``chosen`` padded to one width, by layer, and the attention mask."""
        try:
            rows = [self.rows[w.key] for w in chosen]
        except KeyError as missing:
            raise ValueError(f"window {missing} is not in the stored frozen states: delete them to recompute") from None
        width = max(n for _, n in rows)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        out = {}
        for k in self.layers:
            states = np.zeros((len(rows), width, self.arrays[k].shape[1]), np.float32)
            for j, (a, n) in enumerate(rows):
                states[j, :n] = self.arrays[k][a : a + n]
            out[k] = torch.from_numpy(states).to(device)
        for j, (_, n) in enumerate(rows):
            mask[j, :n] = 1
        return out, mask.to(device)


def states_above(
    bert: Bert, lower: dict[int, torch.Tensor], mask: torch.Tensor, frozen: int
) -> dict[int, torch.Tensor]:
    """Every layer's states: the stored ones up to ``frozen`` and those ``bert`` computes above it."""
    above = bert.run_layers(lower[frozen], mask, frozen)
    return {**lower, **{frozen + 1 + i: s for i, s in enumerate(above)}}


@torch.no_grad()
def vectors_from_lower(
    examples: list[Example], lower: LowerStates, bert: Bert, layers: tuple[int, ...], frozen: int, what: str
) -> list[np.ndarray]:
    """Each example's wordpiece vectors (``layers`` side by side), as `Encoder.encode_many` gives them with ``bert``,
    computed from the stored frozen states: only the layers above ``frozen`` run."""
    bert.eval()
    todo = [(e, w) for e, ex in enumerate(examples) for w in windows(ex)]
    dim = bert.word.embedding_dim * len(layers)
    out = [np.zeros((len(ex.encoded.offsets), dim), np.float32) for ex in examples]
    best = [np.full(len(ex.encoded.offsets), -1, np.int64) for ex in examples]
    lengths = [lower.rows[w.key][1] for _, w in todo]
    groups = length_batches(lengths, 4096)
    for group in progress(groups, what, total=len(groups)):
        states, mask = lower.batch([todo[i][1] for i in group])
        every = states_above(bert, states, mask, frozen)
        hidden = torch.cat([every[k] for k in layers], dim=-1).numpy()
        for j, i in enumerate(group):
            e, w = todo[i]
            window = hidden[j, 1 : lengths[i] - 1]
            keep_most_central(out[e][w.first : w.end], best[e][w.first : w.end], window, w.start, w.end - w.first)
    return out
