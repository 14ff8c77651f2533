"""Is the queue finding variances faster than a random walk through the bins would?

Reviewing n bins in random order finds n x rate variances on average, rate being the inventory's variance
rate estimated from a random sample; the queue's lift is found / that. The verdict is a one-sided z test at
5% of the queue's hit rate found/n above the sample's rate, with both uncertainties (binomial on the queue,
the sample's interval on the rate); without a sample, or with too few reviews, it cannot tell yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from binaudit.core.audit.estimates import Interval, z_value

MIN_REVIEWED = 20  # fewer queue reviews than this: no verdict


def found_curve(is_variance_in_review_order: np.ndarray) -> np.ndarray:
    """Variances found after 1..n reviews, in the order the bins were reviewed."""
    return np.cumsum(np.asarray(is_variance_in_review_order, dtype=bool), dtype=np.int64)


def random_expectation(reviewed: np.ndarray | int, rate: float) -> np.ndarray | float:
    """Variances a random order finds on average after `reviewed` bins."""
    if isinstance(reviewed, np.ndarray):
        return reviewed.astype(np.float64) * rate
    return float(reviewed) * rate


def best_curve(variances: int, reviewed: np.ndarray | int) -> np.ndarray | int:
    """The most variances any order can have found after `reviewed` bins: every review a hit until none are left."""
    if isinstance(reviewed, np.ndarray):
        return np.minimum(reviewed, variances)
    return min(int(reviewed), variances)


def lift(found: int, reviewed: int, rate: float) -> float:
    """Found over what random review finds (1 = no better than random); NaN when random finds none."""
    expected = reviewed * rate
    return found / expected if expected > 0 else math.nan


@dataclass(frozen=True)
class Verdict:
    """Whether the queue beats random review (None: cannot tell yet), in plain words."""

    better_than_random: bool | None
    text: str
    lift: float


def _z_above(found: int, reviewed: int, rate: Interval) -> float:
    """z statistic of the queue's hit rate above the sample's rate, both uncertainties counted."""
    hit = found / reviewed
    rate_se = (rate.high - rate.low) / (2 * z_value(rate.level))
    se = math.sqrt(hit * (1 - hit) / reviewed + rate_se ** 2)
    diff = hit - rate.value
    if se == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / se


def queue_verdict(found: int, reviewed: int, rate: Interval | None, level: float = 0.95) -> Verdict:
    """Better than random, no better, or cannot tell yet: a one-sided test of the queue against the sample."""
    if rate is None:
        return Verdict(None, "Cannot tell yet: draw a random-sample audit to know what random review would find.",
                       math.nan)
    if reviewed < MIN_REVIEWED:
        return Verdict(None, f"Cannot tell yet: {reviewed} bins reviewed from the queue, at least {MIN_REVIEWED} "
                             "are needed.", math.nan)
    expected = reviewed * rate.value
    gain = lift(found, reviewed, rate.value)
    z = _z_above(found, reviewed, rate)
    critical = z_value(2 * level - 1)  # one-sided: 1.645 at 0.95
    said = f"{found} variances in {reviewed} bins reviewed; random review would have found about {expected:.1f}"
    if z > critical:
        times = f"{gain:.1f}x random" if math.isfinite(gain) else "while random finds almost none"
        return Verdict(True, f"Better than random: {said} ({times}).", gain)
    if z < -critical:
        return Verdict(False, f"Worse than random: {said}. The queue's order is not helping.", gain)
    return Verdict(False, f"No better than random: {said}. The queue's order has not shown it finds variances "
                          "faster than a random walk.", gain)

