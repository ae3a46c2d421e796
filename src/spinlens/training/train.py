"""Training: a span tagger over frozen MiniLM vectors of PTC articles, cross-validate by article, fit the classifiers on top.

Stage 1 (slow, resumable): for each fold, and once on all articles, train the BiLSTM tagger and store its
per-wordpiece outputs for every article. Stage 2 (fast): fit the technique classifier, the thresholds and the
calibration on those outputs, score held-out folds, and write the model into the package.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from spinlens import taxonomy
from spinlens.detect.config import ModelConfig, TaggerShape
from spinlens.detect.encoder import Encoder, window_starts
from spinlens.detect.model import LABEL_TECHNIQUES, SEGMENT, SEGMENT_STRIDE, SpanTagger, TokenOutputs
from spinlens.progress import progress
from spinlens.training.examples import Example, span_tags

if TYPE_CHECKING:
    from spinlens.detect.decide import Params

TECHNIQUES = list(taxonomy.PTC14)
_INDEX = {t: i for i, t in enumerate(TECHNIQUES)}


@dataclass
class TaggerConfig:
    epochs: int = 8
    lr: float = 1e-3
    batch_segments: int = 32  # sentence units per step
    technique_loss_weight: float = 0.5
    hidden: int = 192
    seed: int = 0
    surface: bool = False  # capitals, quotes and punctuation next to the (uncased) encoder vectors


def token_targets(example: Example) -> tuple[np.ndarray, np.ndarray]:
    """Tags (outside/begin/inside) and a multi-hot technique vector for every wordpiece."""
    offsets = example.encoded.offsets
    techniques = np.zeros((len(offsets), len(TECHNIQUES)), np.float32)
    for lab in example.labels:
        inside = (offsets[:, 0] < lab.end) & (offsets[:, 1] > lab.start)
        techniques[inside, _INDEX[lab.technique]] = 1.0
    return example.tags, techniques


def label_targets(example: Example) -> np.ndarray:
    """B/I/O tags of the label layer (`detect.model.LABEL_TECHNIQUES`' spans alone, merged among themselves only)."""
    spans = [(x.start, x.end) for x in example.labels if x.technique in LABEL_TECHNIQUES]
    return span_tags(example.encoded.offsets, spans)


def fit_tagger(examples: list[Example], config: TaggerConfig, checkpoint: Path | None = None) -> SpanTagger:
    """Train the BiLSTM tagger on the examples' encoder vectors; resumes from ``checkpoint`` after each epoch."""
    torch.manual_seed(config.seed)
    inputs = [_inputs(ex, config.surface) for ex in examples]
    model = SpanTagger(inputs[0].shape[1], len(TECHNIQUES), hidden=config.hidden, surface=config.surface)
    segments = []
    for ex, vec in zip(examples, inputs, strict=True):
        tags, techs = token_targets(ex)
        for u0, u1 in ex.encoded.units:  # one sentence unit at a time, as at inference
            for s in window_starts(int(u1 - u0), SEGMENT, SEGMENT_STRIDE):
                a, b = int(u0) + s, min(int(u1), int(u0) + s + SEGMENT)
                segments.append((vec[a:b], tags[a:b], techs[a:b]))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    per_epoch = (len(segments) + config.batch_segments - 1) // config.batch_segments
    total = config.epochs * per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda k: min(1.0, (k + 1) / 30) * max(0.02, 1 - k / total))
    first_epoch = 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        first_epoch = state["epoch"] + 1
    for epoch in range(first_epoch, config.epochs):
        model.train()
        order = np.random.default_rng(config.seed + epoch).permutation(len(segments))
        batches = range(0, len(order), config.batch_segments)
        for b in progress(batches, f"training tagger, epoch {epoch + 1}/{config.epochs}", total=per_epoch):
            chunk = [segments[i] for i in order[b : b + config.batch_segments]]
            lengths = [len(c[0]) for c in chunk]
            width = max(lengths)
            x = np.zeros((len(chunk), width, chunk[0][0].shape[1]), np.float32)
            tags = np.full((len(chunk), width), -100, np.int64)
            techs = np.zeros((len(chunk), width, len(TECHNIQUES)), np.float32)
            mask = np.zeros((len(chunk), width), np.float32)
            for j, (xs, ts, cs) in enumerate(chunk):
                x[j, : len(xs)], tags[j, : len(xs)], techs[j, : len(xs)], mask[j, : len(xs)] = xs, ts, cs, 1
            xt, tt, ct, mt = map(torch.from_numpy, (x, tags, techs, mask))
            tag_logits, tech_logits = model(xt, torch.tensor(lengths))
            tag_loss = nn.functional.cross_entropy(tag_logits.reshape(-1, 3), tt.reshape(-1), ignore_index=-100)
            tech_loss = nn.functional.binary_cross_entropy_with_logits(tech_logits, ct, reduction="none").mean(-1)
            tech_loss = (tech_loss * mt).sum() / mt.sum()
            loss = tag_loss + config.technique_loss_weight * tech_loss
            step(loss, model, optimiser, schedule)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimiser, schedule, epoch)
    return model.eval()


