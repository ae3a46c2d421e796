"""Scorers of SemEval-2020 Task 11 and the article level, written from the published definitions.

SI and FLC (Da San Martino et al., EMNLP 2019, sec. 5): with S the predicted and T the gold spans,
``C(s, t, h) = |s ∩ t| / h`` (characters, times δ(technique) for FLC),
``P = Σ_{s,t} C(s, t, |s|) / |S|``, ``R = Σ_{s,t} C(s, t, |t|) / |T|``, F1 their harmonic mean. Overlapping spans
are merged first: per article for SI, per article and technique for FLC, so that no character counts twice.

TC (technique given gold spans): micro-F1 over the multiset of (article, start, end, technique).
Article level: each article's set of techniques, micro- and macro-F1 over (article, technique) decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from spinlens.formats.ptc import Label


@dataclass
class Score:
    task: str
    precision: float
    recall: float
    f1: float
    n_gold: int
    n_pred: int
    macro_f1: float | None = None
    per_technique: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != {}}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping character ranges (touching ranges stay apart, as they share no character)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlap_sums(pred: list[tuple[int, int]], gold: list[tuple[int, int]]) -> tuple[float, float]:
    """Σ |s∩t|/|s| and Σ |s∩t|/|t| over all pairs (each list sorted and non-overlapping)."""
    p_num = r_num = 0.0
    j0 = 0
    for s0, s1 in pred:
        while j0 < len(gold) and gold[j0][1] <= s0:
            j0 += 1
        j = j0
        while j < len(gold) and gold[j][0] < s1:
            inter = min(s1, gold[j][1]) - max(s0, gold[j][0])
            if inter > 0:
                p_num += inter / (s1 - s0)
                r_num += inter / (gold[j][1] - gold[j][0])
            j += 1
    return p_num, r_num


def _group(labels: Iterable[Label], by_technique: bool) -> dict[tuple, list[tuple[int, int]]]:
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for lab in labels:
        key = (lab.article_id, lab.technique) if by_technique else (lab.article_id,)
        groups.setdefault(key, []).append((lab.start, lab.end))
    return {k: merge_spans(v) for k, v in groups.items()}


def _partial_overlap(task: str, gold: list[Label], pred: list[Label], by_technique: bool) -> Score:
    g, p = _group(gold, by_technique), _group(pred, by_technique)
    n_gold = sum(len(v) for v in g.values())
    n_pred = sum(len(v) for v in p.values())
    p_num = r_num = 0.0
    per: dict[str, list[float]] = {}
    for key, pspans in p.items():
        pn, rn = _overlap_sums(pspans, g.get(key, []))
        p_num, r_num = p_num + pn, r_num + rn
        if by_technique:
            acc = per.setdefault(key[1], [0.0, 0.0, 0, 0])
            acc[0] += pn
            acc[1] += rn
    precision = p_num / n_pred if n_pred else 0.0
    recall = r_num / n_gold if n_gold else 0.0
    score = Score(task, precision, recall, _f1(precision, recall), n_gold, n_pred)
    if by_technique:
        for key, spans in p.items():
            per.setdefault(key[1], [0.0, 0.0, 0, 0])[3] += len(spans)
        for key, spans in g.items():
            per.setdefault(key[1], [0.0, 0.0, 0, 0])[2] += len(spans)
        for tech, (pn, rn, ng, np_) in sorted(per.items()):
            tp, tr = (pn / np_ if np_ else 0.0), (rn / ng if ng else 0.0)
            score.per_technique[tech] = {"precision": tp, "recall": tr, "f1": _f1(tp, tr), "support": ng}
        score.macro_f1 = _mean([v["f1"] for v in score.per_technique.values()])
    return score


def score_si(gold: list[Label], pred: list[Label]) -> Score:
    """Span identification: techniques ignored, overlapping spans merged per article."""
    return _partial_overlap("si", gold, pred, by_technique=False)


def score_flc(gold: list[Label], pred: list[Label]) -> Score:
    """Span and technique jointly, with partial credit for overlap; spans merged per article and technique."""
    return _partial_overlap("flc", gold, pred, by_technique=True)


def _multiset_f1(task: str, gold: Counter, pred: Counter, technique_of) -> Score:  # type: ignore[no-untyped-def]
    tp_all = sum((gold & pred).values())
    n_gold, n_pred = sum(gold.values()), sum(pred.values())
    precision = tp_all / n_pred if n_pred else 0.0
    recall = tp_all / n_gold if n_gold else 0.0
    score = Score(task, precision, recall, _f1(precision, recall), n_gold, n_pred)
    techniques = sorted({technique_of(k) for k in gold} | {technique_of(k) for k in pred})
    for tech in techniques:
        g = Counter({k: v for k, v in gold.items() if technique_of(k) == tech})
        p = Counter({k: v for k, v in pred.items() if technique_of(k) == tech})
        tp = sum((g & p).values())
        tp_p = tp / sum(p.values()) if p else 0.0
        tp_r = tp / sum(g.values()) if g else 0.0
        score.per_technique[tech] = {
            "precision": tp_p,
            "recall": tp_r,
            "f1": _f1(tp_p, tp_r),
            "support": sum(g.values()),
        }
    score.macro_f1 = _mean([v["f1"] for v in score.per_technique.values()])
    return score


def score_tc(gold: list[Label], pred: list[Label]) -> Score:
    """Technique classification given gold spans: micro-F1 over (article, start, end, technique) multisets.

    With one prediction per gold line, as the task asks, precision = recall = micro-F1.
    """
    g = Counter((x.article_id, x.start, x.end, x.technique) for x in gold)
    p = Counter((x.article_id, x.start, x.end, x.technique) for x in pred)
    return _multiset_f1("tc", g, p, technique_of=lambda k: k[3])


def score_article(gold: list[Label], pred: list[Label]) -> Score:
    """Article level: which techniques each article uses. Micro-F1 over (article, technique) pairs."""
    g = Counter({(x.article_id, x.technique) for x in gold})
    p = Counter({(x.article_id, x.technique) for x in pred})
    return _multiset_f1("article", g, p, technique_of=lambda k: k[1])


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


SCORERS = {"si": score_si, "tc": score_tc, "flc": score_flc, "article": score_article}


def evaluate(task: str, gold: list[Label], pred: list[Label]) -> Score:
    if task not in SCORERS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(SCORERS)}")
    if task in ("tc", "flc", "article"):
        for name, labs in (("gold", gold), ("predicted", pred)):
            if any(lab.technique is None for lab in labs):
                raise ValueError(f"task {task} needs techniques, but the {name} labels have lines without one")
    return SCORERS[task](gold, pred)
