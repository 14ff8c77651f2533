"""One probability that a record is wrong, pooled from several count models (pure numpy).

Each model gives probabilities p_m(k) over the counts 0..K_m-1 (its top class means "K_m-1 or more").
They are pooled log-linearly, p(k) ∝ exp(Σ_m w_m log p_m(k)), with non-negative weights fitted on the
validation split by minimising the negative log-likelihood of the recorded counts (most records are
right, so the fit asks whose probabilities explain the records), with a light L2 penalty. A model that
does not lower that NLL significantly (likelihood-ratio test) gets weight 0; a flat model cancels out
of the pool whatever its weight; the weights' sum acts as a temperature. P(variance) = 1 - p(recorded), a record
above the pool's top class judged against that class (as core.ranking does for one model).

Models with different class counts are aligned on the common range 0..K-1, K the smallest K_m among
the pooled models: a wider model's classes K-1 and above are summed into class K-1 ("K-1 or more"). A
model the fit gives no weight is dropped and the rest refitted, so a useless narrow model does not
narrow a useful wide one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

FLOOR = 1e-6     # probabilities are clipped here before the log: one confident miss must not dominate the fit
L2 = 1e-3        # the light penalty on the weights (per record, as the NLL is a mean)
MIN_VALIDATION = 20  # fewer validation records than this: no fit, weight 1 each
CHI2 = 3.84      # a model must lower the validation NLL by this much (2 n ΔNLL, chi-square 1 d.f., 5%) to keep a weight


@dataclass(frozen=True)
class PoolFit:
    """The pooling weights and how they were found."""

    weights: dict[str, float]  # model kind -> weight (0: the model adds nothing)
    classes: int               # the common range 0..classes-1; the top class means "classes-1 or more"
    records: int               # validation records the weights were fitted on (0: not fitted)
    note: str                  # how the weights were set, in words

    def describe(self) -> str:
        """One line: each model's weight and how they were set."""
        parts = ", ".join(f"{kind} {w:.2f}" for kind, w in self.weights.items())
        return f"weights {parts or 'none'} ({self.note})"


def aligned(probs: np.ndarray, k: int) -> np.ndarray:
    """(N, K_m) probabilities on 0..k-1: classes k-1 and above summed into the top class, rows renormalised."""
    p = np.asarray(probs, dtype=np.float64)
    if p.shape[1] > k:
        p = np.concatenate([p[:, :k - 1], p[:, k - 1:].sum(axis=1, keepdims=True)], axis=1)
    total = p.sum(axis=1, keepdims=True)
    return p / np.where(total > 0, total, 1.0)


def log_probs(probs: np.ndarray, k: int) -> np.ndarray:
    """Aligned log-probabilities, clipped at FLOOR; 0 on rows the model did not score (NaN), so they add nothing."""
    p = aligned(probs, k)
    scored = np.isfinite(p).all(axis=1)
    out = np.zeros(p.shape)
    out[scored] = np.log(np.clip(p[scored], FLOOR, 1.0))
    return out


