"""The queue-quality figures: found-vs-reviewed curves, lift, the plain-words verdict and stopping guidance."""

from __future__ import annotations

import numpy as np
import pytest

from binaudit.core.audit import (
    MIN_REVIEWED,
    best_curve,
    expected_in_next,
    found_curve,
    lift,
    queue_verdict,
    random_expectation,
    variance_rate,
    variances_remaining_from_model,
)


def test_curves_and_lift_known_answers() -> None:
    assert found_curve(np.array([1, 0, 0, 1, 1], bool)).tolist() == [1, 1, 1, 2, 3]
    assert found_curve(np.array([], bool)).tolist() == []
    assert random_expectation(np.arange(1, 4), 0.1) == pytest.approx([0.1, 0.2, 0.3])
    assert random_expectation(200, 0.05) == pytest.approx(10.0)
    assert best_curve(3, np.arange(1, 6)).tolist() == [1, 2, 3, 3, 3] and best_curve(3, 2) == 2
    assert lift(30, 200, 0.05) == pytest.approx(3.0)
    assert np.isnan(lift(3, 200, 0.0))


def test_verdict_cannot_tell_without_a_sample_or_with_few_reviews() -> None:
    none = queue_verdict(50, 100, None)
    assert none.better_than_random is None and "cannot tell" in none.text.lower() and "random-sample" in none.text
    few = queue_verdict(MIN_REVIEWED - 1, MIN_REVIEWED - 1, variance_rate(5, 200, 10_000))
    assert few.better_than_random is None and "cannot tell" in few.text.lower()


def test_verdict_words_for_clear_and_null_cases() -> None:
    rate = variance_rate(10, 400, 10_000)                 # 2.5%
    better = queue_verdict(40, 200, rate)                 # 20% hit rate: 8x
    assert better.better_than_random is True and better.text.startswith("Better than random")
    assert better.lift == pytest.approx(8.0) and "8.0x" in better.text
    same = queue_verdict(5, 200, rate)                    # exactly what random finds
    assert same.better_than_random is False and same.text.startswith("No better than random")
    worse = queue_verdict(0, 2000, variance_rate(40, 400, 10_000))
    assert worse.better_than_random is False and worse.text.startswith("Worse than random")


def _verdict_rate(queue_rate: float, trials: int, seed: int) -> float:
    """How often the verdict says "better" when the queue's true hit rate is queue_rate and the inventory's is 5%."""
    rng = np.random.default_rng(seed)
    said_better = 0
    for _ in range(trials):
        rate = variance_rate(int(rng.binomial(300, 0.05)), 300, 50_000)
        reviewed = int(rng.integers(100, 400))
        said_better += bool(queue_verdict(int(rng.binomial(reviewed, queue_rate)), reviewed, rate).better_than_random)
    return said_better / trials


def test_verdict_is_a_test_at_five_percent() -> None:
    """A random queue is called better at most about 5% of the time; a queue at 3x random almost always."""
    assert _verdict_rate(0.05, 1000, 1) <= 0.07
    assert _verdict_rate(0.15, 500, 2) >= 0.95


def test_expected_in_next_known_answers() -> None:
    p = np.concatenate([np.full(50, 0.2), np.full(100, 0.01), [np.nan]])
    nxt = expected_in_next(p, 100)
    assert nxt.value == pytest.approx(50 * 0.2 + 50 * 0.01) and nxt.n == 100
    assert nxt.low <= nxt.value <= nxt.high
    fair = expected_in_next(np.full(100, 0.5))
    assert (fair.low, fair.high) == (40.0, 60.0)           # Binomial(100, 1/2) 2.5% and 97.5% quantiles
    assert (expected_in_next(np.zeros(300)).low, expected_in_next(np.zeros(300)).high) == (0.0, 0.0)
    sure = expected_in_next(np.ones(300))
    assert (sure.value, sure.low, sure.high) == (100.0, 100.0, 100.0)
    assert expected_in_next(np.full(30, 0.1)).n == 30      # a short queue: what is left


@pytest.mark.parametrize(("bins", "seed"), [(100, 1), (8000, 2)])
def test_model_count_interval_covers_simulated_counts(bins: int, seed: int) -> None:
    """The Poisson-binomial interval (exact for few bins, normal for many) covers at least 95%, not far more."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 6, bins)
    ci = variances_remaining_from_model(p)
    counts = (rng.random((2000, bins)) < p).sum(axis=1)
    inside = ((counts >= ci.low) & (counts <= ci.high)).mean()
    assert ci.value == pytest.approx(p.sum())
    assert 0.94 <= inside <= 0.99


def test_model_count_interval_with_tiny_probabilities_over_many_bins() -> None:
    """Many bins, almost no variances expected: Poisson quantiles, not a normal interval below zero."""
    ci = variances_remaining_from_model(np.full(200_000, 1e-5))
    assert ci.value == pytest.approx(2.0) and ci.low == 0.0 and 4.0 <= ci.high <= 6.0
