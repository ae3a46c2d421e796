"""What corrections buy on a new outlet: `python benchmarks/corrections.py [--n 20 100 300]`.

The "new outlet" is the SemEval-2021 Task 6 memes (short texts, another style than PTC's news; their spans were
marked by people, as corrections would be). The first N training memes play the corrected articles: they join
the tagger's training data (as `spinlens train --extra` adds them), and the detector is scored before and after
on the held-out dev memes of the same outlet. To keep it to one tagger per N (about 10 minutes each on 2 cores,
checkpointed, resumable), only the tagger is retrained; the technique classifier, thresholds and calibration stay
the shipped default tier's. Scores: SI and FLC F1 (SemEval-2020 scorers, meme labels mapped to PTC's techniques)
and the share of gold spans a span of the right technique overlaps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from speed import cpu_name  # noqa: E402


def _memes(path: Path):  # type: ignore[no-untyped-def]
    """(Document, PTC labels) of one SemEval-2021 subtask-2 file; techniques PTC lacks are dropped."""
    from spinlens import taxonomy
    from spinlens.formats.ptc import Label
    from spinlens.formats.semeval2021 import read_semeval2021

    out = []
    for doc, spans in read_semeval2021(path):
        doc = doc.model_copy(update={"id": f"meme-{doc.id}"})
        labels = []
        for span in spans:
            mapped = taxonomy.map_label(span.technique, "semeval2021", "ptc14")  # type: ignore[union-attr]
            if len(mapped) == 1:
                labels.append(Label(doc.id, span.start, span.end, mapped[0]))  # type: ignore[union-attr]
        out.append((doc, labels))
    return out


def score(nlp, held_out) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from spinlens.evaluate.scorers import score_flc, score_si
    from spinlens.formats.ptc import Label

    gold = [lab for _, labels in held_out for lab in labels]
    pred, hit = [], 0
    for (doc, labels), analysis in zip(held_out, nlp.pipe([d for d, _ in held_out]), strict=True):
        pred += [Label(doc.id, s.start, s.end, s.technique) for s in analysis.spans]
        hit += sum(
            any(s.technique == g.technique and s.start < g.end and g.start < s.end for s in analysis.spans)
            for g in labels
        )
    return {"si": score_si(gold, pred).f1, "flc": score_flc(gold, pred).f1, "found": hit / max(1, len(gold))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[20, 100], help="corrected memes added to training")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SPINLENS_DATA", "../shared/data")))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/corrections-benchmark"))
    args = parser.parse_args()
    import spinlens
    from spinlens.detect.encoder import Encoder
    from spinlens.detect.pipeline import MODELS_DIR, Detector
    from spinlens.formats.ptc import read_articles, read_labels
    from spinlens.training.examples import build_examples
    from spinlens.training.train import TaggerConfig, fit_tagger

    ptc = args.data / "ptc-semeval2020-task11" / "datasets"
    memes = args.data / "semeval2021-task6" / "data"
    if not (ptc / "train-articles").is_dir() or not (memes / "dev_set_task2.txt").is_file():
        sys.exit(f"needs PTC train and SemEval-2021 Task 6 under {args.data} (set SPINLENS_DATA)")
    held_out = _memes(memes / "dev_set_task2.txt")
    pool = _memes(memes / "training_set_task2.txt")
    default = spinlens.load("default")
    rows = [("shipped default tier (no corrections)", 0, score(default, held_out))]
    articles = read_articles(ptc / "train-articles")
    encoder = Encoder()
    base = build_examples(articles, read_labels(ptc / "train-task-flc-tc.labels", articles), encoder)
    for n in args.n:
        chosen = pool[:n]
        extra = build_examples({d.id: d for d, _ in chosen}, [lab for _, labs in chosen for lab in labs], encoder)
        run = args.run_dir / f"n{n}"
        run.mkdir(parents=True, exist_ok=True)
        tagger = fit_tagger(base + extra, replace(TaggerConfig(), seed=0), checkpoint=run / "tagger.pt")
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp)
            for name in ("techniques.npz", "config.json"):  # stage 2 as shipped
                shutil.copy(MODELS_DIR / "ptc-minilm-bilstm" / name, model / name)
            from safetensors.torch import save_file

            save_file(
                {k: v.half().contiguous() for k, v in tagger.state_dict().items()}, str(model / "tagger-0.safetensors")
            )
            rows.append((f"+ {n} corrected memes in the tagger's training", n, score(Detector(model), held_out)))
    table = Table(title=f"Corrections on a new outlet: {len(held_out)} held-out SemEval-2021 dev memes")
    for col in ("model", "SI F1", "FLC F1", "gold spans found"):
        table.add_column(col)
    for name, _, s in rows:
        table.add_row(name, f"{s['si']:.3f}", f"{s['flc']:.3f}", f"{s['found']:.1%}")
    Console().print(table)
    Console().print(f"machine: {cpu_name()}, {os.cpu_count()} cores. Peer: the shipped default tier (first row).")


if __name__ == "__main__":
    main()
