"""The label layer (issue 19: "a label inside reported speech is its own span"): a second tag layer trained on the
labelling techniques' spans alone, so that a name inside a longer span of another technique is a candidate of its
own; its targets, its decoding, and a model with one trained, stored, tuned and read end to end."""

import numpy as np

from spinlens.detect.decide import Params, candidate_spans
from spinlens.detect.encoder import Encoder
from spinlens.detect.features import ArticleView, span_evidence
from spinlens.detect.model import TokenOutputs
from spinlens.formats.ptc import Label
from spinlens.training.finetune import tokenized
from spinlens.training.train import label_targets, token_targets

from .conftest import FIXTURES

TEXT = "The Kiev regime must understand that time is not on its side."
NC, FEAR = "Name_Calling,Labeling", "Appeal_to_fear-prejudice"


def _example():
    from spinlens.document import Document

    doc = Document(id="x", text=TEXT)
    labels = [Label("x", 0, len(TEXT) - 1, FEAR), Label("x", 4, 15, NC)]
    examples, _ = tokenized([doc], labels, Encoder((1,)))
    return examples[0]


def _words(example, tags, which):  # type: ignore[no-untyped-def]
    offsets = example.encoded.offsets
    return [TEXT[a:b] for (a, b), t in zip(offsets, tags, strict=True) if t in which and b > a]


def test_label_targets_mark_the_label_inside_a_longer_span_and_the_merged_tags_cannot():
    ex = _example()
    merged, _ = token_targets(ex)
    labels = label_targets(ex)
    assert _words(ex, merged, {1}) == ["The"], "the merged tags see one sentence-long span"
    assert _words(ex, labels, {1}) == ["Kiev"] and _words(ex, labels, {2}) == ["regime"]
    assert _words(ex, labels, {1, 2}) == ["Kiev", "regime"], "only the label is in the label layer"


def _outputs(n: int, inside: list[int], label_inside: list[int] | None) -> TokenOutputs:
    tags = np.tile([0.9, 0.05, 0.05], (n, 1))
    tags[inside] = [0.02, 0.08, 0.9]
    tags[inside[0]] = [0.02, 0.9, 0.08]
    labels = None
    if label_inside is not None:
        labels = np.tile([0.9, 0.05, 0.05], (n, 1))
        labels[label_inside] = [0.02, 0.08, 0.9]
        labels[label_inside[0]] = [0.02, 0.9, 0.08]
    return TokenOutputs(tags.astype(np.float32), np.zeros((n, 14), np.float32), np.zeros((n, 4)), labels)


def test_a_label_inside_a_longer_candidate_is_a_candidate_of_its_own_and_never_twice():
    ex = _example()
    offsets, n = ex.encoded.offsets, len(ex.encoded.offsets)
    words = [i for i, (a, b) in enumerate(offsets) if b > a]
    kiev = [i for i in words if TEXT[offsets[i][0] : offsets[i][1]] in ("Kiev", "regime")]
    params = Params(span_threshold=0.3, span_accept=0.5)
    alone = candidate_spans(TEXT, offsets, _outputs(n, words, None), params)
    assert [TEXT[a:b] for a, b, _ in alone] == [TEXT], "without a label layer: the sentence, one candidate"
    both = candidate_spans(TEXT, offsets, _outputs(n, words, kiev), params)
    assert [TEXT[a:b] for a, b, _ in both] == [TEXT[a:b] for a, b, _ in alone] + ["Kiev regime"]
    same = candidate_spans(TEXT, offsets, _outputs(n, words, words), params)
    assert len(same) == 1, "a label-layer span with the extent of a merged one is not a second candidate"


def test_the_span_scorer_reads_the_label_layer_over_any_candidate_when_there_is_one():
    ex = _example()
    offsets, n = ex.encoded.offsets, len(ex.encoded.offsets)
    words = [i for i, (a, b) in enumerate(offsets) if b > a]
    out = _outputs(n, words, words[1:3])
    view = ArticleView(TEXT, offsets, out.vectors, out.technique_probs, ex.encoded.units)
    plain = span_evidence(view, out.tag_probs, 4, 15, np.zeros(14))
    with_labels = span_evidence(view, out.tag_probs, 4, 15, np.zeros(14), out.label_probs)
    assert len(with_labels) == len(plain) + 5 and np.array_equal(with_labels[:5], plain[:5])
    assert with_labels[5] > 3, "the label layer is sure of 'Kiev regime': its inside log-odds are high"


def test_a_model_with_a_label_layer_trains_stores_tunes_and_analyses(tmp_path):
    """Stage 1 with the label layer stores its outputs, stage 2 (one fold) reads them back, the model directory
    says it has one, and the detector reads it and returns label-layer probabilities."""
    from spinlens.detect.pipeline import Detector
    from spinlens.formats import read_articles, read_labels
    from spinlens.training import genre
    from spinlens.training.finetune import TRAINING_ONLY_FOLD, FinetuneConfig, load_fold, one_fold, stage1, write_model

    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    textbook = genre.corpus("textbook")
    chosen = [f"genre-t-{key}-01" for key in ("nc", "ll", "fear", "doubt", "slogan", "neutral")]
    docs = [articles[k] for k in sorted(articles)] + [textbook.articles[k] for k in chosen]
    gold = labels + [x for x in textbook.labels if x.article_id in chosen]
    examples, ids = tokenized(docs, gold, Encoder((1, 2)))
    folds = {"900000001": 0, "900000002": 1} | {k: TRAINING_ONLY_FOLD for k in chosen}
    config = FinetuneConfig(rank=2, epochs=2, hidden=16, layers=(1, 2), batch_units=8, label_layer=True)
    stage1(examples, ids, folds, tmp_path, config, ["0"])
    with np.load(tmp_path / "outputs-0.npz") as stored:
        assert stored["900000001/labels"].shape == (len(examples[0].encoded.offsets), 3)
    _, tagger, outputs = load_fold(tmp_path, "0", examples, config, "cpu")
    assert tagger.n_layers == 2 and outputs["900000001"].label_probs is not None
    report = one_fold(0, examples, folds, tmp_path, config)
    write_model(tmp_path / "model", examples, tmp_path, config, report, "tiny", "1", {}, fold="0")
    detector = Detector(tmp_path / "model")
    assert detector.config.taggers[0].label_layer
    _, out = detector._token_outputs([detector_document("The corrupt regime lies, and it lies again.")])[0]
    assert out.label_probs is not None and np.allclose(out.label_probs.sum(1), 1.0, atol=1e-4)
    assert all(s.end > s.start for s in detector("The corrupt regime lies, and it lies again.").spans)


def detector_document(text: str):  # type: ignore[no-untyped-def]
    from spinlens.document import Document

    return Document(id="t", text=text)
