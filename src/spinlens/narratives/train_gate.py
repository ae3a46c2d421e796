"""Training the gate (`narratives.gate`): its head, distilled from MiniLM, and its threshold; apart from inference.

    python -m spinlens.narratives.train --gate-only --data ../shared/data   # writes narratives/model/gate-minilm.*

The head learns, from the default tier's token states (layers 3 and 6, its trained delta), MiniLM's own sentence
vector of the same text (cosine loss). Texts: the CLEF-2020 T2 claims (claim and title) and train tweets, the
EUvsDisinfo claims, and sentence units of even-numbered PTC train articles after the first 3,000 (those 3,000 set
the threshold). Seeded; each epoch is saved and a rerun resumes from the last one. About 12 minutes on 2 cores.

The threshold: the highest that drops at most ``GATE_LOSS`` of the matches the exact matcher reports on CLEF train and
dev tweets (against the CLEF claims) and on those 3,000 news sentences (against CLEF and EUvsDisinfo). Reported:
the share of held-out news sentences (odd-numbered PTC articles) let through, and the matches dropped there.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from spinlens.narratives.matcher import Fitted, Index, MatchParams

GATE_LOSS = 0.01  # at most this share of the matches the exact matcher reports may be dropped by the gate
GATE_LAYERS = (3, 6)
MODEL = "ptc-minilm-bilstm"


class HeadConfig:
    """Hand-set: the head's shape and how it is trained. Chosen on CLEF dev tweets (cosine of the head's vectors to
    MiniLM's; MAP@5 with them in place of MiniLM's) and on the share of held-out news sentences the gate then lets
    through (odd PTC articles, EUvsDisinfo / CLEF, at <= 1% of exact matches dropped), and the head's cost on a
    700-word article (2 cores; the encoder pass is 163 ms):

    - MiniLM's sixth layer over the tier's layer 6, from MiniLM's weights, 2e-4: cosine 0.80, MAP@5 0.80 (4 epochs);
    - the same over a projection of layers 3 and 6, 5e-4, 10 epochs: cosine 0.90, MAP@5 0.837; lets 1.5% / 1.0%
      through; 27-31 ms;
    - width 256, 4 heads, feed-forward 1024, from random weights, 1e-3, 10 epochs (shipped): cosine 0.87, MAP@5
      0.827; lets 2.8% / 1.9% through; about half the cost.
    """

    width = 384 * len(GATE_LAYERS)
    hidden = 256
    heads = 4
    intermediate = 1024
    epochs = 10
    lr = 1e-3
    batch = 64  # texts a step
    warmup = 200  # steps
    weight_decay = 0.01
    seed = 0
    news = 12000  # sentence units of even-numbered PTC articles read; the first `threshold_news` are held apart
    threshold_news = 3000

    @classmethod
    def shape(cls) -> dict[str, int]:
        return {"width": cls.width, "hidden": cls.hidden, "heads": cls.heads, "intermediate": cls.intermediate}


class TierTokens:
    """Per text: the default tier's wordpiece states (layers ``GATE_LAYERS``, float16) of each sentence unit."""

    def __init__(self, model: str = MODEL) -> None:
        from spinlens.detect.encoder import Encoder, delta_digest
        from spinlens.detect.pipeline import MODELS_DIR

        self.model = model
        self.delta = MODELS_DIR / model / "encoder-delta.safetensors"
        self.digest = delta_digest(self.delta)
        self.encoder = Encoder(layers=GATE_LAYERS, kind="minilm", delta=self.delta)

    def encode(self, texts: list[str], log=print) -> dict[str, list[np.ndarray]]:  # type: ignore[no-untyped-def]
        out: dict[str, list[np.ndarray]] = {}
        todo = list(dict.fromkeys(texts))
        t0 = time.time()
        for i in range(0, len(todo), 256):
            chunk = todo[i : i + 256]
            for text, enc in zip(chunk, self.encoder.encode_many(chunk), strict=True):
                out[text] = [enc.vectors[a:b].astype(np.float16) for a, b in enc.units if b > a]
            done = i + len(chunk)
            rate = done / max(time.time() - t0, 1e-9)
            log(f"tier states: {done}/{len(todo)} texts, {rate:.0f}/s, about {(len(todo) - done) / rate:.0f} s left")
        return out


