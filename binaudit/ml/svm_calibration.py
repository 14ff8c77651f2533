"""Multiclass calibration of SVM decision values: a multinomial logistic map fitted on held-out data.

Why: the SVM's earlier probabilities were softmax(score / T) over scikit-learn's ovr score, the vote count
plus the summed one-vs-one margins squashed into (-1/3, 1/3). Votes dominate that score and the squash
throws away how far an image lies from each decision boundary, so nearly every image gets the same
tournament pattern (5, 4, 3, ... votes) and one temperature can only scale that pattern: for a weak
model the NLL-optimal T is large and every image's probabilities come out nearly flat (0.22-0.29 on the
real demo), whatever the image. Here the K(K-1)/2 raw decision values themselves are the features of a
softmax regression, p = softmax(W d + b), fitted by penalised maximum likelihood on held-out images
(the validation split), so an image far on one side of its boundaries gets a confident vector and an
ambiguous one a flat vector. The L2 penalty is chosen by k-fold cross-validation on the held-out set
(folds by bin when groups are given); class priors (Laplace-smoothed) are the starting offset, so a
class absent from the held-out set keeps a small, finite probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
CV_FOLDS = 3
MIN_CV_IMAGES = 30


@dataclass(frozen=True)
class DecisionCalibrator:
    """p = softmax(dec @ coef.T + intercept): coef (K, P) over the P one-vs-one decision values."""

    coef: np.ndarray
    intercept: np.ndarray
    l2: float = 0.0

    def logits(self, dec: np.ndarray) -> np.ndarray:
        return np.asarray(dec, dtype=np.float64) @ self.coef.T + self.intercept

    def probabilities(self, dec: np.ndarray) -> np.ndarray:
        z = self.logits(dec)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def _objective(theta: np.ndarray, dec: np.ndarray, onehot: np.ndarray, offset: np.ndarray, l2: float
               ) -> tuple[float, np.ndarray]:
    """Mean NLL + l2 * |theta|^2 and its gradient; theta = [W (K x P) | b (K)] flattened."""
    n, p = dec.shape
    k = onehot.shape[1]
    W, b = theta[:k * p].reshape(k, p), theta[k * p:]
    z = dec @ W.T + b + offset
    z -= z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    loss = float((log_norm - (z * onehot).sum(axis=1)).mean() + l2 * (theta @ theta))
    g = (np.exp(z - log_norm[:, None]) - onehot) / n
    grad = np.concatenate([(g.T @ dec).ravel(), g.sum(axis=0)]) + 2 * l2 * theta
    return loss, grad


def _fit(dec: np.ndarray, target: np.ndarray, n_classes: int, l2: float, offset: np.ndarray) -> DecisionCalibrator:
    from scipy.optimize import minimize
    p = dec.shape[1]
    onehot = np.eye(n_classes)[target]
    res = minimize(_objective, np.zeros(n_classes * (p + 1)), args=(dec, onehot, offset, l2), jac=True,
                   method="L-BFGS-B", options={"maxiter": 500})
    theta = res.x
    return DecisionCalibrator(theta[:n_classes * p].reshape(n_classes, p), theta[n_classes * p:] + offset, l2)


def _log_prior(target: np.ndarray, n_classes: int) -> np.ndarray:
    counts = np.bincount(target, minlength=n_classes).astype(np.float64) + 1.0
    return np.log(counts / counts.sum())


def _folds(n: int, groups: Sequence | None, folds: int, seed: int) -> np.ndarray:
    """A fold number per image; images of one group share a fold."""
    keys = np.unique(np.asarray(groups if groups is not None else np.arange(n)).astype(str), return_inverse=True)[1]
    order = np.random.default_rng(seed).permutation(keys.max() + 1)
    return order[keys] % folds


def _cv_nll(dec: np.ndarray, target: np.ndarray, n_classes: int, l2: float, fold: np.ndarray) -> float:
    total = 0.0
    for f in np.unique(fold):
        fit, held = fold != f, fold == f
        cal = _fit(dec[fit], target[fit], n_classes, l2, _log_prior(target[fit], n_classes))
        probs = cal.probabilities(dec[held])
        total += float(-np.log(np.clip(probs[np.arange(held.sum()), target[held]], 1e-12, None)).sum())
    return total / len(target)


def fit_decision_calibrator(dec: np.ndarray, target: np.ndarray, n_classes: int,
                            groups: Sequence | None = None, grid: Sequence[float] = L2_GRID,
                            folds: int = CV_FOLDS, seed: int = 0) -> tuple[DecisionCalibrator, dict]:
    """Fit p = softmax(W d + b) on held-out decision values dec (n, P) and class indices target; the L2
    penalty is the grid value with the lowest k-fold cross-validated NLL. Returns (calibrator, info)."""
    dec = np.asarray(dec, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    if len(target) == 0:
        raise ValueError("no held-out images to calibrate the SVM on")
    fold = _folds(len(target), groups, folds, seed)
    cv: dict[str, float] = {}
    if len(target) >= MIN_CV_IMAGES and len(np.unique(fold)) > 1:
        cv = {str(l2): _cv_nll(dec, target, n_classes, l2, fold) for l2 in grid}
        l2 = float(min(cv, key=cv.__getitem__))
    else:
        l2 = 1e-2
    cal = _fit(dec, target, n_classes, l2, _log_prior(target, n_classes))
    return cal, {"method": "multinomial logistic on one-vs-one decision values", "l2": l2, "cv_nll": cv,
                 "n": len(target)}
