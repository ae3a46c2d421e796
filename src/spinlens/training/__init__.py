"""Training: everything that fits a model, kept apart from inference (`spinlens.detect` never imports this package).

- `examples`: PTC articles (and SemEval-2021 memes) with cached encoder vectors and per-wordpiece span tags.
- `train`: stage 1, the BiLSTM span tagger per fold (slow, checkpointed, resumable); the cross-validated report;
  writing a model directory.
- `tune`: stage 2 on the stored fold outputs: technique classifier, thresholds and calibration, cross-fitted.

``spinlens train`` is the command; a model goes into a new directory unless ``--into-package`` is given.
"""
