"""A tiny training run: the tagger learns the spans of one article, and a model directory round-trips."""

import numpy as np
import torch

from spinlens.detect.encoder import Encoder
from spinlens.detect.model import SpanTagger
from spinlens.detect.techniques import TechniqueClassifier, fit_temperature
from spinlens.evaluate.folds import article_folds
from spinlens.formats import read_articles, read_labels
from spinlens.training.examples import build_examples
from spinlens.training.train import TaggerConfig, fit_tagger, token_targets

from .conftest import FIXTURES


def test_folds_are_fixed_and_balanced():
    ids = [str(i) for i in range(371)]
    folds = article_folds(ids)
    assert folds == article_folds(list(reversed(ids)))
    sizes = np.bincount(list(folds.values()))
    assert sizes.tolist() == [75, 74, 74, 74, 74]
    assert article_folds(ids, seed=1) != folds


def test_tagger_learns_one_article_and_resumes(tmp_path):
    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    examples = build_examples(articles, labels, Encoder(), cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    config = TaggerConfig(epochs=60, lr=5e-3, hidden=32, batch_segments=2)
    model = fit_tagger(examples, config, checkpoint=tmp_path / "ckpt.pt")
    out = model.predict([ex.encoded.vectors for ex in examples], [ex.encoded.units for ex in examples])
    tags, techs = token_targets(examples[0])
    predicted = out[0].tag_probs.argmax(1)
    assert (predicted == tags).mean() > 0.9, "a tagger that cannot fit one article has a bug"
    assert np.allclose(out[0].tag_probs.sum(1), 1.0, atol=1e-5)
    inside = tags > 0
    assert out[0].technique_probs[inside].mean() > out[0].technique_probs[~inside].mean()
    # resuming from the last checkpoint runs no further epoch and keeps the weights
    again = fit_tagger(examples, config, checkpoint=tmp_path / "ckpt.pt")
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_bidirectional_tagger_ignores_padding():
    torch.manual_seed(0)
    model = SpanTagger(8, 3, hidden=4, projection=6).eval()
    x = torch.randn(2, 10, 8)
    with torch.no_grad():
        alone, _ = model(x[:1, :6], torch.tensor([6]))
        padded, _ = model(x, torch.tensor([6, 10]))
    assert torch.allclose(alone[0], padded[0, :6], atol=1e-6)


def test_tagger_outputs_do_not_depend_on_how_units_are_batched():
    """`SpanTagger.predict` batches units by padded wordpieces: any batching gives a unit the same outputs."""
    from spinlens.detect.encoder import length_batches

    torch.manual_seed(0)
    model = SpanTagger(8, 3, hidden=4, projection=6).eval()
    lengths = [3, 40, 7, 7, 19, 1, 25]
    vectors = np.random.default_rng(0).normal(size=(sum(lengths), 8)).astype(np.float32)
    ends = np.cumsum(lengths)
    units = np.stack([ends - lengths, ends], 1)
    # sorted 1, 3, 7, 7 | 19 | 25 | 40: no batch over 40 padded wordpieces, but a longer unit alone
    assert [len(b) for b in length_batches(lengths, 40, most=64)] == [4, 1, 1, 1]
    assert [len(b) for b in length_batches(lengths, None, most=64)] == [7]
    assert [len(b) for b in length_batches(lengths, None, most=3)] == [3, 3, 1]
    one = model.predict([vectors], [units], batch_tokens=None)[0]
    many = model.predict([vectors], [units], batch_tokens=40)[0]
    assert np.allclose(one.tag_probs, many.tag_probs, atol=1e-6)
    assert np.allclose(one.technique_probs, many.technique_probs, atol=1e-6)


def test_technique_classifier_round_trip_and_temperature(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    clf = TechniqueClassifier.fit(x, y, n_classes=5, c=1.0)
    assert (clf.predict_proba(x).argmax(1) == y).mean() > 0.9
    assert clf.predict_proba(x)[:, 4].max() < 1e-6, "a class never seen in training is never predicted"
    clf.save(tmp_path / "c.npz")
    again = TechniqueClassifier.load(tmp_path / "c.npz")
    assert np.allclose(again.predict_proba(x), clf.predict_proba(x), atol=1e-3)
    assert 0.3 <= fit_temperature(clf.logits(x), y) <= 5.0


def test_memes_join_training_with_ptc_labels_only(tmp_path):
    import json

    from spinlens.training.examples import meme_examples

    memes = [
        {
            "id": "1",
            "text": "THEY LIE\nALWAYS",
            "labels": [
                {"start": 0, "end": 8, "technique": "Loaded Language", "text_fragment": "THEY LIE"},
                {"start": 9, "end": 15, "technique": "Smears", "text_fragment": "ALWAYS"},
            ],
        },
        {"id": "2", "text": "Nothing here", "labels": []},
    ]
    (tmp_path / "training_set_task2.txt").write_text(json.dumps(memes), encoding="utf-8")
    examples = meme_examples(tmp_path, Encoder(), tmp_path / "cache")
    assert [e.document.id for e in examples] == ["meme-1", "meme-2"]
    assert [(x.start, x.end, x.technique) for x in examples[0].labels] == [(0, 8, "Loaded_Language")]  # Smears: none
    tags, techniques = token_targets(examples[0])
    assert tags.max() > 0 and techniques.sum() > 0 and not examples[1].labels


def _ptc_folder(folder, items, prefix: int) -> None:
    """Articles of our own short texts in PTC's layout: article<ID>.txt and one TC/FLC labels file."""
    folder.mkdir(parents=True)
    lines = []
    for k in range(0, len(items), 8):
        article_id = str(prefix + k)
        text, labels = "", []
        for item in items[k : k + 8]:
            if item.get("phrase"):
                start = len(text) + item["text"].index(item["phrase"])
                labels.append(f"{article_id}\t{item['technique']}\t{start}\t{start + len(item['phrase'])}\n")
            text += item["text"] + "\n"
        (folder / f"article{article_id}.txt").write_text(text)
        lines += labels
    (folder / "labels.labels").write_text("".join(lines))


def test_train_with_extra_corrections_end_to_end(tmp_path):
    """`spinlens train --extra`: corrections join the tagger's training folds; CV scores PTC folds only."""
    import json

    from typer.testing import CliRunner

    from spinlens.cli import app

    items = [json.loads(line) for line in (FIXTURES / "short_texts.jsonl").read_text().splitlines()]
    technique = [it for it in items if it.get("phrase")]
    data = tmp_path / "data"
    _ptc_folder(data / "train-articles", technique[:80], 800000000)
    (data / "train-articles" / "labels.labels").rename(data / "train-task-flc-tc.labels")
    _ptc_folder(tmp_path / "corrections", technique[80:], 810000000)
    res = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--extra",
            str(tmp_path / "corrections"),
            "--run-dir",
            str(tmp_path / "run"),
            "--folds",
            "2",
            "--epochs",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    model_dir = tmp_path / "run" / "model"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["training_data"]["articles"] == 10
    assert config["training_data"]["extra"]["corrected_articles"] == 3
    assert config["cross_validation"]["folds"] == 2 and set(config["cross_validation"]["mean"]) >= {"si", "tc"}
    assert "3 corrected by people" in (model_dir / "MODEL_CARD.md").read_text()
    import spinlens

    assert spinlens.load(model_dir)("They lie, as always, to save the regime.").document.text
    # the shipped model is never replaced without --into-package
    from spinlens.detect.pipeline import MODELS_DIR

    res = CliRunner().invoke(app, ["train", "--data", str(data), "--model-dir", str(MODELS_DIR / "x")])
    assert res.exit_code != 0 and "--into-package" in res.output
