"""Stage 2 on held-out predictions: the span scorer is fitted only where candidates carry its evidence."""

import numpy as np

from spinlens.evaluate.scorers import score_si
from spinlens.formats.ptc import Label
from spinlens.training.tune import SPAN_THRESHOLDS, FoldPredictions, _decisions, _flat, tune

TECHNIQUES = ["Loaded_Language", "Doubt"]


def _fold(fold: int, rng: np.random.Generator, with_evidence: bool) -> FoldPredictions:
    """40 articles, each with one gold span (0, 10) and two candidates of the same mean inside-probability: the
    gold one, whose evidence is high, and a false one at (50, 60), whose evidence is low."""
    ids = [f"{fold}-{i}" for i in range(40)]
    gold = [Label(aid, 0, 10, "Loaded_Language") for aid in ids]
    z = np.array([2.0, 0.0])
    pred = FoldPredictions(fold, np.tile(z, (40, 1)), np.zeros(40, np.int64), gold, gold, ids)
    cands = []
    for aid in ids:
        for a, b, sign in ((0, 10, 1.0), (50, 60, -1.0)):
            cands.append((aid, a, b, 0.7, z, False))
            if with_evidence:
                pred.evidence[(aid, a, b)] = np.array([sign + 0.3 * rng.standard_normal(), rng.standard_normal()])
    pred.candidates = {pair: list(cands) for pair in SPAN_THRESHOLDS}
    return pred


def test_the_span_scorer_learns_to_drop_false_spans_that_the_inside_probability_cannot_tell_apart():
    rng = np.random.default_rng(0)
    preds = [_fold(f, rng, with_evidence=True) for f in range(2)]
    params = tune(preds, TECHNIQUES, precision_first=(), recall_floor=0.5)
    assert params.span_scorer is not None and params.span_keep > 0
    gold = [g for p in preds for g in p.gold]
    reported = [x for p in preds for x in _flat(_decisions(p, TECHNIQUES, params), with_technique=False)]
    assert score_si(gold, reported).precision == 1.0 and score_si(gold, reported).recall == 1.0

    # predictions kept from before the scorer carry no evidence: stage 2 tunes as it did, every span kept
    old = [_fold(f, rng, with_evidence=False) for f in range(2)]
    params = tune(old, TECHNIQUES, precision_first=(), recall_floor=0.5)
    assert params.span_scorer is None and params.span_keep == 0.0
    reported = [x for p in old for x in _flat(_decisions(p, TECHNIQUES, params), with_technique=False)]
    assert score_si(gold, reported).precision == 0.5


def test_predictions_pickled_before_the_span_scorer_load_without_its_evidence():
    import pickle

    pred = _fold(0, np.random.default_rng(0), with_evidence=False)
    del pred.__dict__["evidence"]  # what a FoldPredictions pickled before the field existed holds
    old = pickle.loads(pickle.dumps(pred))
    assert old.evidence == {}
    assert tune([old], TECHNIQUES, precision_first=(), recall_floor=0.5).span_scorer is None
