"""Probability calibration (numpy only): expected calibration error and temperature scaling.

Every count model gives a probability vector over its classes. Temperature scaling rescales the log
probabilities, ``p_T = softmax(log(p) / T)``; for a softmax head that is exactly ``softmax(logits / T)``,
and for any other head (an ordinal one, an SVM calibrator) it is the same one-parameter family on its
class probabilities. T is fitted on the validation split by minimising the negative log-likelihood, which
is convex in 1/T, so a bisection on the derivative finds the optimum exactly. The expected calibration
error (ECE) is the top-label one with 15 equal-width confidence bins (Guo et al. 2017); it is computed
from per-bin sums so that DDP ranks can all-reduce the sums and agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

ECE_BINS = 15
T_BOUNDS = (1e-2, 1e2)
LOG_FLOOR = 1e-12


def log_probs(probs: ArrayLike) -> np.ndarray:
    """log(p) with a floor, so classes a model gives 0 stay finite (and stay near 0 after scaling)."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), LOG_FLOOR, None))


def softmax(logits: ArrayLike) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_temperature(probs: ArrayLike, temperature: float) -> np.ndarray:
    """softmax(log(p) / T): the calibrated probabilities; T = 1 returns p (renormalised)."""
    return softmax(log_probs(probs) / float(temperature))


def nll(probs: ArrayLike, labels: ArrayLike) -> float:
    """Mean negative log-likelihood of the labels (class indices) under the probabilities."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if not len(y):
        return float("nan")
    return float(-log_probs(p[np.arange(len(y)), y]).mean())


def _nll_slope(z: np.ndarray, y: np.ndarray, s: float) -> float:
    """d/ds of mean -log softmax(s z)[y]: E_p[z] - z_y averaged; increasing in s (the NLL is convex in s)."""
    p = softmax(s * z)
    return float(((p * z).sum(axis=1) - z[np.arange(len(y)), y]).mean())


def fit_temperature(probs: ArrayLike, labels: ArrayLike, bounds: tuple[float, float] = T_BOUNDS,
                    iterations: int = 80) -> float:
    """The T in bounds minimising the NLL of softmax(log(p) / T) on (probs, labels); 1.0 without data."""
    z = log_probs(probs)
    y = np.asarray(labels, dtype=np.int64)
    if not len(y) or z.shape[1] < 2:
        return 1.0
    lo, hi = np.log(1.0 / bounds[1]), np.log(1.0 / bounds[0])  # search log(1/T)
    if _nll_slope(z, y, np.exp(lo)) >= 0:
        return float(bounds[1])
    if _nll_slope(z, y, np.exp(hi)) <= 0:
        return float(bounds[0])
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if _nll_slope(z, y, np.exp(mid)) > 0:
            hi = mid
        else:
            lo = mid
    return float(1.0 / np.exp(0.5 * (lo + hi)))


def calibration_bins(probs: ArrayLike, labels: ArrayLike, n_bins: int = ECE_BINS) -> np.ndarray:
    """(n_bins, 3) sums per top-label confidence bin (lower, upper]: [count, sum of confidence, sum correct]."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    out = np.zeros((n_bins, 3), dtype=np.float64)
    if not len(y):
        return out
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    which = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    np.add.at(out, which, np.stack([np.ones_like(conf), conf, correct], axis=1))
    return out


def ece_from_bins(bins: ArrayLike) -> float:
    """Expected calibration error from calibration_bins sums (possibly summed over DDP ranks); NaN if empty."""
    b = np.asarray(bins, dtype=np.float64)
    n = b[:, 0].sum()
    if n <= 0:
        return float("nan")
    return float(np.abs(b[:, 1] - b[:, 2]).sum() / n)


def expected_calibration_error(probs: ArrayLike, labels: ArrayLike, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE: sum over bins of (bin share) x |accuracy - mean confidence| in the bin."""
    return ece_from_bins(calibration_bins(probs, labels, n_bins))


def calibration_report(probs: ArrayLike, labels: ArrayLike, temperature: float = 1.0) -> dict[str, Any]:
    """ECE, NLL and mean confidence of the probabilities before and after a temperature, for run reports."""
    after = apply_temperature(probs, temperature)
    p = np.asarray(probs, dtype=np.float64)
    return {"temperature": float(temperature), "n": len(np.asarray(labels)),
            "ece_before": expected_calibration_error(p, labels), "ece": expected_calibration_error(after, labels),
            "nll_before": nll(p, labels), "nll": nll(after, labels),
            "confidence_before": float(p.max(axis=1).mean()) if len(p) else float("nan"),
            "confidence": float(after.max(axis=1).mean()) if len(after) else float("nan")}
