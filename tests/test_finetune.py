"""End-to-end stage 1 (issue 19): adapters fold exactly into the weights, a tiny run learns and resumes, and a model
directory with an encoder delta is read with that delta."""

import numpy as np
import torch

from spinlens.detect.bert import Bert, apply_delta
from spinlens.detect.encoder import Encoder, encoder_path
from spinlens.formats import read_articles, read_labels
from spinlens.training.finetune import (
    FinetuneConfig,
    adapter_delta,
    add_adapters,
    fit_end_to_end,
    tokenized,
    vectors_and_outputs,
)
from spinlens.training.train import token_targets

from .conftest import FIXTURES


def test_adapters_fold_into_the_weights_as_trained():
    torch.manual_seed(0)
    trained = Bert.from_directory(encoder_path(), n_layers=2)
    add_adapters(trained, rank=4, alpha=8.0)
    for name, p in trained.named_parameters():
        if name.endswith(".b"):
            p.data.normal_(0, 0.02)  # as if trained: b starts at zero
    ids = torch.tensor([[101, 1996, 12090, 6070, 2003, 1037, 13215, 102]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        expected = trained(ids, mask)[-1]
        plain = Bert.from_directory(encoder_path(), n_layers=2)(ids, mask)[-1]
        folded = apply_delta(Bert.from_directory(encoder_path(), n_layers=2), adapter_delta(trained))(ids, mask)[-1]
    assert (expected - plain).abs().max() > 0.05, "the adapters must change the states for this test to mean anything"
    # the delta is stored in float16: the folded model matches the trained one to that precision
    assert torch.allclose(folded, expected, atol=2e-2), (folded - expected).abs().max()
    assert (folded - expected).abs().mean() < 2e-3


def test_end_to_end_run_learns_one_article_and_resumes(tmp_path):
    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    encoder = Encoder((1, 2))
    examples, ids = tokenized([articles[k] for k in sorted(articles)], labels, encoder)
    config = FinetuneConfig(
        mode="lora", rank=2, epochs=40, encoder_lr=3e-3, head_lr=5e-3, hidden=16, layers=(1, 2), batch_units=4
    )
    delta, tagger = fit_end_to_end(examples, ids, config, checkpoint=tmp_path / "ckpt.pt")
    assert delta and all(k.endswith((".lora_a", ".lora_b")) for k in delta)
    assert any(v.abs().max() > 0 for k, v in delta.items() if k.endswith(".lora_b")), "the adapters never moved"
    out = vectors_and_outputs(examples, delta, tagger, config, "cpu")
    first = examples[0]
    tags, _ = token_targets(first)
    predicted = out[first.document.id].tag_probs.argmax(1)
    assert (predicted == tags).mean() > 0.9, "a model that cannot fit one article has a bug"
    # resuming from the last checkpoint trains no further and gives the same adapters
    again, _ = fit_end_to_end(examples, ids, config, checkpoint=tmp_path / "ckpt.pt")
    for key in delta:
        assert torch.equal(delta[key], again[key])


def test_encoder_reads_its_delta(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    bert = Bert.from_directory(encoder_path(), n_layers=3)
    add_adapters(bert, rank=2, alpha=4.0)
    for name, p in bert.named_parameters():
        if name.endswith(".b"):
            p.data.normal_(0, 0.05)
    save_file(adapter_delta(bert), str(tmp_path / "delta.safetensors"))
    text = "The Kiev regime and its Western curators will stop at nothing."
    plain = Encoder((3,)).encode(text).vectors
    tuned = Encoder((3,), delta=tmp_path / "delta.safetensors")
    assert tuned.cache_key != Encoder((3,)).cache_key, "cached vectors of a tuned encoder must not be reused as plain"
    assert not np.allclose(tuned.encode(text).vectors, plain, atol=1e-3)


def test_one_fold_tunes_on_its_fold_writes_a_model_and_keeps_training_only_examples_in_training(tmp_path):
    """Exploring on one fold (``--stage one-fold``): fold 0's model is tuned and scored on fold 0 alone, never on
    what it trained on; examples of the training-only fold (-1: the genre folder's contrast and textbook sets)
    train in every fold and are never held out; the model it writes analyses text."""
    from spinlens.detect.pipeline import Detector
    from spinlens.training import genre
    from spinlens.training.finetune import TRAINING_ONLY_FOLD, one_fold, stage1, write_model

    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    textbook = genre.corpus("textbook")
    chosen = [f"genre-t-{key}-01" for key in ("nc", "ll", "fear", "doubt", "slogan", "neutral")]  # 5 techniques
    docs = [articles[k] for k in sorted(articles)] + [textbook.articles[k] for k in chosen]
    gold = labels + [x for x in textbook.labels if x.article_id in chosen]
    encoder = Encoder((1, 2))
    examples, ids = tokenized(docs, gold, encoder)
    folds = {"900000001": 0, "900000002": 1} | {k: TRAINING_ONLY_FOLD for k in chosen}
    config = FinetuneConfig(mode="lora", rank=2, epochs=2, hidden=16, layers=(1, 2), batch_units=8)
    stage1(examples, ids, folds, tmp_path, config, ["0"])
    report = one_fold(0, examples, folds, tmp_path, config)
    assert report["held_out"] == ["900000001"], "only fold 0 is scored"
    assert set(report["ptc"]["mean"]) >= {"si", "tc", "flc"} and "reliability" in report["ptc"]
    write_model(tmp_path / "model", examples, tmp_path, config, report, "tiny", "3", {}, fold="0")
    analysis = Detector(tmp_path / "model")("The corrupt regime lies, and it lies again.")
    assert analysis.model == "tiny" and all(s.end > s.start for s in analysis.spans)


def test_stage2_on_the_folds_done_says_which_and_never_scores_a_fold_with_its_own_params(tmp_path):
    """A CPU session may finish only some folds (``--stage 2 --which 0 1``): the report and the model card name the
    folds; with two, each is scored with params tuned on the other alone; with one, it says it was tuned in-fold."""
    from spinlens.detect.config import ModelConfig
    from spinlens.training import genre, tune
    from spinlens.training.finetune import TECHNIQUES, fold_preds, stage1, stage2, write_model

    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    textbook = genre.corpus("textbook")
    chosen = [f"genre-t-{key}-01" for key in ("nc", "ll", "fear", "doubt")]  # fold 1's gold spans
    docs = [articles[k] for k in sorted(articles)] + [textbook.articles[k] for k in chosen]
    gold = labels + [x for x in textbook.labels if x.article_id in chosen]
    examples, ids = tokenized(docs, gold, Encoder((1, 2)))
    folds = {"900000001": 0, "900000002": 1} | {k: 1 for k in chosen}
    config = FinetuneConfig(mode="lora", rank=2, epochs=2, hidden=16, layers=(1, 2), batch_units=8)
    stage1(examples, ids, folds, tmp_path, config, ["0", "1", "all"])
    two = stage2(examples, folds, tmp_path, config, fold_ids=[1, 0])
    assert two["folds"] == 2 and two["fold_ids"] == [0, 1] and "2 of 5" in two["tuned"]
    preds = [fold_preds(f, examples, folds, tmp_path, config, "cpu") for f in (0, 1)]
    # fold 0 is scored with the params tuned on fold 1 alone (the genre set is absent here)
    on_other = tune.tune([preds[1][0]], TECHNIQUES, precision_first=(), recall_floor=config.recall_floor)
    assert two["ptc"]["per_fold"][0] == tune.evaluate_fold(preds[0][0], on_other, TECHNIQUES)
    one = stage2(examples, folds, tmp_path, config, fold_ids=[0])
    assert one["folds"] == 1 and one["tuned"].startswith("in-fold")
    write_model(tmp_path / "model", examples, tmp_path, config, two, "tiny", "4", {})
    cv = ModelConfig.read(tmp_path / "model").cross_validation
    assert cv["fold_ids"] == [0, 1] and "2 of 5" in cv["tuned"]


def test_spinlens_train_finetune_runs_the_recipe_that_ships(tmp_path, monkeypatch):
    """`spinlens train --finetune lora` is the one command of the model card: the shipped version (4) was trained
    with the genre folder's training-only sets, so the CLI must pass them, with the memes and the genre set."""
    from typer.testing import CliRunner

    import spinlens.training.finetune as finetune
    from spinlens.cli import app

    seen: list[list[str]] = []
    monkeypatch.setattr(finetune, "main", lambda argv: seen.append(argv))
    data, memes = tmp_path / "ptc", tmp_path / "memes"
    res = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--run-dir", str(tmp_path / "run"), "--memes", str(memes), "--finetune", "lora"],
    )
    assert res.exit_code == 0, res.output
    (argv,) = seen
    assert {"--genre", "--genre-extra"} <= set(argv)
    assert argv[argv.index("--memes") + 1] == str(memes) and argv[argv.index("--mode") + 1] == "lora"
    assert finetune.MODEL_VERSION == "4.1", "version 4.x is the recipe with --genre-extra: change both together"
    res = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--run-dir", str(tmp_path / "run"), "--finetune", "lora", "--encoder", "mpnet"],
    )
    assert res.exit_code == 0, res.output
    argv = seen[-1]  # the accurate tier's recipe: MPNet's layers 1-5 frozen, the tagger on layers 4 and 6
    assert argv[argv.index("--encoder") + 1] == "mpnet" and argv[argv.index("--frozen-layers") + 1] == "5"
    assert argv[argv.index("--name") + 1] == "ptc-mpnet-bilstm"


def test_frozen_lower_layers_are_computed_once_and_give_what_inference_computes(tmp_path):
    """The accurate tier's CPU recipe (``--frozen-layers K``): layers up to K get no adapters and their states are
    stored once; the vectors rebuilt from them are the ones the encoder with the trained delta gives at inference,
    the run still learns, its checkpoint holds only what was trained, and it resumes to the same adapters."""
    from spinlens.training.finetune import fold_vectors, lower_states, stage1

    articles = read_articles(FIXTURES)
    labels = read_labels(FIXTURES / "article900000001.task-flc-tc.labels", articles)
    encoder = Encoder((1, 2))
    examples, ids = tokenized([articles[k] for k in sorted(articles)], labels, encoder)
    config = FinetuneConfig(
        rank=2, epochs=30, encoder_lr=3e-3, head_lr=5e-3, hidden=16, layers=(1, 2), batch_units=4, frozen_layers=1
    )
    lower = lower_states(tmp_path, config, examples, ids)
    assert lower is not None and lower.layers == (1,)
    delta, tagger = fit_end_to_end(examples, ids, config, checkpoint=tmp_path / "ckpt.pt", lower=lower)
    assert delta and all(k.startswith("layers.1.") for k in delta), "layer 1 is frozen: no adapter there"
    checkpoint = torch.load(tmp_path / "ckpt.pt", weights_only=False)["model"]
    assert not any(k.startswith("bert.word") or ".base." in k for k in checkpoint), "frozen weights are not saved"
    stored = fold_vectors(examples, delta, config, "cpu", "from stored states", lower)
    from spinlens.training.finetune import encoder_with

    direct = encoder_with(delta, config.layers).encode_many([ex.document.text for ex in examples])
    for a, b in zip(stored, direct, strict=True):
        assert a.shape == b.vectors.shape and np.allclose(a, b.vectors, atol=1e-4)
    out = vectors_and_outputs(examples, delta, tagger, config, "cpu", lower)
    tags, _ = token_targets(examples[0])
    assert (out[examples[0].document.id].tag_probs.argmax(1) == tags).mean() > 0.9
    again, _ = fit_end_to_end(examples, ids, config, checkpoint=tmp_path / "ckpt.pt", lower=lower)
    assert all(torch.equal(delta[k], again[k]) for k in delta)
    # stage 1 finds the stored states where they are and does not compute them again
    before = (tmp_path / "lower-minilm-L1" / "L1.npy").stat().st_mtime_ns
    stage1(
        examples,
        ids,
        {ex.document.id: 0 for ex in examples},
        tmp_path,
        FinetuneConfig(**{**config.__dict__, "epochs": 1}),
        ["all"],
    )
    assert (tmp_path / "lower-minilm-L1" / "L1.npy").stat().st_mtime_ns == before
    # a run folder restored from kept files has no stored states: its fold is read with the whole encoder, same outputs
    import shutil

    from spinlens.training.finetune import load_fold

    restored = tmp_path / "restored"
    restored.mkdir()
    for name in ("delta-all.safetensors", "tagger-all.safetensors"):
        shutil.copyfile(tmp_path / name, restored / name)
    assert lower_states(restored, config) is None
    _, _, read = load_fold(restored, "all", examples, config, "cpu")
    _, _, kept = load_fold(tmp_path, "all", examples, config, "cpu")
    for key, out in kept.items():
        assert np.allclose(out.tag_probs, read[key].tag_probs, atol=1e-3)  # the kept outputs are stored in float16
