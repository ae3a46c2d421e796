"""Where models are and what the tiers are: names to directories, read by the detector and by `spinlens.tiers`.

Kept apart from both so that each depends on this and neither on the other (the detector loads a directory; the
tiers module installs encoders and describes tiers).
"""

from __future__ import annotations

from pathlib import Path

from spinlens.errors import InputError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = "ptc-minilm-bilstm"
TIERS: dict[str, str] = {
    "fast": "ptc-minilm-int8-bilstm",
    "default": DEFAULT_MODEL,
    "accurate": "ptc-mpnet-bilstm",
}


def model_path(model: str | Path | None = None) -> Path:
    """A model directory: given by path, by tier (`TIERS`) or by the name of a model in the package."""
    if model is None:
        return MODELS_DIR / DEFAULT_MODEL
    if Path(model).is_dir():
        return Path(model)
    name = TIERS.get(str(model), str(model))
    if (MODELS_DIR / name).is_dir() and "/" not in name and name not in (".", ".."):
        return MODELS_DIR / name
    if str(model) in TIERS:
        raise InputError(f"the {model} tier's model ({name}) is not in this version of spinlens; see `spinlens models`")
    raise InputError(
        f"no model {str(model)!r}: give a tier ({', '.join(TIERS)}), a model in the package or a model directory"
    )


def model_identity(model: str | Path | None = None) -> tuple[str, str]:
    """(name, version) of a model without loading it: what stored results are keyed by."""
    from spinlens.detect.config import ModelConfig

    config = ModelConfig.read(model_path(model))
    return config.name, config.version
