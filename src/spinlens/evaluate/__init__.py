"""Scorers for span identification (SI), technique classification (TC), both jointly (FLC) and articles."""

from spinlens.evaluate.scorers import (
    SCORERS,
    Score,
    evaluate,
    merge_spans,
    score_article,
    score_flc,
    score_si,
    score_tc,
)

__all__ = ["SCORERS", "Score", "evaluate", "merge_spans", "score_article", "score_flc", "score_si", "score_tc"]
