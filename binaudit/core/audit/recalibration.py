"""The loop's cheap half: refit P(variance) on the auditors' verified reviews and rerank the unreviewed bins.

A logistic regression with the current logit P(variance) as offset, logit P' = logit P + b + sum_j beta_j x_j,
on per-bin features (the pooled and each model's -log p(recorded), the gap between each model's expected
count and the record, the record, the metadata rule); a confirmed review is a negative, a correction a positive.
An L2 penalty on b and beta (standardised features) keeps a few reviews near the current queue. Reviews are
chosen by score, which does not bias P(variance | features) since the score is itself a function of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from binaudit.core.variance import at_recorded

FEATURES = ("pooled_surprisal", "recorded", "rule")
MODEL_FEATURES = ("surprisal", "count_gap")  # per model kind, named f"{feature}:{kind}"
FLOOR = 1e-6        # probabilities are clipped here before logs and logits
RECORD_CAP = 50     # the record feature saturates here
MIN_REVIEWS = 10    # fewer reviews than this: no refit, the queue keeps the models' order
L2 = 10.0           # penalty on each standardised coefficient: 40 reviews near P = 1/2 move it about halfway


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [FLOOR, 1 - FLOOR]; NaN stays NaN."""
    q = np.clip(np.asarray(p, dtype=np.float64), FLOOR, 1 - FLOOR)
    return np.log(q) - np.log1p(-q)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), stable for large |z|."""
    z = np.asarray(z, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.exp(-np.logaddexp(0.0, -z))


def _surprisal(probs: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """-log p(recorded) per row, NaN where the row is not scored or the record unknown."""
    return -np.log(np.maximum(at_recorded(probs, recorded), FLOOR))


def _count_gap(probs: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """log1p |E[count] - record| per row (record read as the top class above it), NaN where not scored."""
    p = np.asarray(probs, dtype=np.float64)
    expected = p @ np.arange(p.shape[1], dtype=np.float64)
    return np.log1p(np.abs(expected - np.minimum(recorded, p.shape[1] - 1)))


def _filled(column: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The column with its NaNs replaced by the fallback's values (and 0 where that is NaN too)."""
    return np.nan_to_num(np.where(np.isfinite(column), column, fallback), nan=0.0)


def _mean_of(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Row-wise mean ignoring NaN (NaN where every column is NaN, and when there is none)."""
    if not columns:
        return np.full(n, np.nan)
    stack = np.stack(columns)
    counts = np.isfinite(stack).sum(axis=0)
    total = np.nansum(stack, axis=0)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def features(recorded: np.ndarray, pooled_probs: np.ndarray | None, model_probs: Mapping[str, np.ndarray],
             rule: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-bin features for the recalibration, by name, from the records and the models' class probabilities."""
    r = np.asarray(recorded, dtype=np.int64)
    n = r.shape[0]
    own = {kind: _surprisal(p, r) for kind, p in model_probs.items()}
    gaps = {kind: _count_gap(p, r) for kind, p in model_probs.items()}
    pooled = _surprisal(pooled_probs, r) if pooled_probs is not None else np.full(n, np.nan)
    pooled = _filled(pooled, _mean_of(list(own.values()), n))
    out = {"pooled_surprisal": pooled,
           "recorded": np.log1p(np.clip(r, 0, RECORD_CAP)).astype(np.float64),
           "rule": np.zeros(n) if rule is None else np.asarray(rule, dtype=np.float64)}
    gap_mean = _mean_of(list(gaps.values()), n)
    for kind in model_probs:
        out[f"surprisal:{kind}"] = _filled(own[kind], pooled)
        out[f"count_gap:{kind}"] = _filled(gaps[kind], gap_mean)
    return out


@dataclass(frozen=True)
class Recalibration:
    """A refit of P(variance) on verified reviews: logit P' = logit P + intercept + sum coef * feature."""

    coefficients: dict[str, float]
    intercept: float
    reviewed: int
    positives: int
    note: str

    @classmethod
    def identity(cls, note: str, reviewed: int = 0, positives: int = 0) -> Recalibration:
        """No change to P(variance)."""
        return cls({}, 0.0, reviewed, positives, note)

    def to_json(self) -> str:
        """The recalibration as one JSON object (for the store's queue_updates)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recalibration:
        """The recalibration a to_json wrote."""
        d = json.loads(text)
        return cls({str(k): float(v) for k, v in d["coefficients"].items()}, float(d["intercept"]),
                   int(d["reviewed"]), int(d["positives"]), str(d["note"]))

    def describe(self) -> str:
        """One line: what it was fitted on and its largest coefficients."""
        top = sorted(self.coefficients.items(), key=lambda kv: -abs(kv[1]))[:3]
        parts = ", ".join(f"{name} {value:+.2f}" for name, value in top)
        return f"{self.note}" + (f"; {parts}" if parts else "")


def _newton(z: np.ndarray, y: np.ndarray, offset: np.ndarray, l2: float, iterations: int = 50) -> np.ndarray:
    """Penalised logistic regression with an offset: theta (intercept first) minimising NLL + l2/2 |theta|^2."""
    a = np.column_stack([np.ones(y.size), z])
    theta = np.zeros(a.shape[1])

    def loss(t: np.ndarray) -> float:
        eta = offset + a @ t
        return float((np.logaddexp(0.0, eta) - y * eta).sum() + l2 / 2 * (t @ t))

    for _ in range(iterations):
        p = sigmoid(offset + a @ theta)
        grad = a.T @ (p - y) + l2 * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + l2 * np.eye(theta.size)
        step = np.linalg.solve(hess, grad)
        t, before = 1.0, loss(theta)
        while loss(theta - t * step) > before and t > 1e-6:
            t /= 2
        theta = theta - t * step
        if np.abs(t * step).max() < 1e-8:
            break
    return theta


def fit_recalibration(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                      l2: float = L2) -> Recalibration:
    """Refit P(variance) on the reviewed bins (x: their features; True = a correction) around the prior logit."""
    y = np.asarray(is_variance, dtype=np.float64)
    offset = np.asarray(prior_logit, dtype=np.float64)
    rows = np.isfinite(offset)
    n, positives = int(rows.sum()), int(y[rows].sum())
    if n < MIN_REVIEWS:
        return Recalibration.identity(f"{n} reviews: too few to recalibrate (at least {MIN_REVIEWS}); the queue keeps "
                                      "the models' order", n, positives)
    names = [name for name in x if np.nanstd(np.asarray(x[name], dtype=np.float64)[rows]) > 1e-9]
    cols = np.column_stack([np.nan_to_num(np.asarray(x[name], dtype=np.float64)[rows]) for name in names]) \
        if names else np.zeros((n, 0))
    centre, scale = cols.mean(axis=0), cols.std(axis=0)
    theta = _newton((cols - centre) / scale, y[rows], offset[rows], l2)
    beta = theta[1:] / scale
    intercept = float(theta[0] - beta @ centre)
    return Recalibration({name: float(b) for name, b in zip(names, beta)}, intercept, n, positives,
                         f"recalibrated on {n} reviews ({positives} corrections)")


def apply_recalibration(rec: Recalibration, x: Mapping[str, np.ndarray], prior_logit: np.ndarray) -> np.ndarray:
    """The new P(variance): the prior logit moved by the recalibration (features missing from x are skipped)."""
    z = np.asarray(prior_logit, dtype=np.float64) + rec.intercept
    for name, coefficient in rec.coefficients.items():
        if name in x:
            z = z + coefficient * np.nan_to_num(np.asarray(x[name], dtype=np.float64))
    return sigmoid(z)
