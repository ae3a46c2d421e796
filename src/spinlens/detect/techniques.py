"""Technique classifier: multinomial logistic regression over span features, applied with plain numpy.

Fitting uses scikit-learn (a training-time dependency); the fitted state is four arrays, saved to and loaded
from one ``.npz`` file, so that inference needs nothing but numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class TechniqueClassifier:
    mean: np.ndarray  # (d,) feature means, for standardisation
    scale: np.ndarray  # (d,) feature standard deviations
    coef: np.ndarray  # (k, d)
    intercept: np.ndarray  # (k,)

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, n_classes: int, c: float = 0.01) -> TechniqueClassifier:
        from sklearn.linear_model import LogisticRegression

        mean = features.mean(0)
        scale = features.std(0) + 1e-6
        clf = LogisticRegression(C=c, max_iter=500)
        clf.fit((features - mean) / scale, labels)
        coef = np.zeros((n_classes, features.shape[1]), np.float32)
        intercept = np.full(n_classes, -30.0, np.float32)  # a class never seen in training is never predicted
        coef[clf.classes_] = clf.coef_
        intercept[clf.classes_] = clf.intercept_
        return cls(mean.astype(np.float32), scale.astype(np.float32), coef, intercept)

    def logits(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.coef.T + self.intercept

    def predict_proba(self, features: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        z = self.logits(features) / temperature
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            mean=self.mean,
            scale=self.scale,
            coef=self.coef.astype(np.float16),
            intercept=self.intercept,
        )

    @classmethod
    def load(cls, path: str | Path) -> TechniqueClassifier:
        with np.load(path) as z:
            return cls(z["mean"], z["scale"], z["coef"].astype(np.float32), z["intercept"])


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The softmax temperature that minimises held-out log-loss (a one-parameter calibration)."""
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.3), np.log(5.0), 60)):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        loss = -logp[np.arange(len(labels)), labels].mean()
        if loss < best:
            best, best_t = loss, float(t)
    return best_t
