"""Scorers against answers worked out by hand here, and against a brute-force re-implementation on PTC."""

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.evaluate import evaluate, merge_spans, score_article, score_flc, score_si, score_tc
from spinlens.formats import read_articles, read_labels, write_labels
from spinlens.formats.ptc import Label

from .conftest import PTC, needs_ptc


def L(start, end, technique=None, article="A"):
    return Label(article, start, end, technique)


def test_si_partial_overlap_by_hand():
    gold = [L(0, 10), L(20, 30)]
    pred = [L(5, 15), L(20, 30)]
    # pred 5-15 covers half of itself and half of gold 0-10; pred 20-30 is exact
    s = score_si(gold, pred)
    assert s.precision == pytest.approx((5 / 10 + 1) / 2)
    assert s.recall == pytest.approx((5 / 10 + 1) / 2)
    assert s.f1 == pytest.approx(0.75)


def test_si_merges_overlapping_spans_but_not_touching_ones():
    assert merge_spans([(5, 15), (0, 10), (15, 20)]) == [(0, 15), (15, 20)]
    s = score_si([L(0, 10), L(5, 15)], [L(0, 15)])
    assert (s.precision, s.recall, s.n_gold) == (1.0, 1.0, 1)


def test_si_long_prediction_is_penalised_in_precision_only():
    s = score_si([L(0, 10)], [L(0, 40)])
    assert s.precision == pytest.approx(10 / 40) and s.recall == 1.0
    assert s.f1 == pytest.approx(2 * 0.25 / 1.25)


def test_tc_multiset_by_hand():
    gold = [L(0, 10, "Loaded_Language"), L(0, 10, "Name_Calling,Labeling"), L(20, 30, "Doubt")]
    pred = [L(0, 10, "Loaded_Language"), L(0, 10, "Loaded_Language"), L(20, 30, "Doubt")]
    s = score_tc(gold, pred)
    assert s.f1 == pytest.approx(2 / 3)
    assert s.per_technique["Loaded_Language"]["f1"] == pytest.approx(2 / 3)  # P 1/2, R 1
    assert s.per_technique["Name_Calling,Labeling"]["f1"] == 0.0
    assert s.macro_f1 == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_flc_needs_the_same_technique_by_hand():
    gold = [L(0, 10, "Loaded_Language"), L(0, 10, "Name_Calling,Labeling")]
    pred = [L(0, 5, "Loaded_Language"), L(5, 20, "Name_Calling,Labeling")]
    s = score_flc(gold, pred)
    assert s.precision == pytest.approx((1 + 5 / 15) / 2)
    assert s.recall == pytest.approx((0.5 + 0.5) / 2)
    assert s.f1 == pytest.approx(4 / 7)
    wrong = score_flc(gold, [L(0, 10, "Doubt")])
    assert wrong.f1 == 0.0


def test_article_level_by_hand():
    gold = [L(0, 5, "Loaded_Language"), L(9, 12, "Name_Calling,Labeling"), L(0, 5, "Doubt", article="B")]
    pred = [L(1, 2, "Loaded_Language"), L(0, 5, "Doubt", article="B"), L(0, 5, "Slogans", article="B")]
    s = score_article(gold, pred)
    assert (s.precision, s.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_empty_prediction_scores_zero_not_crash():
    s = score_si([L(0, 10)], [])
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)


def test_tc_without_techniques_is_refused():
    with pytest.raises(ValueError, match="needs techniques"):
        evaluate("tc", [L(0, 1)], [L(0, 1)])


# --- brute force on the shared PTC train labels -----------------------------------------------------------


def _brute_partial(gold, pred, key):
    """Independent SI/FLC: spans as sets of character positions, merged while any two intersect."""

    def merged(labels):
        groups = {}
        for x in labels:
            groups.setdefault(key(x), []).append(set(range(x.start, x.end)))
        out = {}
        for k, sets in groups.items():
            done = []
            for s in sets:
                s = set(s)
                again = True
                while again:
                    again = False
                    for d in done:
                        if d & s:
                            done.remove(d)
                            s |= d
                            again = True
                            break
                done.append(s)
            out[k] = done
        return out

    g, p = merged(gold), merged(pred)
    n_s = sum(len(v) for v in p.values())
    n_t = sum(len(v) for v in g.values())
    prec = sum(len(s & t) / len(s) for k in p for s in p[k] for t in g.get(k, [])) / n_s
    rec = sum(len(s & t) / len(t) for k in p for s in p[k] for t in g.get(k, [])) / n_t
    return prec, rec


@needs_ptc
def test_train_labels_against_themselves_and_a_perturbed_copy(tmp_path):
    articles = read_articles(PTC / "train-articles")
    gold_path = PTC / "train-task-flc-tc.labels"
    gold = read_labels(gold_path, articles)
    shifted = [
        Label(x.article_id, x.start, min(x.end + 20, len(articles[x.article_id].text)), x.technique) for x in gold
    ]
    pred_path = tmp_path / "shifted.labels"
    write_labels(shifted, pred_path)
    runner = CliRunner()

    def cli(task, pred):
        res = runner.invoke(
            app,
            [
                "evaluate",
                "--task",
                task,
                str(gold_path),
                str(pred),
                "--articles",
                str(PTC / "train-articles"),
                "--json",
            ],
        )
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    for task in ("si", "tc", "flc", "article"):
        assert cli(task, gold_path)["f1"] == 1.0

    si, flc = cli("si", pred_path), cli("flc", pred_path)
    exp_si = _brute_partial(gold, shifted, key=lambda x: x.article_id)
    exp_flc = _brute_partial(gold, shifted, key=lambda x: (x.article_id, x.technique))
    assert (si["precision"], si["recall"]) == (pytest.approx(exp_si[0]), pytest.approx(exp_si[1]))
    assert (flc["precision"], flc["recall"]) == (pytest.approx(exp_flc[0]), pytest.approx(exp_flc[1]))
    assert si["recall"] == pytest.approx(1.0)  # longer spans still cover every gold character
    assert 0.5 < si["precision"] < 0.95

    tc = cli("tc", pred_path)
    g = Counter((x.article_id, x.start, x.end, x.technique) for x in gold)
    p = Counter((x.article_id, x.start, x.end, x.technique) for x in shifted)
    assert tc["f1"] == pytest.approx(sum((g & p).values()) / len(gold))
    assert cli("article", pred_path)["f1"] == 1.0  # same techniques per article


def test_cli_reports_bad_labels_without_traceback(tmp_path):
    bad = tmp_path / "bad.labels"
    bad.write_text("1\tNot_A_Technique\t0\t4\n")
    res = CliRunner().invoke(app, ["evaluate", "--task", "flc", str(bad), str(bad)])
    assert res.exit_code == 2
    assert "bad.labels:1" in res.output and "unknown technique" in res.output
    assert "Traceback" not in res.output
