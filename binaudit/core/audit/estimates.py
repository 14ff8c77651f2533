"""How many records are wrong, with a 95% interval: from a random sample, or from calibrated probabilities.

A simple random sample without replacement of n of N bins, x of them variances, gives the rate x/n
(unbiased); its interval is Wilson's score interval with z^2 scaled by the finite-population correction
(N-n)/(N-1), clipped to what the sample makes certain. A stratified sample weighs each stratum by N_h/N
and uses Wilson's interval at the effective sample size p(1-p)/Var. From the model, the count of
variances among bins is a sum of independent Bernoullis (Poisson-binomial): its quantiles give the interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

EXACT_MAX = 5000   # Poisson-binomial by exact recursion up to this many bins; above it, an approximation
SMALL_VARIANCE = 25.0  # above EXACT_MAX: normal above this variance, Poisson quantiles below


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval: value in [low, high] at confidence level, from n observations."""

    value: float
    low: float
    high: float
    level: float
    n: int
    method: str

    def scaled(self, factor: float, shift: float = 0.0) -> Interval:
        """The same interval for factor * x + shift (factor >= 0): a rate turned into a count."""
        return replace(self, value=self.value * factor + shift, low=self.low * factor + shift,
                       high=self.high * factor + shift)

    def describe(self, digits: int = 1, percent: bool = False) -> str:
        """'12.3% (95% CI 10.1-14.8%)' or '41.0 (95% CI 30.0-52.0)'."""
        k, unit = (100.0, "%") if percent else (1.0, "")
        v, lo, hi = (f"{k * t:.{digits}f}" for t in (self.value, self.low, self.high))
        return f"{v}{unit} ({self.level:.0%} CI {lo}-{hi}{unit})"


def z_value(level: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 at 0.95)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def _wilson(p: float, n_eff: float, z: float) -> tuple[float, float]:
    """Wilson's score interval of a proportion p at (effective) sample size n_eff."""
    if not math.isfinite(n_eff):
        return p, p
    z2 = z * z / n_eff
    centre = (p + z2 / 2) / (1 + z2)
    half = z * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff * n_eff)) / (1 + z2)
    return max(0.0, centre - half), min(1.0, centre + half)


def _check_counts(found: int, sampled: int, population: int) -> None:
    if sampled < 1 or found < 0 or found > sampled or sampled > population:
        raise ValueError(f"need 0 <= found <= sampled <= population and sampled >= 1, got {found}, {sampled}, "
                         f"{population}")


def variance_rate(found: int, sampled: int, population: int, level: float = 0.95) -> Interval:
    """The share of bins whose record is wrong, from a simple random sample without replacement (Wilson + FPC)."""
    _check_counts(found, sampled, population)
    p = found / sampled
    fpc = (population - sampled) / (population - 1) if population > 1 else 0.0
    low, high = _wilson(p, sampled / fpc if fpc > 0 else math.inf, z_value(level))
    low = max(low, found / population)
    high = min(high, (population - (sampled - found)) / population)
    return Interval(p, low, high, level, sampled, "Wilson score, finite-population corrected")


def record_accuracy(rate: Interval) -> Interval:
    """The share of records that are right: 1 - the variance rate, bounds swapped."""
    return replace(rate, value=1 - rate.value, low=1 - rate.high, high=1 - rate.low)


def _stratified_variance(found: np.ndarray, sampled: np.ndarray, sizes: np.ndarray, z: float) -> float:
    """Var of the stratified rate, each stratum's p smoothed toward 1/2 by z^2 (Wilson), so 0 found is not certain."""
    weights = sizes / sizes.sum()
    p = (found + z * z / 2) / (sampled + z * z)
    fpc = np.where(sizes > 1, (sizes - sampled) / np.maximum(sizes - 1, 1), 0.0)
    return float((weights ** 2 * fpc * p * (1 - p) / sampled).sum())