def step(loss: torch.Tensor, model: nn.Module, optimiser, schedule) -> None:  # type: ignore[no-untyped-def]
    """One optimiser step with the gradient clipped to norm 1."""
    optimiser.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimiser.step()
    schedule.step()


def save_checkpoint(
    path: Path, model: nn.Module, optimiser, schedule, epoch: int, keys: set[str] | None = None
) -> None:  # type: ignore[no-untyped-def]
    """What a rerun resumes from, written whole or not at all; ``keys``: only these of the model's state."""
    state = {
        "model": {k: v for k, v in model.state_dict().items() if keys is None or k in keys},
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "epoch": epoch,
    }
    torch.save(state, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


def _inputs(example: Example, surface: bool) -> np.ndarray:
    from spinlens.detect.surface import tagger_inputs

    enc = example.encoded
    return tagger_inputs(example.document.text, enc.offsets, enc.vectors, surface)


def save_outputs(path: Path, ids: list[str], outputs: list[TokenOutputs]) -> None:
    arrays = {}
    for aid, out in zip(ids, outputs, strict=True):
        arrays[f"{aid}/tags"] = out.tag_probs.astype(np.float16)
        arrays[f"{aid}/techniques"] = out.technique_probs.astype(np.float16)
        if out.label_probs is not None:
            arrays[f"{aid}/labels"] = out.label_probs.astype(np.float16)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_outputs(paths: list[Path], examples: list[Example]) -> dict[str, TokenOutputs]:
    """Stored tagger outputs (averaged over several taggers, one file each), joined with the encoder vectors."""
    files = [np.load(p) for p in paths]
    try:
        out = {}
        for ex in examples:
            aid = ex.document.id
            tags = np.mean([z[f"{aid}/tags"].astype(np.float32) for z in files], axis=0)
            techs = np.mean([z[f"{aid}/techniques"].astype(np.float32) for z in files], axis=0)
            out[aid] = TokenOutputs(tags, techs, ex.encoded.vectors)
        return out
    finally:
        for z in files:
            z.close()


def run_stage1(
    examples: list[Example],
    folds: dict[str, int],
    run_dir: Path,
    config: TaggerConfig,
    which: list[str],
    extra: list[Example] | None = None,
) -> None:
    """Train the tagger per fold (``which``: fold numbers as strings and/or ``all``); store outputs for every article.

    ``extra`` examples (other data) join every training set and are never predicted or scored.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "tagger.json").write_text(json.dumps(asdict(config), indent=1))
    ids = [ex.document.id for ex in examples]
    for name in which:
        out_path = run_dir / f"outputs-{name}.npz"
        if out_path.exists():
            continue
        train = examples if name == "all" else [ex for ex in examples if str(folds[ex.document.id]) != name]
        train = train + (extra or [])
        t0 = time.time()
        model = fit_tagger(train, config, checkpoint=run_dir / f"tagger-{name}.pt")
        outputs = model.predict([_inputs(ex, config.surface) for ex in examples], [ex.encoded.units for ex in examples])
        save_outputs(out_path, ids, outputs)
        print(f"stage 1 {name}: {time.time() - t0:.0f}s", flush=True)


def cross_validated_report(
    examples: list[Example], folds: dict[str, int], seed_dirs: list[Path]
) -> tuple[dict, Params, list]:
    """Stage 2 on stored outputs: cross-fitted scores per fold, and the parameters tuned on all held-out folds.

    The report also keeps each fold's held-out (confidence, right?) pairs, for the reliability diagrams.
    """
    from spinlens.training.tune import evaluate_fold, fold_predictions, reliability, reliability_bins, tune

    n_folds = max(folds.values()) + 1
    preds = []
    for f in progress(range(n_folds), "technique classifier per fold"):
        outputs = load_outputs([d / f"outputs-{f}.npz" for d in seed_dirs], examples)
        preds.append(fold_predictions(f, examples, folds, outputs, TECHNIQUES))
    per_fold, pairs = [], {"span": [], "technique": []}
    for f in range(n_folds):
        params_f = tune([p for p in preds if p.fold != f], TECHNIQUES)
        per_fold.append(evaluate_fold(preds[f], params_f, TECHNIQUES))
        for kind, values in reliability(preds[f], params_f, TECHNIQUES).items():
            pairs[kind] += values
    final = tune(preds, TECHNIQUES)
    metrics = sorted(per_fold[0])
    report = {
        "folds": n_folds,
        "per_fold": per_fold,
        "mean": {m: float(np.mean([r[m] for r in per_fold])) for m in metrics},
        "std": {m: float(np.std([r[m] for r in per_fold])) for m in metrics},
        "reliability": {kind: reliability_bins(values) for kind, values in pairs.items()},
    }
    return report, final, preds


def plot_reliability(report: dict, path: Path) -> None:
    """The model card's reliability diagrams: held-out share right against stated confidence, per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {
        "span": "span confidence\n(right: overlaps a gold span)",
        "technique": "technique confidence\n(right: a gold span there has this technique)",
    }
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), dpi=90)
    for ax, (kind, title) in zip(axes, titles.items(), strict=True):
        rows = report["reliability"][kind]
        ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfectly calibrated")
        ax.plot([r["confidence"] for r in rows], [r["right"] for r in rows], "o-", color="#c0392b", label="held-out")
        for r in rows:
            ax.annotate(
                str(r["n"]), (r["confidence"], r["right"]), fontsize=7, xytext=(3, -9), textcoords="offset points"
            )
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="stated confidence", ylabel="share right", title=title)
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Reliability on held-out folds ({report['folds']}-fold CV; numbers: spans per bin)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_model(
    model_dir: Path,
    examples: list[Example],
    seed_dirs: list[Path],
    params: Params,
    encoder: Encoder,
    report: dict,
    name: str,
    version: str,
    training_data: dict | None = None,
) -> None:
    """The shipped model: taggers trained on all articles (one per seed), classifier on all gold spans, params."""
    from safetensors.torch import save_file

    from spinlens.detect.techniques import TechniqueClassifier
    from spinlens.training.tune import TC_C, gold_span_features

    model_dir.mkdir(parents=True, exist_ok=True)
    tagger_configs = []
    for k, seed_dir in enumerate(seed_dirs):
        config = TaggerConfig(**json.loads((seed_dir / "tagger.json").read_text()))
        tagger = fit_tagger(examples, config, checkpoint=seed_dir / "tagger-all.pt")  # resumes: already trained
        state = {key: v.half().contiguous() for key, v in tagger.state_dict().items()}
        save_file(state, str(model_dir / f"tagger-{k}.safetensors"))
        tagger_configs.append(tagger.config)
    outputs = load_outputs([d / "outputs-all.npz" for d in seed_dirs], examples)
    x, y, _ = gold_span_features(examples, outputs)
    TechniqueClassifier.fit(x, y, len(TECHNIQUES), c=TC_C).save(model_dir / "techniques.npz")
    ModelConfig(
        name=name,
        version=version,
        techniques=TECHNIQUES,
        encoder=f"{encoder.spec.title}, frozen",
        encoder_kind=encoder.kind,  # type: ignore[arg-type]
        encoder_layers=encoder.layers,
        runtime=encoder.runtime,  # type: ignore[arg-type]
        taggers=[TaggerShape(**c) for c in tagger_configs],
        params=params,
        cross_validation=report,
        training_data=training_data,
    ).write(model_dir)
    if "reliability" in report:
        plot_reliability(report, model_dir / "reliability.png")
    if not (model_dir / "MODEL_CARD.md").exists():
        (model_dir / "MODEL_CARD.md").write_text(model_card(name, version, encoder, report, training_data or {}))