def pooled(logs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The log-linear pool: (M, N, K) log-probabilities and M weights -> (N, K) probabilities."""
    z = np.tensordot(np.asarray(weights, dtype=np.float64), logs, axes=1)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(logs: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> float:
    """Mean negative log-likelihood of the records y under the pool, plus the penalty."""
    p = pooled(logs, w)
    return float(-np.log(np.maximum(p[np.arange(y.size), y], 1e-300)).mean() + l2 * (w @ w))


def _gradient_hessian(logs: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of _nll in w: E_p[L] - L(y), and the mean covariance of L under the pool."""
    p = pooled(logs, w)
    expected = np.einsum("nk,mnk->mn", p, logs)
    observed = logs[:, np.arange(y.size), y]
    grad = (expected - observed).mean(axis=1) + 2 * l2 * w
    second = np.einsum("nk,mnk,pnk->mp", p, logs, logs) / y.size
    hess = second - expected @ expected.T / y.size + 2 * l2 * np.eye(w.size)
    return grad, hess


def fit_weights(logs: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = 100) -> np.ndarray:
    """Non-negative weights minimising the pool's NLL of y (projected Newton; the problem is convex)."""
    w = np.ones(logs.shape[0])
    for _ in range(iterations):
        grad, hess = _gradient_hessian(logs, y, w, l2)
        free = (w > 0) | (grad < 0)
        if not free.any() or np.abs(grad[free]).max() < 1e-8:
            break
        step = np.zeros_like(w)
        step[free] = -np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        before, t = _nll(logs, y, w, l2), 1.0
        while t > 1e-6:
            trial = np.maximum(w + t * step, 0.0)
            if _nll(logs, y, trial, l2) <= before + 1e-4 * float(grad @ (trial - w)):
                break
            t /= 2
        if t <= 1e-6:
            break
        w = trial
    return w


def _common_classes(probs: Mapping[str, np.ndarray]) -> int:
    return min(int(p.shape[1]) for p in probs.values())


def _unfitted(probs: Mapping[str, np.ndarray], note: str) -> PoolFit:
    return PoolFit({kind: 1.0 for kind in probs}, _common_classes(probs) if probs else 0, 0, note)


def likelihood_ratios(logs: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each model's likelihood-ratio statistic on y: 2 n (NLL without it, the others refitted - NLL with all)."""
    full = _nll(logs, y, w, 0.0)
    out = []
    for i in range(logs.shape[0]):
        rest = np.delete(logs, i, axis=0)
        out.append(2 * y.size * (_nll(rest, y, fit_weights(rest, y), 0.0) - full))
    return np.array(out)


def _validation_rows(probs: Mapping[str, np.ndarray], recorded: np.ndarray, validation: np.ndarray) -> np.ndarray:
    """Validation rows with a recorded count that every model scored."""
    rows = np.asarray(validation, bool) & (np.asarray(recorded) >= 0)
    for p in probs.values():
        rows &= np.isfinite(p).all(axis=1)
    return rows


def fit_pool(probs: Mapping[str, np.ndarray], recorded: np.ndarray, validation: np.ndarray) -> PoolFit:
    """Weights for the models' (N, K_m) probabilities, fitted on the validation rows' recorded counts.

    A model whose likelihood-ratio statistic is below CHI2 (it does not explain the records better than
    the others without it, at the 5% level) gets weight 0 and the rest are refitted. With one model, or
    fewer than MIN_VALIDATION rows, or no model better than chance, each model gets weight 1 (the note says so).
    """
    if len(probs) < 2:
        return _unfitted(probs, "one model: weight 1" if probs else "no model")
    rows = _validation_rows(probs, recorded, validation)
    n = int(rows.sum())
    if n < MIN_VALIDATION:
        return _unfitted(probs, f"{n} validation records: too few to fit, weight 1 each")
    kinds = list(probs)
    while kinds:
        k = _common_classes({kind: probs[kind] for kind in kinds})
        logs = np.stack([log_probs(probs[kind][rows], k) for kind in kinds])
        y = np.minimum(np.asarray(recorded)[rows], k - 1).astype(np.int64)
        w = fit_weights(logs, y)
        gains = likelihood_ratios(logs, y, w)
        if gains.min() >= CHI2:
            weights = dict.fromkeys(probs, 0.0) | {kind: float(v) for kind, v in zip(kinds, w)}
            return PoolFit(weights, k, n, f"fitted on {n} validation records")
        kinds.pop(int(gains.argmin()))
    return _unfitted(probs, f"no model explains the {n} validation records better than chance: weight 1 each, "
                            "unfitted")


def combine(probs: Mapping[str, np.ndarray], recorded: np.ndarray, fit: PoolFit) -> tuple[np.ndarray, np.ndarray]:
    """(P(variance), pooled probabilities) of every row; NaN where no weighted model scored the row or
    the count is unknown. A model that did not score a row is left out of that row's pool."""
    kinds = [kind for kind in probs if fit.weights.get(kind, 0.0) > 0]
    n = int(np.asarray(recorded).shape[0])
    if not kinds:
        return np.full(n, np.nan), np.full((n, max(fit.classes, 1)), np.nan)
    logs = np.stack([log_probs(probs[kind], fit.classes) for kind in kinds])
    p = pooled(logs, np.array([fit.weights[kind] for kind in kinds]))
    scored = np.zeros(n, bool)
    for kind in kinds:
        scored |= np.isfinite(probs[kind]).all(axis=1)
    p[~scored] = np.nan
    return variance_probability(p, recorded), p


def at_recorded(probs: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """p(recorded) per row, a record above the top class read as the top class; NaN where unknown."""
    p = np.asarray(probs, dtype=np.float64)
    r = np.asarray(recorded)
    known = (r >= 0) & np.isfinite(p).all(axis=1)
    out = np.full(r.shape[0], np.nan)
    rows = np.nonzero(known)[0]
    out[rows] = p[rows, np.minimum(r[rows], p.shape[1] - 1).astype(np.int64)]
    return out


def surprisal(p_recorded: np.ndarray) -> np.ndarray:
    """-log p(recorded): ranks rows as P(variance) = 1 - p(recorded) does, but keeps apart values near P = 1."""
    return -np.log(np.maximum(np.asarray(p_recorded, dtype=np.float64), 1e-300))


def variance_probability(probs: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """P(variance) = 1 - p(recorded) per row (NaN where unknown)."""
    return 1.0 - at_recorded(probs, recorded)
