"""The loop's cheap half: refit P(variance) on the auditors' verified reviews, and choose how far to trust it.

A logistic regression with the current logit P(variance) as offset, logit P' = logit P + b + sum_j beta_j x_j,
on per-bin features (the pooled and each model's -log p(recorded), the gap between each model's expected
count and the record, the record, the metadata rule); a confirmed review is a negative, a correction a positive.
An L2 penalty on beta (standardised features) keeps a few reviews near the current queue; a light one on b lets
them correct a models' P(variance) that is off by a constant. Reviews are chosen by score, which does not bias
P(variance | features) when the model is right; but the queue's reviews are its top, and a fit there is an
extrapolation to the unreviewed rest. So each update chooses among three candidates by held-out evidence
(select_recalibration):

    identity   no change: the models' own P(variance) and order;
    monotone   intercept + pooled_surprisal, its slope kept >= -1: recalibrates P(variance), keeps the order;
    full       every feature: recalibrates and reorders.

The rule, and why. (1) Each candidate is fitted forward-chained on the reviews in review order (five chunks:
fitted on the chunks before, tested on the next), the way the queue itself extrapolates from the reviewed top to
the bins below; the simplest candidate within one standard error (of the paired per-review log-loss difference)
of the best is chosen. Forward chaining, not shuffled or contiguous K-fold: on the real slice (H7, bench/out/
rv_full, rounds of 100) K-fold over review-order chunks picked full in 20 of 21 updates, which cost lift.
(2) Full reorders the unreviewed bins, and there the queue's own reviews cannot vouch for it: on the real slice
full's forward-chained log loss and even its picks among later reviews beat monotone's at every size from 100 to
2,000 reviews, while its reorder of the unreviewed rest found fewer variances (lift at 10% 2.10 vs 2.14: a count
gap that marks a model's mistake at the top marks a record's below). Only a random sample reaches the rest of the
inventory, so full must also predict the random-sample reviews (fitted without them) better by more than one
standard error; with no reviewed sample the order is kept. The chosen candidate is refitted on every review.
A limit: log loss on the sample weighs the whole inventory, not the queue's top; in an offline replay of the real
slice with a 1,000-bin reviewed sample it let full in at most updates, at some cost to the lift (H7's report).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from binaudit.core.variance import at_recorded

FEATURES = ("pooled_surprisal", "recorded", "rule")
MODEL_FEATURES = ("surprisal", "count_gap")  # per model kind, named f"{feature}:{kind}"
FLOOR = 1e-6        # probabilities are clipped here before logs and logits
RECORD_CAP = 50     # the record feature saturates here
MIN_REVIEWS = 10    # fewer reviews than this: no refit, the queue keeps the models' order
L2 = 10.0           # penalty on each standardised coefficient: 40 reviews near P = 1/2 move it about halfway
INTERCEPT_L2 = 1.0  # penalty on the intercept: a unit-normal prior on the shift, so a few dozen reviews can undo
                    # models off by a few logits (the real slice's: -3.5); the held-out choice guards against it
CANDIDATES = ("identity", "monotone", "full")   # simplest first
ORDER_KEEPING = ("identity", "monotone")        # the candidates that leave the queue's order as it is
MONOTONE = "pooled_surprisal"                   # the monotone candidate's one feature (-log(1 - P), see _fit_monotone)
FOLDS = 5           # review-order chunks of the forward-chained test
WORDS = {"identity": "the models' own P(variance)", "monotone": "the order-keeping recalibration",
         "full": "the extra features"}
TITLES = {"identity": "not recalibrated ({n} reviews, {p} corrections)",
          "monotone": "recalibrated on {n} reviews ({p} corrections), order kept",
          "full": "recalibrated on {n} reviews ({p} corrections) and reordered"}


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
    candidate: str = ""   # which of CANDIDATES it is ("" in updates stored before the selection)

    @classmethod
    def identity(cls, note: str, reviewed: int = 0, positives: int = 0) -> Recalibration:
        """No change to P(variance)."""
        return cls({}, 0.0, reviewed, positives, note, "identity")

    def to_json(self) -> str:
        """The recalibration as one JSON object (for the store's queue_updates)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recalibration:
        """The recalibration a to_json wrote."""
        d = json.loads(text)
        return cls({str(k): float(v) for k, v in d["coefficients"].items()}, float(d["intercept"]),
                   int(d["reviewed"]), int(d["positives"]), str(d["note"]), str(d.get("candidate", "")))

    def describe(self) -> str:
        """One line: what it was fitted on and its largest coefficients."""
        top = sorted(self.coefficients.items(), key=lambda kv: -abs(kv[1]))[:3]
        parts = ", ".join(f"{name} {value:+.2f}" for name, value in top)
        return f"{self.note}" + (f"; {parts}" if parts else "")


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
                  l2: float = L2) -> tuple[dict[str, float], float]:
    """(coefficients, intercept) of one candidate fitted on these reviews (rows with a finite prior logit)."""
    y = np.asarray(is_variance, dtype=np.float64)
    offset = np.asarray(prior_logit, dtype=np.float64)
    rows = np.isfinite(offset)
    x = {name: np.asarray(column, dtype=np.float64)[rows] for name, column in x.items()}
    if candidate == "identity" or rows.sum() < MIN_REVIEWS:
        return {}, 0.0
    if candidate == "monotone":
        return _fit_monotone(x, y[rows], offset[rows], l2)
    if candidate == "full":
        return _fit(x, list(x), y[rows], offset[rows], l2)
    raise ValueError(f"no recalibration candidate {candidate!r} (one of {', '.join(CANDIDATES)})")


