"""The loop's cheap half: refit P(variance) on the auditors' verified reviews (the candidate refits).

A logistic regression with the current logit P(variance) as offset, logit P' = logit P + b + sum_j beta_j x_j,
on per-bin features (the pooled and each model's -log p(recorded), the gap between each model's expected
count and the record, the record, the metadata rule); a confirmed review is a negative, a correction a positive.
An L2 penalty on beta (standardised features) keeps a few reviews near the current queue; a light one on b lets
them correct a models' P(variance) that is off by a constant. Reviews are chosen by score, which does not bias
P(variance | features) when the model is right; but the queue's reviews are its top, and a fit there is an
extrapolation to the unreviewed rest. So each update chooses among four candidates by held-out evidence
(select_recalibration), the least change first:

    identity   no change: the models' own P(variance) and order;
    monotone   intercept + pooled_surprisal, its slope kept >= -1: recalibrates P(variance), keeps the order;
    sizes      the error-size model: recalibrates and reorders by what the corrections say of the records;
    full       every feature: recalibrates and reorders by a regression on the models' features.

The sizes candidate is core.audit.error_sizes: why it exists, and why its reorder needs no random sample,
is told there.

Which candidate an update uses, and why, is core.audit.selection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from binaudit.core.audit.error_sizes import CountEvidence, error_sizes, miscount_logit
from binaudit.core.variance import at_recorded

FEATURES = ("pooled_surprisal", "recorded", "rule")
MODEL_FEATURES = ("surprisal", "count_gap")  # per model kind, named f"{feature}:{kind}"
FLOOR = 1e-6        # probabilities are clipped here before logs and logits
RECORD_CAP = 50     # the record feature saturates here
MIN_REVIEWS = 10    # fewer reviews than this: no refit, the queue keeps the models' order
L2 = 10.0           # penalty on each standardised coefficient: 40 reviews near P = 1/2 move it about halfway
INTERCEPT_L2 = 1.0  # penalty on the intercept: a unit-normal prior on the shift, so a few dozen reviews can undo
                    # models off by a few logits (the real slice's: -3.5); the held-out choice guards against it
CANDIDATES = ("identity", "monotone", "sizes", "full")   # the least change first
MONOTONE = "pooled_surprisal"                   # the monotone candidate's one feature (-log(1 - P), see _fit_monotone)


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
class Fitted:
    """One candidate fitted on reviews: logit P' = base + intercept + sum coefficient x feature, where the base is
    the models' logit P(variance), or the error-size model's (miscount_logit) when sizes are given."""

    coefficients: dict[str, float]
    intercept: float
    sizes: tuple[float, ...] = ()

    def logits(self, x: Mapping[str, np.ndarray], prior_logit: np.ndarray,
               evidence: CountEvidence | None = None) -> np.ndarray:
        """The fitted logit P(variance) of these rows (features missing from x are skipped); the prior's where the
        error-size model cannot judge a row."""
        prior = np.asarray(prior_logit, dtype=np.float64)
        z = prior
        if self.sizes:
            if evidence is None:
                raise ValueError("the sizes recalibration needs the rows' class probabilities and records")
            z = miscount_logit(evidence, self.sizes)
        z = z + self.intercept
        for name, coefficient in self.coefficients.items():
            if name in x:
                z = z + coefficient * np.nan_to_num(np.asarray(x[name], dtype=np.float64))
        return np.where(np.isfinite(z), z, prior) if self.sizes else z


@dataclass(frozen=True)
class Recalibration:
    """A refit of P(variance) on verified reviews: logit P' = base + intercept + sum coef * feature, the base the
    models' logit P(variance) or, with error sizes, the error-size model's."""

    coefficients: dict[str, float]
    intercept: float
    reviewed: int
    positives: int
    note: str
    candidate: str = ""   # which of CANDIDATES it is ("" in updates stored before the selection)
    error_sizes: tuple[float, ...] = ()  # the sizes candidate's shares of records off by 1, 2, ...

    @classmethod
    def identity(cls, note: str, reviewed: int = 0, positives: int = 0) -> Recalibration:
        """No change to P(variance)."""
        return cls({}, 0.0, reviewed, positives, note, "identity")

    @property
    def fitted(self) -> Fitted:
        """The fitted formula alone."""
        return Fitted(self.coefficients, self.intercept, self.error_sizes)

    def to_json(self) -> str:
        """The recalibration as one JSON object (for the store's queue_updates)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recalibration:
        """The recalibration a to_json wrote."""
        d = json.loads(text)
        return cls({str(k): float(v) for k, v in d["coefficients"].items()}, float(d["intercept"]),
                   int(d["reviewed"]), int(d["positives"]), str(d["note"]), str(d.get("candidate", "")),
                   tuple(float(v) for v in d.get("error_sizes", ())))

    def describe(self) -> str:
        """One line: what it was fitted on and its largest coefficients, or the error sizes it learnt."""
        top = sorted(self.coefficients.items(), key=lambda kv: -abs(kv[1]))[:3]
        parts = [f"{name} {value:+.2f}" for name, value in top]
        if self.error_sizes:
            shares = ", ".join(f"{k}: {share:.0%}" for k, share in enumerate(self.error_sizes[:3], start=1))
            parts.append(f"records off by {shares}")
        return self.note + (f"; {', '.join(parts)}" if parts else "")


def _newton(z: np.ndarray, y: np.ndarray, offset: np.ndarray, l2: float, iterations: int = 50,
            intercept_l2: float | None = None) -> np.ndarray:
    """Penalised logistic regression with an offset: theta (intercept first) minimising
    NLL + intercept_l2/2 theta_0^2 + l2/2 |theta_1..|^2 (intercept_l2 defaults to l2)."""
    a = np.column_stack([np.ones(y.size), z])
    theta = np.zeros(a.shape[1])
    pen = np.full(theta.size, l2)
    pen[0] = l2 if intercept_l2 is None else intercept_l2

    def loss(t: np.ndarray) -> float:
        eta = offset + a @ t
        return float((np.logaddexp(0.0, eta) - y * eta).sum() + (pen * t) @ t / 2)

    for _ in range(iterations):
        p = sigmoid(offset + a @ theta)
        grad = a.T @ (p - y) + pen * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        t, before = 1.0, loss(theta)
        while loss(theta - t * step) > before and t > 1e-6:
            t /= 2
        theta = theta - t * step
        if np.abs(t * step).max() < 1e-8:
            break
    return theta


def _fit(x: Mapping[str, np.ndarray], names: list[str], y: np.ndarray, offset: np.ndarray,
         l2: float) -> tuple[dict[str, float], float]:
    """(coefficients, intercept) on the raw scale of the named features (those constant here get none)."""
    names = [name for name in names if np.nanstd(np.asarray(x[name], dtype=np.float64)) > 1e-9]
    cols = np.column_stack([np.nan_to_num(np.asarray(x[name], dtype=np.float64)) for name in names]) \
        if names else np.zeros((y.size, 0))
    centre, scale = cols.mean(axis=0), cols.std(axis=0)
    theta = _newton((cols - centre) / scale, y, offset, l2, intercept_l2=INTERCEPT_L2)
    beta = theta[1:] / scale
    return {name: float(b) for name, b in zip(names, beta)}, float(theta[0] - beta @ centre)


def _fit_monotone(x: Mapping[str, np.ndarray], y: np.ndarray, offset: np.ndarray,
                  l2: float) -> tuple[dict[str, float], float]:
    """Intercept + pooled_surprisal with its coefficient kept >= -1, so the order is kept.

    With s = pooled_surprisal = -log(1 - P) and the prior logit z = log(e^s - 1), dz/ds = 1 / (1 - e^-s) > 1:
    z + b + beta s rises with s for every beta >= -1. The loss is convex, so when the free fit lands below -1
    the constrained optimum lies on beta = -1 (then only the intercept is fitted, around z - s = log P).
    """
    if MONOTONE not in x:
        return _fit(x, [], y, offset, l2)
    coefficients, intercept = _fit(x, [MONOTONE], y, offset, l2)
    if coefficients.get(MONOTONE, 0.0) >= -1.0:
        return coefficients, intercept
    s = np.nan_to_num(np.asarray(x[MONOTONE], dtype=np.float64))
    _, intercept = _fit(x, [], y, offset - s, l2)
    return {MONOTONE: -1.0}, intercept


def fit_candidate(candidate: str, x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                  l2: float = L2, evidence: CountEvidence | None = None) -> Fitted:
    """One candidate fitted on these reviews (rows with a finite prior logit); sizes needs the rows' evidence
    with their verified counts."""
    y = np.asarray(is_variance, dtype=np.float64)
    offset = np.asarray(prior_logit, dtype=np.float64)
    rows = np.isfinite(offset)
    x = {name: np.asarray(column, dtype=np.float64)[rows] for name, column in x.items()}
    if candidate == "identity" or rows.sum() < MIN_REVIEWS:
        return Fitted({}, 0.0)
    if candidate == "monotone":
        return Fitted(*_fit_monotone(x, y[rows], offset[rows], l2))
    if candidate == "full":
        return Fitted(*_fit(x, list(x), y[rows], offset[rows], l2))
    if candidate == "sizes":
        return _fit_sizes(y[rows], _with_verified(evidence).rows(rows), l2)
    raise ValueError(f"no recalibration candidate {candidate!r} (one of {', '.join(CANDIDATES)})")


def _with_verified(evidence: CountEvidence | None) -> CountEvidence:
    if evidence is None or evidence.verified is None:
        raise ValueError("the sizes candidate needs the reviews' class probabilities, records and verified counts")
    return evidence


def _fit_sizes(y: np.ndarray, evidence: CountEvidence, l2: float) -> Fitted:
    """The error sizes counted from the corrections among these reviews, then the base rate (the intercept)
    around their logit. No slope (a temperature): with one, on the real slice, the held-out choice went back to
    the order-keeping refit in later rounds and the loop found fewer (2.67x against 2.72x at 10%, Lite0)."""
    assert evidence.verified is not None
    corrections = y > 0
    sizes = error_sizes(np.asarray(evidence.recorded)[corrections] - np.asarray(evidence.verified)[corrections])
    z = miscount_logit(evidence, sizes)
    usable = np.isfinite(z)
    _, intercept = _fit({}, [], y[usable], z[usable], l2)
    return Fitted({}, intercept, sizes)


def log_loss(logits: np.ndarray, is_variance: np.ndarray) -> np.ndarray:
    """Per-row log loss -log P(outcome) of a logit P(variance) (stable for large |logit|)."""
    z = np.asarray(logits, dtype=np.float64)
    return np.logaddexp(0.0, z) - np.asarray(is_variance, dtype=np.float64) * z


def fit_recalibration(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                      l2: float = L2, candidate: str = "full",
                      evidence: CountEvidence | None = None) -> Recalibration:
    """Refit P(variance) on the reviewed bins (x: their features; True = a correction) around the prior logit
    with one candidate, "full" (every feature) unless told: no selection, select_recalibration chooses."""
    y = np.asarray(is_variance, dtype=np.float64)
    rows = np.isfinite(np.asarray(prior_logit, dtype=np.float64))
    n, positives = int(rows.sum()), int(y[rows].sum())
    if n < MIN_REVIEWS:
        return Recalibration.identity(f"{n} reviews: too few to recalibrate (at least {MIN_REVIEWS}); the queue keeps "
                                      "the models' order", n, positives)
    fitted = fit_candidate(candidate, x, is_variance, prior_logit, l2, evidence)
    note = f"recalibrated on {n} reviews ({positives} corrections)"
    return Recalibration(fitted.coefficients, fitted.intercept, n, positives, note, candidate, fitted.sizes)


def apply_recalibration(rec: Recalibration, x: Mapping[str, np.ndarray], prior_logit: np.ndarray,
                        evidence: CountEvidence | None = None) -> np.ndarray:
    """The new P(variance): the prior logit moved by the recalibration (features missing from x are skipped);
    with error sizes, the error-size model's logit from the rows' evidence instead (the prior's where it cannot
    judge a row)."""
    return sigmoid(rec.fitted.logits(x, prior_logit, evidence))
