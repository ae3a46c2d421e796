"""The review loop: what people decided about a model's spans, and what follows from it.

- `spinlens.corrections`: the five corrections (accept, reject, relabel, move, add) and the corrected spans.
- `spinlens.review.tables`: the "review complete" mark of an analysis (who, when).
- `spinlens.review.state`: `review()`, the one function that turns the model's `Analysis` and its corrections into
  the corrected `Analysis` (spans, verdicts, score) that the page, the API, the exports and the reports show.
- `spinlens.review.cli`: ``spinlens export`` and ``spinlens import``.
"""
