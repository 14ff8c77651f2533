"""The record-accuracy estimators against known answers: simulated populations whose truth is known.

Each coverage test draws many populations (size, true rate and sample size varied, fixed seeds) and checks
the 95% interval covers the truth at 92-98%; an interval that is too narrow or too wide fails.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from binaudit.core.audit import (
    Interval,
    record_accuracy,
    stratified_variance_rate,
    variance_rate,
    variances_remaining_from_sample,
    variances_total,
)

POPULATIONS = 2000


def _mixed(rng: np.random.Generator) -> tuple[int, float, int]:
    """(population, true rate, sample size) over the whole range an inventory can have."""
    size = int(rng.integers(200, 20001))
    return size, float(np.exp(rng.uniform(np.log(0.005), np.log(0.4)))), int(rng.integers(30, min(size, 1000) + 1))


def _rare(rng: np.random.Generator) -> tuple[int, float, int]:
    """Rare variances (0.3-3%) in big inventories: where a normal (Wald) interval collapses to a point."""
    return int(rng.integers(2000, 50001)), float(np.exp(rng.uniform(np.log(0.003), np.log(0.03)))), \
        int(rng.integers(100, 801))


def _most_of_it(rng: np.random.Generator) -> tuple[int, float, int]:
    """Small inventories sampled at 40-90%: where an interval without the finite-population correction is too wide."""
    size = int(rng.integers(100, 2001))
    return size, float(np.exp(rng.uniform(np.log(0.02), np.log(0.4)))), int(size * rng.uniform(0.4, 0.9))


def _simple_coverage(level: float, seed: int = 14, draw: Callable = _mixed) -> float:
    """Share of simulated populations whose true variance rate the simple-sample interval covers."""
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(POPULATIONS):
        size, rate, sampled = draw(rng)
        wrong = int(rng.binomial(size, rate))
        found = int(rng.hypergeometric(wrong, size - wrong, sampled))
        ci = variance_rate(found, sampled, size, level)
        covered += ci.low <= wrong / size <= ci.high
    return covered / POPULATIONS


@pytest.mark.parametrize("draw", [_mixed, _rare, _most_of_it])
def test_simple_interval_covers_the_truth_at_its_level(draw: Callable) -> None:
    assert 0.92 <= _simple_coverage(0.95, draw=draw) <= 0.98


def test_simple_interval_tracks_a_lower_level() -> None:
    """At 80% the same intervals cover about 80%: the coverage test can tell a narrow interval from a right one."""
    assert 0.76 <= _simple_coverage(0.80) <= 0.84


def test_wilson_interval_known_answer_and_finite_population() -> None:
    far = variance_rate(10, 100, 10**9)
    assert far.value == 0.1 and far.n == 100
    assert far.low == pytest.approx(0.0552, abs=5e-4) and far.high == pytest.approx(0.1744, abs=5e-4)
    close = variance_rate(10, 100, 120)            # most of the population seen: far narrower
    assert close.high - close.low < 0.5 * (far.high - far.low)
    assert close.low >= 10 / 120 and close.high <= (120 - 90) / 120
    everything = variance_rate(7, 50, 50)
    assert (everything.low, everything.value, everything.high) == (7 / 50, 7 / 50, 7 / 50)
    none = variance_rate(0, 200, 5000)
    assert none.low == 0.0 and 0.0 < none.high < 0.025


def test_bad_counts_are_refused() -> None:
    for found, sampled, size in ((1, 0, 10), (5, 4, 10), (1, 11, 10), (-1, 5, 10)):
        with pytest.raises(ValueError):
            variance_rate(found, sampled, size)


def test_simple_estimate_is_unbiased_under_random_sampling() -> None:
    """The mean rate over many random samples of one population is its true rate (a shrunk estimate is not)."""
    rng = np.random.default_rng(7)
    size, wrong, sampled = 2000, 137, 100
    population = np.zeros(size, bool)
    population[rng.choice(size, wrong, replace=False)] = True
    values = [variance_rate(int(population[rng.choice(size, sampled, replace=False)].sum()), sampled, size).value
              for _ in range(5000)]
    assert np.mean(values) == pytest.approx(wrong / size, abs=0.0015)


def _stratified_population(rng: np.random.Generator) -> tuple[list[int], list[int], list[int], float]:
    """Strata by score (low rate in the big low-score stratum), sampled disproportionately; (found, sampled, sizes, truth)."""
    strata = int(rng.integers(2, 6))
    sizes = rng.integers(100, 6000, strata)
    rates = np.sort(np.exp(rng.uniform(np.log(0.002), np.log(0.5), strata)))
    wrong = rng.binomial(sizes, rates)
    sampled = np.minimum(sizes, rng.integers(20, 150, strata))
    found = [int(rng.hypergeometric(w, s - w, n)) for w, s, n in zip(wrong, sizes, sampled)]
    return found, sampled.tolist(), sizes.tolist(), float(wrong.sum() / sizes.sum())


def test_stratified_interval_covers_the_truth_at_its_level() -> None:
    rng = np.random.default_rng(41)
    covered = 0
    for _ in range(POPULATIONS):
        found, sampled, sizes, truth = _stratified_population(rng)
        ci = stratified_variance_rate(found, sampled, sizes)
        covered += ci.low <= truth <= ci.high
    assert 0.92 <= covered / POPULATIONS <= 0.98


def test_stratified_estimator_known_answer() -> None:
    ci = stratified_variance_rate([2, 5], [20, 25], [800, 200])
    assert ci.value == pytest.approx(0.8 * 2 / 20 + 0.2 * 5 / 25)   # 0.12, not the pooled 7/45
    assert ci.n == 45 and ci.low < 0.12 < ci.high
    one = stratified_variance_rate([10], [100], [10**9])            # one stratum: the simple interval
    simple = variance_rate(10, 100, 10**9)
    assert one.value == simple.value
    assert one.low == pytest.approx(simple.low, abs=0.01) and one.high == pytest.approx(simple.high, abs=0.01)


def test_stratified_estimate_is_unbiased_where_the_pooled_rate_is_not() -> None:
    rng = np.random.default_rng(3)
    sizes, wrong, sampled = [4000, 800, 200], [20, 40, 60], [50, 50, 50]
    strata = [np.isin(np.arange(s), rng.choice(s, w, replace=False)) for s, w in zip(sizes, wrong)]
    truth = sum(wrong) / sum(sizes)
    values, pooled = [], []
    for _ in range(3000):
        found = [int(pop[rng.choice(pop.size, n, replace=False)].sum()) for pop, n in zip(strata, sampled)]
        values.append(stratified_variance_rate(found, sampled, sizes).value)
        pooled.append(sum(found) / sum(sampled))
    assert np.mean(values) == pytest.approx(truth, abs=0.002)
    assert abs(np.mean(pooled) - truth) > 0.05          # the naive pooled rate: the test can see a biased one


def test_totals_accuracy_and_scaling() -> None:
    rate = variance_rate(12, 300, 10_000)
    total = variances_total(rate, 10_000)
    assert (total.value, total.low, total.high) == pytest.approx((400.0, rate.low * 1e4, rate.high * 1e4))
    accuracy = record_accuracy(rate)
    assert accuracy.value == pytest.approx(0.96) and accuracy.low == pytest.approx(1 - rate.high)
    assert "4.0%" in rate.describe(percent=True) and "95% CI" in rate.describe()
    assert isinstance(total, Interval) and total.n == 300


def test_remaining_from_sample_covers_what_the_queue_left() -> None:
    """The queue reviews the top of a score; a random sample of the rest estimates what is still unreviewed."""
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(1000):
        size = int(rng.integers(2000, 8000))
        score = rng.normal(size=size)
        wrong = rng.random(size) < 1 / (1 + np.exp(-(score * 1.5 - 3.5)))
        queue = np.argsort(-score)[: int(rng.integers(50, 400))]
        domain = np.setdiff1d(np.arange(size), queue)
        sample = rng.choice(domain, int(rng.integers(50, 300)), replace=False)
        found = int(wrong[sample].sum())
        ci = variances_remaining_from_sample(found, sample.size, domain.size)
        truth = int(wrong[domain].sum()) - found
        covered += ci.low <= truth <= ci.high
        assert ci.low >= 0
    assert 0.92 <= covered / 1000 <= 0.98
