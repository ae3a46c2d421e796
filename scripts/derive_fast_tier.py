"""The fast tier's files from the default tier's, after the default model is retrained (issue 19).

The fast tier runs the default tier's model (adapters, tagger, technique classifier, thresholds, calibration) with
its encoder in ONNX Runtime int8, built on the user's machine by ``spinlens models add fast``. So its committed
files are copies of the default's, and its config is the default's with the fast tier's name, encoder and runtime,
its CV marked as the default model's float32 numbers (``scores_of``), and its own speed kept until
``benchmarks/speed.py --model fast --record`` measures it again.

    python scripts/derive_fast_tier.py [--int8-loss "-0.000 SI and -0.008 FLC"]

The int8 loss is what ``benchmarks/tier_agreement.py --tiers default fast`` measures (in-sample, on PTC train).
"""

from __future__ import annotations

import argparse
import json
import shutil

from spinlens.detect.registry import MODELS_DIR, TIERS

COPIED = ("encoder-delta.safetensors", "tagger-0.safetensors", "techniques.npz", "reliability.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--int8-loss", default=None, help="what int8 costs the model on PTC train (tier_agreement)")
    args = parser.parse_args()
    default, fast = MODELS_DIR / TIERS["default"], MODELS_DIR / TIERS["fast"]
    source = json.loads((default / "config.json").read_text())
    old = json.loads((fast / "config.json").read_text())
    for name in COPIED:
        shutil.copyfile(default / name, fast / name)
    config = dict(source)
    config["name"] = old["name"]
    config["encoder"] = (
        "all-MiniLM-L6-v2 with the default tier's trained delta folded in, exported to ONNX Runtime with "
        "per-channel int8 weights (spinlens models add fast)"
    )
    config["runtime"] = old["runtime"]
    config["speed"] = old.get("speed")  # measured again by benchmarks/speed.py --model fast --record
    cv = dict(source.get("cross_validation") or {})
    cv["note"] = (
        "The default tier's model, cross-validated in float32: this tier runs the same model (adapters, tagger, "
        "classifier, thresholds) with its encoder in int8."
    )
    loss = f", which costs it {args.int8_loss} on PTC train (benchmarks/tier_agreement.py)" if args.int8_loss else ""
    cv["scores_of"] = (
        f"{source['name']}'s (the default tier's model, cross-validated in float32); this tier runs that model in "
        f"int8{loss}"
    )
    config["cross_validation"] = cv
    (fast / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    print(f"{fast.name}: files and config from {default.name} version {source['version']}")


if __name__ == "__main__":
    main()
