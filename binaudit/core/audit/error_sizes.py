"""The error-size model: the loop's "sizes" candidate (core.audit.recalibration), pure numpy.

The models' P(variance) = 1 - p(recorded) counts every other count as evidence of a variance; but
a wrong record is wrong by a miscount, and the corrections say by how much. With the pooled class
probabilities p and the share s_k of corrections off by k (k = 1..D, half each way; error_sizes),

    logit P' = log sum_k s_k/2 (p(r - k) + p(r + k)) - log p(r) + b

(a count above the models' top class read as that class; a negative count impossible). A record the photo
contradicts by more than corrections ever are, or one above what the models can tell apart, no longer tops the
queue by the models' confidence alone: where the models blunder more than records err, their confident
contradictions are their own mistakes. The sizes are counted from the corrections, a property of the records,
not a regression on model features extrapolated from the queue's top; so the held-out reviews may choose this
reorder without a random sample (one that predicts its reviews clearly worse than the order-keeping refit vetoes
it). They are symmetrised because the top over-represents the direction the models see best: on the real slice
75% of the top 200's corrections and 54% of the top 1,000's were records below the truth, 36% of all of them;
the raw directions cost lift in an offline replay (2.0x at 10% against the fixed queue's 2.46x; symmetrised
2.87x).

Where it does not help: models that are calibrated and rarely blunder already rank by the record's plausibility,
and the sizes learnt from the queue's top (biased toward what the models see) then cost a little; records wrong
by any amount make the sizes flat and their order worse. Held-out log loss is an imperfect guard (it weighs
calibration as well as order): in simulated inventories it left the sizes out where they would have helped and,
with few reviews, let them in where they cost (tests/core/test_audit_recalibration.py holds the cases it gets
right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SIZES = 10          # the support: records off by 1..SIZES (further when a correction was)
SIZE_PRIOR = 5.0    # pseudo-corrections spread evenly over the sizes: a few corrections move them, many decide
TINY = 1e-300       # the floor before logs: keeps apart records the models find near impossible


@dataclass(frozen=True)
class CountEvidence:
    """What the sizes candidate reads of each row: the pooled class probabilities (rows x classes, NaN rows not
    scored), the recorded count and, for reviewed rows, the verified count."""

    probs: np.ndarray
    recorded: np.ndarray
    verified: np.ndarray | None = None

    def rows(self, index: Any) -> CountEvidence:
        """The same evidence at these rows (anything that indexes an array)."""
        return CountEvidence(np.asarray(self.probs)[index], np.asarray(self.recorded)[index],
                             None if self.verified is None else np.asarray(self.verified)[index])


def error_sizes(differences: np.ndarray, largest: int = SIZES, prior: float = SIZE_PRIOR) -> tuple[float, ...]:
    """P(a wrong record is off by k | it is wrong) for k = 1..D, from the corrections' record - verified
    differences: the counts of each |difference| plus `prior` pseudo-corrections spread evenly over the sizes;
    D = the larger of `largest` and the largest difference seen."""
    sizes = np.abs(np.asarray(differences, dtype=np.int64))
    sizes = sizes[sizes > 0]
    d = max(largest, int(sizes.max()) if sizes.size else 0, 1)
    counts = np.bincount(sizes, minlength=d + 1)[1:].astype(np.float64)
    return tuple(float(v) for v in (counts + prior / d) / (counts.sum() + prior))


def _p_count(probs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per row, the probability of a count: one above the top class read as the top class, a negative one 0."""
    top = probs.shape[1] - 1
    out = probs[np.arange(probs.shape[0]), np.clip(counts, 0, top)]
    return np.where(counts < 0, 0.0, out)


def miscount_logit(evidence: CountEvidence, sizes: Sequence[float]) -> np.ndarray:
    """log sum_k s_k/2 (p(r - k) + p(r + k)) - log p(r) per row: the log odds that the record is off by one of the
    sizes against that it is right, before the base rate; NaN where not scored or the record is unknown."""
    p = np.asarray(evidence.probs, dtype=np.float64)
    r = np.asarray(evidence.recorded, dtype=np.int64)
    out = np.full(r.shape[0], np.nan)
    known = (r >= 0) & np.isfinite(p).all(axis=1) if p.ndim == 2 and p.shape[1] else np.zeros(r.shape[0], bool)
    if not known.any():
        return out
    pk, rk = p[known], r[known]
    wrong = np.zeros(rk.shape[0])
    for k, share in enumerate(sizes, start=1):
        wrong += share / 2 * (_p_count(pk, rk - k) + _p_count(pk, rk + k))
    out[known] = np.log(np.maximum(wrong, TINY)) - np.log(np.maximum(_p_count(pk, rk), TINY))
    return out


def on_and_within(evidence: CountEvidence, sizes: Sequence[int]) -> tuple[float, float]:
    """(on, within) for one row: the models' probability of the record's count, and of the other counts these
    sizes away from it, each count read as miscount_logit reads it (above the top class as the top class)."""
    probs = np.asarray(evidence.probs, dtype=np.float64)[0]
    top, r = probs.size - 1, int(np.asarray(evidence.recorded)[0])
    near = {min(c, top) for k in sizes for c in (r - k, r + k) if c >= 0} - {min(r, top)}
    return float(probs[min(r, top)]), float(sum(probs[c] for c in near))
