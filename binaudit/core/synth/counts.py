"""Bin counts: the ABID-like true-count distribution, SKU quantity splits and which
records get a wrong EXPECTED_QUANTITY (the mismatch plan, mostly self-consistent variances)."""

from __future__ import annotations

import numpy as np

# ABID "moderate" task class shares for counts 0..5 (percent).
MODERATE_SHARES = (2.7, 11.4, 21.3, 25.0, 22.3, 17.3)
TAIL_SHARE = 0.10  # share of counts 6..max_count
TAIL_DECAY = 0.75  # each further count is this much rarer
# Share of planted variances whose record contradicts itself (SKU quantities do not add up to
# EXPECTED_QUANTITY). Real variances are mostly misplaced items: the record agrees with itself and
# only the photo disagrees, so most planted ones are self-consistent too.
INCONSISTENT_SHARE = 0.10


def count_distribution(max_count: int = 8) -> np.ndarray:
    """Probabilities of true counts 0..max_count.

    Counts 0..5 follow ABID's moderate shares (90 %), 6..max_count share the
    remaining 10 % with a geometric decay. Truncated and renormalised when
    max_count < 6.
    """
    if max_count < 1:
        raise ValueError("max_count must be >= 1")
    head = np.asarray(MODERATE_SHARES[: min(6, max_count + 1)], dtype=np.float64)
    if max_count < 6:
        return head / head.sum()
    tail = TAIL_DECAY ** np.arange(max_count - 5, dtype=np.float64)
    p = np.concatenate([head / head.sum() * (1.0 - TAIL_SHARE), tail / tail.sum() * TAIL_SHARE])
    return p / p.sum()


def sample_count(rng: np.random.Generator, max_count: int = 8) -> int:
    """Draw one true count from ``count_distribution(max_count)``."""
    p = count_distribution(max_count)
    return int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right").clip(0, len(p) - 1))


def _split_quantities(rng: np.random.Generator, count: int) -> list[int]:
    qs = []
    left = count
    while left > 0:
        q = int(rng.choice([1, 2, 3], p=[0.68, 0.22, 0.10]))
        q = min(q, left)
        qs.append(q)
        left -= q
    return qs


def inconsistent_quota(n_variances: int, share: float) -> int:
    """How many of ``n_variances`` planted variances contradict themselves: ``share`` of them, half rounded up."""
    return int(np.floor(n_variances * share + 0.5))


def _mismatch_plan(seed: int, n: int, rate: float, inconsistent_share: float = INCONSISTENT_SHARE) -> dict[int, str]:
    """index -> "consistent" (record agrees with itself, only the photo differs) or "inconsistent".

    Exactly ``round(n * rate)`` records get a variance; ``inconsistent_quota`` of them are
    "inconsistent" (SKU quantities still add up to the true count), the rest "consistent".
    """
    k = int(round(n * rate))
    if k <= 0:
        return {}
    rng = np.random.default_rng([seed, 0x6D69736D, n])
    chosen = [int(i) + 1 for i in rng.permutation(n)[:k]]
    n_consistent = k - inconsistent_quota(k, inconsistent_share)
    return {i: ("consistent" if j < n_consistent else "inconsistent") for j, i in enumerate(chosen)}