def _text_vectors(head, tokens: dict[str, list[np.ndarray]], texts: list[str], grad: bool = False):  # type: ignore[no-untyped-def]
    """The head's vector of each text: the mean over all its units' wordpieces (as `MiniLM.encode` means over a
    text's wordpieces), L2-normalised."""
    import torch

    from spinlens.narratives.gate_head import padded

    rows, owners = [], []
    for j, t in enumerate(texts):
        for r in tokens[t]:
            rows.append(r)
            owners.append(j)
    x, mask = padded([r.astype(np.float32) for r in rows], head.proj.in_features)
    with torch.set_grad_enabled(grad):
        y = (head.tokens(x, mask) * mask[..., None]).sum(1)
        index = torch.tensor(owners)
        sums = torch.zeros(len(texts), y.shape[1]).index_add_(0, index, y)
        counts = torch.zeros(len(texts)).index_add_(0, index, mask.sum(1))
        return head.finish(sums / counts.clamp(min=1)[:, None])


def head_vectors(head, tokens: dict[str, list[np.ndarray]], texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.zeros((len(texts), head.out.out_features), np.float32)
    order = sorted(range(len(texts)), key=lambda i: sum(len(r) for r in tokens[texts[i]]))
    for k in range(0, len(order), 128):
        idx = [i for i in order[k : k + 128] if tokens[texts[i]]]
        if idx:
            out[idx] = _text_vectors(head, tokens, [texts[i] for i in idx]).numpy()
    return out


def train_head(tokens: dict[str, list[np.ndarray]], texts: list[str], targets: np.ndarray, run_dir: Path, log=print):  # type: ignore[no-untyped-def]
    """The head, trained by cosine loss to MiniLM's vectors (``targets``, one row per text); resumes from
    ``run_dir/head-epoch-K.pt``."""
    import torch

    from spinlens.narratives.gate_head import GateHead

    cfg = HeadConfig
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    head = GateHead(**cfg.shape())
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    keep = [i for i, t in enumerate(texts) if tokens[t]]
    order = sorted(keep, key=lambda i: sum(len(r) for r in tokens[texts[i]]))
    batches = [order[k : k + cfg.batch] for k in range(0, len(order), cfg.batch)]
    steps = cfg.epochs * len(batches)
    run_dir.mkdir(parents=True, exist_ok=True)
    start = 0
    for k in range(cfg.epochs, 0, -1):
        saved = run_dir / f"head-epoch-{k}.pt"
        if saved.is_file():
            state = torch.load(saved)
            head.load_state_dict(state["head"])
            opt.load_state_dict(state["opt"])
            rng = np.random.default_rng(state["seed_state"])
            start = k
            log(f"resumed after epoch {k}")
            break
    target = torch.from_numpy(targets.astype(np.float32))
    t0, step = time.time(), start * len(batches)
    for epoch in range(start, cfg.epochs):
        head.train()
        perm = rng.permutation(len(batches))
        total = 0.0
        for b, bi in enumerate(perm):
            idx = batches[bi]
            for g in opt.param_groups:
                g["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
            v = _text_vectors(head, tokens, [texts[i] for i in idx], grad=True)
            loss = (1 - (v * target[idx]).sum(-1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            total += loss.item()
            if b % 100 == 0:
                done = step - start * len(batches)
                left = (time.time() - t0) / done * (steps - step)
                log(
                    f"epoch {epoch + 1}/{cfg.epochs} batch {b}/{len(batches)} loss {total / (b + 1):.4f}, ~{left:.0f} s left"
                )
        head.eval()
        torch.save(
            {"head": head.state_dict(), "opt": opt.state_dict(), "seed_state": int(rng.integers(2**31))},
            run_dir / f"head-epoch-{epoch + 1}.pt",
        )
    return head.eval()


def gate_looks(index: Index, fitted: Fitted, texts: list[str], exact: np.ndarray, approx: np.ndarray):  # type: ignore[no-untyped-def]
    """Per query: whether the exact matcher reports a match (top ``per_unit`` candidates at the "topic"
    threshold), and the best approximate confidence of any claim (what the gate compares to its threshold)."""
    from spinlens.narratives.matcher import confidence
    from spinlens.narratives.train import CANDIDATES

    per_unit = MatchParams().per_unit
    reported = np.array(
        [
            bool(len(rows)) and bool((confidence(rows[:per_unit], fitted.calibration) >= fitted.topic).any())
            for _, _, rows in index.search(texts, exact, fitted, CANDIDATES)
        ]
    )
    return reported, index.best_confidence(texts, index.cosines(fitted.adapt(approx)), fitted.calibration)


def gate_threshold(reported: np.ndarray, best: np.ndarray, loss: float = GATE_LOSS) -> float:
    """The highest threshold that drops at most ``loss`` of the reported queries."""
    kept = np.sort(best[reported])
    return float(kept[int(np.floor(loss * len(kept)))]) if len(kept) else 0.0


def fit_gate(su, euvs: Index, ptc: Path, out: Path, run_dir: Path, log=print) -> dict:  # type: ignore[no-untyped-def]
    """Train the head, set the threshold, measure on held-out news sentences; write ``gate-minilm.json`` and
    ``gate-minilm.safetensors`` to ``out``."""
    from safetensors.torch import save_file

    from spinlens.narratives.train import encode_cached, news_sentences

    cfg = HeadConfig
    tier = TierTokens()
    fitted = Fitted.read(su.encoder.name)
    even = news_sentences(ptc, 0, cfg.news)
    threshold_news, odd = even[: cfg.threshold_news], news_sentences(ptc, 1, 3000)
    tweets = list(su.clef.queries["train"].values()) + list(su.clef.queries["dev"].values())
    texts = [t for c in su.clef.claims for t in c.indexed_texts()] + list(su.clef.queries["train"].values())
    texts += [t for e in euvs.entries for t in e.claim.indexed_texts()] + even[cfg.threshold_news :]
    texts = list(dict.fromkeys(t for t in texts if t.strip()))
    tokens = tier.encode(texts + tweets + threshold_news + odd, log)
    head = train_head(tokens, texts, encode_cached(su.encoder, texts, su.cache), run_dir, log)

    def looks(index: Index, queries: list[str]):  # type: ignore[no-untyped-def]
        exact = encode_cached(su.encoder, queries, su.cache)
        return gate_looks(index, fitted, queries, exact, head_vectors(head, tokens, queries))

    fit_sets = [looks(su.index, tweets), looks(su.index, threshold_news), looks(euvs, threshold_news)]
    reported = np.concatenate([r for r, _ in fit_sets])
    best = np.concatenate([b for _, b in fit_sets])
    threshold = gate_threshold(reported, best)
    dev = list(su.clef.queries["dev"].values())
    exact_dev = encode_cached(su.encoder, dev, su.cache)
    report: dict = {
        "threshold": threshold,
        "fitted_on_reported": int(reported.sum()),
        "fitted_dropped": int((reported & (best < threshold)).sum()),
        "clef_dev_cosine_to_minilm": float((head_vectors(head, tokens, dev) * exact_dev).sum(1).mean()),
    }
    for name, index in (("clef", su.index), ("euvsdisinfo", euvs)):
        r, b = looks(index, odd)
        report[f"held_out_{name}"] = {
            "sentences": len(odd),
            "passed": float((b >= threshold).mean()),
            "reported_exact": int(r.sum()),
            "dropped": int((r & (b < threshold)).sum()),
        }
    r, b = fit_sets[0]
    report["clef_tweets"] = {
        "passed": float((b >= threshold).mean()),
        "reported": int(r.sum()),
        "dropped": int((r & (b < threshold)).sum()),
    }
    log(f"gate: {report}")
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in head.state_dict().items()}, str(out / "gate-minilm.safetensors"))
    card = {
        "model": tier.model,
        "delta_sha256": tier.digest,
        "layers": list(GATE_LAYERS),
        "weights": "gate-minilm.safetensors",
        "head": cfg.shape(),
        "threshold": threshold,
        "target": f"drop at most {GATE_LOSS:.0%} of the matches the exact matcher reports",
        "fitted_on": {
            "head": f"{len(texts)} texts (CLEF-2020 T2 claims and train tweets, EUvsDisinfo claims, sentence units "
            f"{cfg.threshold_news + 1}-{len(even)} of even-numbered PTC train articles), cosine loss to MiniLM's "
            f"vectors, {cfg.epochs} epochs, AdamW {cfg.lr}, seed {cfg.seed}, from random weights",
            "threshold": f"{len(tweets)} CLEF-2020 T2 train and dev tweets against the CLEF claims and "
            f"{len(threshold_news)} sentence units of even-numbered PTC train articles against the CLEF and "
            "EUvsDisinfo catalogues",
        },
        "measured": report,
    }
    (out / "gate-minilm.json").write_text(json.dumps(card, indent=1) + "\n")
    return card