def stratified_variance_rate(found: Sequence[int], sampled: Sequence[int], sizes: Sequence[int],
                             level: float = 0.95) -> Interval:
    """The variance rate from a stratified random sample: strata weighted N_h/N, Wilson at the effective size."""
    x, n, big_n = (np.asarray(a, dtype=np.float64) for a in (found, sampled, sizes))
    if not (x.shape == n.shape == big_n.shape) or x.size == 0:
        raise ValueError("found, sampled and sizes need one entry per stratum")
    for xh, nh, bh in zip(x, n, big_n):
        _check_counts(int(xh), int(nh), int(bh))
    weights = big_n / big_n.sum()
    p = float((weights * x / n).sum())
    z = z_value(level)
    var = _stratified_variance(x, n, big_n, z)
    smoothed = float((weights * (x + z * z / 2) / (n + z * z)).sum())
    n_eff = smoothed * (1 - smoothed) / var if var > 0 else math.inf
    low, high = _wilson(p, n_eff, z)
    total = big_n.sum()
    low, high = max(low, x.sum() / total), min(high, (total - (n - x).sum()) / total)
    return Interval(p, low, high, level, int(n.sum()), "stratified, Wilson at the effective sample size")


def variances_total(rate: Interval, population: int) -> Interval:
    """How many records of the population are wrong: N x the rate."""
    return rate.scaled(float(population))


def variances_remaining_from_sample(found: int, sampled: int, domain: int, level: float = 0.95) -> Interval:
    """Variances still in the unreviewed bins: the sample's rate over the domain the queue has not reviewed,
    times its size, less the sample's own (already found) variances."""
    rate = variance_rate(found, sampled, domain, level)
    out = rate.scaled(float(domain), -float(found))
    return replace(out, low=max(out.low, 0.0), method="random sample: " + rate.method)


def _poisson_binomial_pmf(p: np.ndarray, top: int) -> np.ndarray:
    """P(X = 0..top) of a sum of Bernoulli(p_i), mass above top folded into top (exact recursion)."""
    pmf = np.zeros(top + 1)
    pmf[0] = 1.0
    for q in p:
        shifted = pmf * q
        pmf *= 1 - q
        pmf[1:] += shifted[:-1]
        pmf[-1] += shifted[-1]
    return pmf


def _quantiles_from_pmf(pmf: np.ndarray, alpha: float) -> tuple[float, float]:
    """The alpha/2 and 1 - alpha/2 quantiles of a distribution on 0..len-1."""
    cdf = np.cumsum(pmf)
    low = int(np.searchsorted(cdf, alpha / 2 - 1e-12))
    high = int(np.searchsorted(cdf, 1 - alpha / 2 - 1e-12))
    return float(low), float(min(high, pmf.size - 1))


def _poisson_pmf(mean: float, top: int) -> np.ndarray:
    """P(X = 0..top) of a Poisson(mean) (a conservative stand-in for a Poisson-binomial of small p)."""
    k = np.arange(top + 1)
    log_pmf = k * math.log(max(mean, 1e-300)) - mean - np.array([math.lgamma(i + 1) for i in k])
    return np.exp(log_pmf)


def count_interval(p: np.ndarray, level: float = 0.95) -> Interval:
    """The number of events among independent Bernoulli(p_i): mean sum p, Poisson-binomial quantile interval."""
    q = np.asarray(p, dtype=np.float64)
    q = np.clip(q[np.isfinite(q)], 0.0, 1.0)
    mean, var = float(q.sum()), float((q * (1 - q)).sum())
    top = min(q.size, int(math.ceil(mean + 12 * math.sqrt(var) + 30)))
    if q.size <= EXACT_MAX:
        low, high = _quantiles_from_pmf(_poisson_binomial_pmf(q, top), 1 - level)
        method = "Poisson-binomial, exact"
    elif var < SMALL_VARIANCE:
        low, high = _quantiles_from_pmf(_poisson_pmf(mean, top), 1 - level)
        method = "Poisson approximation"
    else:
        half = z_value(level) * math.sqrt(var) + 0.5
        low, high = max(0.0, math.floor(mean - half)), math.ceil(mean + half)
        method = "normal approximation"
    return Interval(mean, min(low, mean), max(high, mean), level, int(q.size), method)


def variances_remaining_from_model(p_variance: np.ndarray, level: float = 0.95) -> Interval:
    """Variances expected in the unreviewed bins: the sum of their calibrated P(variance), with its interval."""
    return count_interval(p_variance, level)