def _logits(coefficients: Mapping[str, float], intercept: float, x: Mapping[str, np.ndarray],
            prior_logit: np.ndarray) -> np.ndarray:
    """logit P' = prior logit + intercept + sum coefficient x feature (features missing from x skipped)."""
    z = np.asarray(prior_logit, dtype=np.float64) + intercept
    for name, coefficient in coefficients.items():
        if name in x:
            z = z + coefficient * np.nan_to_num(np.asarray(x[name], dtype=np.float64))
    return z


def log_loss(logits: np.ndarray, is_variance: np.ndarray) -> np.ndarray:
    """Per-row log loss -log P(outcome) of a logit P(variance) (stable for large |logit|)."""
    z = np.asarray(logits, dtype=np.float64)
    return np.logaddexp(0.0, z) - np.asarray(is_variance, dtype=np.float64) * z


def forward_chunks(n: int, folds: int = FOLDS, smallest: int = MIN_REVIEWS) -> list[tuple[int, int]]:
    """(start, stop) of the held-out chunks of n reviews in review order: the reviews split into up to `folds`
    contiguous chunks of at least `smallest`; every chunk but the first is held out once (fitted on those before)."""
    chunks = min(folds, n // max(smallest, 1))
    if chunks < 2:
        return []
    edges = np.linspace(0, n, chunks + 1).round().astype(int)
    return [(int(edges[k]), int(edges[k + 1])) for k in range(1, chunks)]


def held_out_losses(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                    folds: int = FOLDS, l2: float = L2) -> dict[str, np.ndarray]:
    """Each candidate's log loss on every held-out review, forward-chained: fitted on the reviews before a chunk,
    tested on the chunk (rows are the reviews in review order; those with a non-finite prior are left out)."""
    rows = np.isfinite(np.asarray(prior_logit, dtype=np.float64))
    y = np.asarray(is_variance, dtype=bool)[rows]
    z = np.asarray(prior_logit, dtype=np.float64)[rows]
    cols = {name: np.asarray(column, dtype=np.float64)[rows] for name, column in x.items()}
    out: dict[str, list[np.ndarray]] = {c: [] for c in CANDIDATES}
    for start, stop in forward_chunks(y.size, folds):
        before = {name: column[:start] for name, column in cols.items()}
        test = {name: column[start:stop] for name, column in cols.items()}
        for candidate in CANDIDATES:
            coefficients, intercept = fit_candidate(candidate, before, y[:start], z[:start], l2)
            out[candidate].append(log_loss(_logits(coefficients, intercept, test, z[start:stop]), y[start:stop]))
    return {c: np.concatenate(parts) if parts else np.zeros(0) for c, parts in out.items()}


def sample_losses(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                  in_sample: np.ndarray, l2: float = L2) -> dict[str, np.ndarray] | None:
    """Each candidate's log loss on the random sample's reviews, fitted on the other reviews; None when the sample
    holds fewer than MIN_REVIEWS reviews or not both a correction and a confirmation (nothing to tell apart)."""
    y = np.asarray(is_variance, dtype=bool)
    z = np.asarray(prior_logit, dtype=np.float64)
    test = np.asarray(in_sample, dtype=bool) & np.isfinite(z)
    if test.sum() < MIN_REVIEWS or y[test].all() or not y[test].any():
        return None
    fit = ~np.asarray(in_sample, dtype=bool)
    out = {}
    for candidate in CANDIDATES:
        coefficients, intercept = fit_candidate(candidate, {k: np.asarray(v)[fit] for k, v in x.items()}, y[fit],
                                                z[fit], l2)
        out[candidate] = log_loss(_logits(coefficients, intercept, {k: np.asarray(v)[test] for k, v in x.items()},
                                          z[test]), y[test])
    return out


def _margin(losses: Mapping[str, np.ndarray], candidate: str, best: str) -> float:
    """One standard error of the mean paired per-review loss difference between two candidates."""
    d = losses[candidate] - losses[best]
    return float(np.std(d, ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("inf")


def one_se_choice(losses: Mapping[str, np.ndarray], among: Sequence[str] = CANDIDATES) -> tuple[str, str]:
    """(chosen, best): the simplest candidate whose mean held-out loss is within one standard error (paired) of
    the best one's, among these (simplest first)."""
    mean = {c: float(np.mean(losses[c])) for c in among}
    best = min(among, key=lambda c: (mean[c], among.index(c)))
    return next(c for c in among if mean[c] - mean[best] <= _margin(losses, c, best)), best


@dataclass(frozen=True)
class Selection:
    """Which candidate the held-out reviews chose, and the evidence: mean log losses per candidate."""

    chosen: str
    reason: str                                         # why, in plain words
    held_out: int = 0                                   # reviews tested forward-chained
    losses: dict[str, float] = field(default_factory=dict)
    sample_reviews: int = 0                             # random-sample reviews tested (0: none usable)
    sample_losses: dict[str, float] = field(default_factory=dict)


def _means(losses: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {c: float(np.mean(v)) for c, v in losses.items()}


def select_candidate(forward: Mapping[str, np.ndarray], sample: Mapping[str, np.ndarray] | None = None) -> Selection:
    """The rule (module docstring): forward-chained evidence picks the simplest candidate within one standard
    error of the best; full must also beat that order-keeping choice on the random sample's reviews by more than
    one standard error (no usable sample: the order is kept)."""
    held = min((np.size(forward[c]) for c in CANDIDATES), default=0)
    if held < 2:
        return Selection("identity", "too few reviews yet to test a recalibration on reviews it was not fitted on")
    mean = _means(forward)
    chosen, best = one_se_choice(forward)
    if chosen != "full":
        return Selection(chosen, _reason(chosen, best, mean), held, mean)
    keep, _ = one_se_choice(forward, ORDER_KEEPING)
    queue = f"the extra features predicted held-out reviews better (log loss {mean['full']:.3f} vs {mean[keep]:.3f})"
    if sample is None:
        return Selection(keep, f"{queue}, but reordering reaches bins below the queue's top, which only a reviewed "
                               "random sample can test: none yet", held, mean)
    smean = _means(sample)
    size = int(np.size(sample["full"]))
    versus = f"(log loss {smean['full']:.3f} vs {smean[keep]:.3f})"
    if smean[keep] - smean["full"] > _margin(sample, keep, "full"):
        return Selection("full", f"{queue} and the random sample's {size} reviews too {versus}", held, mean, size,
                         smean)
    return Selection(keep, f"{queue}, but not clearly the random sample's {size} reviews {versus}", held, mean, size,
                     smean)


def _reason(chosen: str, best: str, mean: Mapping[str, float]) -> str:
    """Why an order-keeping or forward-chain winner, in plain words, with the held-out log losses."""
    if chosen != best:
        return (f"{WORDS[best]} did not predict held-out reviews clearly better "
                f"(log loss {mean[best]:.3f} vs {mean[chosen]:.3f})")
    if chosen == "identity":
        return f"no recalibration predicted held-out reviews better (log loss {mean[chosen]:.3f})"
    simpler = CANDIDATES[CANDIDATES.index(chosen) - 1]
    return (f"it predicted held-out reviews clearly better than {WORDS[simpler]} "
            f"(log loss {mean[chosen]:.3f} vs {mean[simpler]:.3f})")


def select_recalibration(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                         in_sample: np.ndarray | None = None, folds: int = FOLDS,
                         l2: float = L2) -> tuple[Recalibration, Selection]:
    """The loop's recalibration: the candidate the held-out evidence chooses (select_candidate), refitted on every
    review; its note says which and why. Rows are the reviewed bins in review order (x: their features; True = a
    correction); in_sample marks the reviews of random-sample bins (None: no sample)."""
    z = np.asarray(prior_logit, dtype=np.float64)
    y = np.asarray(is_variance, dtype=bool)
    n, positives = int(np.isfinite(z).sum()), int(y[np.isfinite(z)].sum())
    if n < MIN_REVIEWS:
        return (Recalibration.identity(f"{n} reviews: too few to recalibrate (at least {MIN_REVIEWS}); the queue "
                                       "keeps the models' order", n, positives),
                Selection("identity", "too few reviews"))
    sample = None if in_sample is None else sample_losses(x, y, z, in_sample, l2)
    selection = select_candidate(held_out_losses(x, y, z, folds, l2), sample)
    coefficients, intercept = fit_candidate(selection.chosen, x, y, z, l2)
    note = f"{TITLES[selection.chosen].format(n=n, p=positives)}: {selection.reason}"
    return Recalibration(coefficients, intercept, n, positives, note, selection.chosen), selection


def fit_recalibration(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                      l2: float = L2) -> Recalibration:
    """Refit P(variance) on the reviewed bins (x: their features; True = a correction) around the prior logit,
    with every feature (the "full" candidate, no selection: select_recalibration chooses)."""
    y = np.asarray(is_variance, dtype=np.float64)
    rows = np.isfinite(np.asarray(prior_logit, dtype=np.float64))
    n, positives = int(rows.sum()), int(y[rows].sum())
    if n < MIN_REVIEWS:
        return Recalibration.identity(f"{n} reviews: too few to recalibrate (at least {MIN_REVIEWS}); the queue keeps "
                                      "the models' order", n, positives)
    coefficients, intercept = fit_candidate("full", x, is_variance, prior_logit, l2)
    note = f"recalibrated on {n} reviews ({positives} corrections)"
    return Recalibration(coefficients, intercept, n, positives, note, "full")


def apply_recalibration(rec: Recalibration, x: Mapping[str, np.ndarray], prior_logit: np.ndarray) -> np.ndarray:
    """The new P(variance): the prior logit moved by the recalibration (features missing from x are skipped)."""
    return sigmoid(_logits(rec.coefficients, rec.intercept, x, prior_logit))