def model_card(name: str, version: str, encoder: Encoder, report: dict, training_data: dict) -> str:
    """A first model card for a model trained here: data, encoder, cross-validated scores (edit it by hand after)."""
    extra = training_data.get("extra") or {}
    lines = [
        f"# {name} {version}",
        "",
        f"Written by `spinlens train`. Encoder: {encoder.name}, frozen; BiLSTM span tagger; logistic technique classifier.",
        "",
        f"Data: {training_data.get('data', 'PTC train')}: {training_data.get('articles', '?')} articles, "
        f"{sum((training_data.get('spans') or {}).values())} gold spans.",
        f"Extra training data (joined every tagger training set, never scored): {extra.get('articles', 0)} articles "
        f"({extra.get('corrected_articles', 0)} corrected by people), {extra.get('spans', 0)} spans"
        + (f", from {', '.join(extra['folders'])}" if extra.get("folders") else "")
        + ".",
        "",
        f"## {report.get('folds', '?')}-fold cross-validation by article (PTC folds only)",
        "",
        "| metric | mean | std |",
        "|---|---|---|",
        *[f"| {m} | {report['mean'][m]:.3f} | {report['std'][m]:.3f} |" for m in report.get("mean", {})],
        "",
    ]
    return "\n".join(lines)


def training_profile(articles: dict, labels: list) -> dict:  # type: ignore[type-arg]
    """Size and gold technique counts of the training data: what corpus reports compare a corpus with."""
    from collections import Counter

    counts = Counter(lab.technique for lab in labels)
    return {
        "data": "PTC train (SemEval-2020 Task 11), gold labels",
        "articles": len(articles),
        "words": sum(len(doc.text.split()) for doc in articles.values()),
        "spans": {t: counts.get(t, 0) for t in TECHNIQUES},
    }


