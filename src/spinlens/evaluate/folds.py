"""Cross-validation folds by article, seeded and fixed in code so that any number can be reproduced."""

from __future__ import annotations

import numpy as np

SEED = 20200  # fixed: changing it changes every reported cross-validated number
N_FOLDS = 5


def article_folds(article_ids: list[str], n_folds: int = N_FOLDS, seed: int = SEED) -> dict[str, int]:
    """Fold number (0..n_folds-1) of each article. Depends only on the set of ids, not on their order."""
    ids = sorted(set(article_ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    return {ids[j]: rank % n_folds for rank, j in enumerate(order)}