MODEL_NAME = "ptc-minilm-bilstm"
MODEL_VERSION = "2"  # 2: sentence units, per-technique thresholds, verdicts from spans, two confidences


def train_model(
    data_dir: Path,
    run_dir: Path,
    model_dir: Path,
    config: TaggerConfig,
    n_folds: int = 5,
    seeds: int = 1,
    cache_dir: Path | None = None,
    memes: Path | None = None,
    encoder: Encoder | None = None,
    extra_dirs: list[Path] | None = None,
    name: str = MODEL_NAME,
) -> dict:
    """Everything, resumable: cross-validated stage 1 and 2, then the shipped model. Returns the CV report.

    ``seeds`` taggers are trained (different initialisation and order), and their outputs are averaged.
    """
    from spinlens.evaluate.folds import article_folds
    from spinlens.formats.ptc import read_articles, read_labels
    from spinlens.training.examples import build_examples

    articles = read_articles(data_dir / "train-articles")
    labels = read_labels(data_dir / "train-task-flc-tc.labels", articles)
    encoder = encoder or Encoder()
    examples = build_examples(articles, labels, encoder, cache_dir)
    folds = article_folds(list(articles), n_folds)
    extra: list[Example] = []
    for folder in extra_dirs or []:
        from spinlens.training.examples import extra_examples

        extra += extra_examples(folder, encoder, cache_dir)
    if memes is not None:
        from spinlens.training.examples import meme_examples

        extra += meme_examples(memes, encoder, cache_dir)
    seed_dirs = [run_dir / f"seed-{k}" for k in range(seeds)]
    for k, seed_dir in enumerate(seed_dirs):
        run_stage1(examples, folds, seed_dir, replace(config, seed=k), [*map(str, range(n_folds)), "all"], extra)
    report, params, _ = cross_validated_report(examples, folds, seed_dirs)
    (run_dir / "cv.json").write_text(json.dumps(report, indent=1))
    profile = training_profile(articles, labels)
    if extra:
        profile["extra"] = {  # what joined every tagger training set besides PTC (never scored)
            "articles": len(extra),
            "spans": sum(len(ex.labels) for ex in extra),
            "corrected_articles": sum(ex.document.id.startswith("extra-") for ex in extra),
            "folders": [str(f) for f in extra_dirs or []] + ([str(memes)] if memes else []),
        }
    write_model(model_dir, examples, seed_dirs, params, encoder, report, name, MODEL_VERSION, profile)
    return report
