"""Which recalibration a queue update uses (core.audit.recalibration's candidates), chosen by held-out evidence.

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
standard error; with no reviewed sample it is left out. The chosen candidate is refitted on every review.
A limit: log loss on the sample weighs the whole inventory, not the queue's top; in an offline replay of the real
slice with a 1,000-bin reviewed sample it let full in at most updates, at some cost to the lift (H7's report).
(3) Sizes comes after monotone in that order: it reorders, so it is chosen only when it predicts held-out reviews
more than one standard error better than keeping the order. It needs no sample (core.audit.error_sizes says
why); a usable sample whose reviews it predicts clearly worse than monotone vetoes it. On the real slice
(bench/audit_yield.py) it won 19 of 20 updates with the default models and 12 of 20 with Lite0, and the loop
found 157 and 180 planted variances in the first 10% of bins against the fixed queue's 138 and 163.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from binaudit.core.audit.error_sizes import CountEvidence
from binaudit.core.audit.recalibration import (
    CANDIDATES,
    L2,
    MIN_REVIEWS,
    Recalibration,
    fit_candidate,
    log_loss,
)

ORDER_KEEPING = ("identity", "monotone")        # the candidates that leave the queue's order as it is
FOLDS = 5           # review-order chunks of the forward-chained test
WORDS = {"identity": "the models' own P(variance)", "monotone": "the order-keeping recalibration",
         "sizes": "the sizes of the corrections", "full": "the extra features"}
TITLES = {"identity": "not recalibrated ({n} reviews, {p} corrections)",
          "monotone": "recalibrated on {n} reviews ({p} corrections), order kept",
          "sizes": "recalibrated on {n} reviews ({p} corrections) by the sizes of the corrections, reordered",
          "full": "recalibrated on {n} reviews ({p} corrections) and reordered"}


def forward_chunks(n: int, folds: int = FOLDS, smallest: int = MIN_REVIEWS) -> list[tuple[int, int]]:
    """(start, stop) of the held-out chunks of n reviews in review order: the reviews split into up to `folds`
    contiguous chunks of at least `smallest`; every chunk but the first is held out once (fitted on those before)."""
    chunks = min(folds, n // max(smallest, 1))
    if chunks < 2:
        return []
    edges = np.linspace(0, n, chunks + 1).round().astype(int)
    return [(int(edges[k]), int(edges[k + 1])) for k in range(1, chunks)]


def _candidates(evidence: CountEvidence | None) -> tuple[str, ...]:
    """The candidates these reviews can fit: sizes only with the evidence it reads."""
    return tuple(c for c in CANDIDATES if c != "sizes" or (evidence is not None and evidence.verified is not None))


def held_out_losses(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                    folds: int = FOLDS, l2: float = L2,
                    evidence: CountEvidence | None = None) -> dict[str, np.ndarray]:
    """Each candidate's log loss on every held-out review, forward-chained: fitted on the reviews before a chunk,
    tested on the chunk (rows are the reviews in review order; those with a non-finite prior are left out)."""
    rows = np.isfinite(np.asarray(prior_logit, dtype=np.float64))
    y = np.asarray(is_variance, dtype=bool)[rows]
    z = np.asarray(prior_logit, dtype=np.float64)[rows]
    cols = {name: np.asarray(column, dtype=np.float64)[rows] for name, column in x.items()}
    counts = None if evidence is None else evidence.rows(rows)
    candidates = _candidates(evidence)
    out: dict[str, list[np.ndarray]] = {c: [] for c in candidates}
    for start, stop in forward_chunks(y.size, folds):
        before = {name: column[:start] for name, column in cols.items()}
        test = {name: column[start:stop] for name, column in cols.items()}
        part = (None, None) if counts is None else (counts.rows(slice(None, start)), counts.rows(slice(start, stop)))
        for candidate in candidates:
            fitted = fit_candidate(candidate, before, y[:start], z[:start], l2, part[0])
            out[candidate].append(log_loss(fitted.logits(test, z[start:stop], part[1]), y[start:stop]))
    return {c: np.concatenate(parts) if parts else np.zeros(0) for c, parts in out.items()}


def sample_losses(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                  in_sample: np.ndarray, l2: float = L2,
                  evidence: CountEvidence | None = None) -> dict[str, np.ndarray] | None:
    """Each candidate's log loss on the random sample's reviews, fitted on the other reviews; None when the sample
    holds fewer than MIN_REVIEWS reviews or not both a correction and a confirmation (nothing to tell apart)."""
    y = np.asarray(is_variance, dtype=bool)
    z = np.asarray(prior_logit, dtype=np.float64)
    test = np.asarray(in_sample, dtype=bool) & np.isfinite(z)
    if test.sum() < MIN_REVIEWS or y[test].all() or not y[test].any():
        return None
    fit = ~np.asarray(in_sample, dtype=bool)
    out = {}
    for candidate in _candidates(evidence):
        fitted = fit_candidate(candidate, {k: np.asarray(v)[fit] for k, v in x.items()}, y[fit], z[fit], l2,
                               None if evidence is None else evidence.rows(fit))
        logits = fitted.logits({k: np.asarray(v)[test] for k, v in x.items()}, z[test],
                               None if evidence is None else evidence.rows(test))
        out[candidate] = log_loss(logits, y[test])
    return out


def _margin(losses: Mapping[str, np.ndarray], candidate: str, best: str) -> float:
    """One standard error of the mean paired per-review loss difference between two candidates."""
    d = losses[candidate] - losses[best]
    return float(np.std(d, ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("inf")


def one_se_choice(losses: Mapping[str, np.ndarray], among: Sequence[str] | None = None) -> tuple[str, str]:
    """(chosen, best): the simplest candidate whose mean held-out loss is within one standard error (paired) of
    the best one's, among these (simplest first; default: every candidate in losses)."""
    among = tuple(c for c in CANDIDATES if c in losses) if among is None else tuple(among)
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
    error of the best; full must also beat the choice among the others on the random sample's reviews by more
    than one standard error (no usable sample: that choice stands); a sample that clearly disagrees with sizes
    keeps the order (monotone)."""
    among = tuple(c for c in CANDIDATES if c in forward)
    held = min((np.size(forward[c]) for c in among), default=0)
    if held < 2:
        return Selection("identity", "too few reviews yet to test a recalibration on reviews it was not fitted on")
    mean = _means(forward)
    chosen, best = one_se_choice(forward, among)
    if chosen == "sizes" and sample is not None and _worse_on_sample(sample, "sizes", "monotone"):
        smean = _means(sample)
        return Selection("monotone", f"{_reason(chosen, best, mean)}, but the random sample's "
                                     f"{np.size(sample['sizes'])} reviews disagree (log loss {smean['sizes']:.3f} vs "
                                     f"{smean['monotone']:.3f})", held, mean, int(np.size(sample["sizes"])), smean)
    if chosen != "full":
        return Selection(chosen, _reason(chosen, best, mean), held, mean)
    keep, _ = one_se_choice(forward, tuple(c for c in among if c != "full"))
    queue = f"the extra features predicted held-out reviews better (log loss {mean['full']:.3f} vs {mean[keep]:.3f})"
    if sample is None:
        return Selection(keep, f"{queue}, but their reorder reaches bins below the queue's top, which only a reviewed "
                               "random sample can test: none yet", held, mean)
    smean = _means(sample)
    size = int(np.size(sample["full"]))
    versus = f"(log loss {smean['full']:.3f} vs {smean[keep]:.3f})"
    if smean[keep] - smean["full"] > _margin(sample, keep, "full"):
        return Selection("full", f"{queue} and the random sample's {size} reviews too {versus}", held, mean, size,
                         smean)
    return Selection(keep, f"{queue}, but not clearly the random sample's {size} reviews {versus}", held, mean, size,
                     smean)


def _worse_on_sample(sample: Mapping[str, np.ndarray], candidate: str, other: str) -> bool:
    """True when the candidate predicts the random sample's reviews worse than the other by more than one
    standard error."""
    return float(np.mean(sample[candidate]) - np.mean(sample[other])) > _margin(sample, candidate, other)


def _reason(chosen: str, best: str, mean: Mapping[str, float]) -> str:
    """Why an order-keeping or forward-chain winner, in plain words, with the held-out log losses."""
    if chosen != best:
        return (f"{WORDS[best]} did not predict held-out reviews clearly better "
                f"(log loss {mean[best]:.3f} vs {mean[chosen]:.3f})")
    if chosen == "identity":
        return f"no recalibration predicted held-out reviews better (log loss {mean[chosen]:.3f})"
    simpler = next(c for c in reversed(CANDIDATES[:CANDIDATES.index(chosen)]) if c in mean)
    return (f"it predicted held-out reviews clearly better than {WORDS[simpler]} "
            f"(log loss {mean[chosen]:.3f} vs {mean[simpler]:.3f})")


def select_recalibration(x: Mapping[str, np.ndarray], is_variance: np.ndarray, prior_logit: np.ndarray,
                         in_sample: np.ndarray | None = None, folds: int = FOLDS, l2: float = L2,
                         evidence: CountEvidence | None = None) -> tuple[Recalibration, Selection]:
    """The loop's recalibration: the candidate the held-out evidence chooses (select_candidate), refitted on every
    review; its note says which and why. Rows are the reviewed bins in review order (x: their features; True = a
    correction); in_sample marks the reviews of random-sample bins (None: no sample); evidence (their class
    probabilities, records and verified counts) lets the sizes candidate compete."""
    z = np.asarray(prior_logit, dtype=np.float64)
    y = np.asarray(is_variance, dtype=bool)
    n, positives = int(np.isfinite(z).sum()), int(y[np.isfinite(z)].sum())
    if n < MIN_REVIEWS:
        return (Recalibration.identity(f"{n} reviews: too few to recalibrate (at least {MIN_REVIEWS}); the queue "
                                       "keeps the models' order", n, positives),
                Selection("identity", "too few reviews"))
    sample = None if in_sample is None else sample_losses(x, y, z, in_sample, l2, evidence)
    selection = select_candidate(held_out_losses(x, y, z, folds, l2, evidence), sample)
    fitted = fit_candidate(selection.chosen, x, y, z, l2, evidence)
    note = f"{TITLES[selection.chosen].format(n=n, p=positives)}: {selection.reason}"
    return (Recalibration(fitted.coefficients, fitted.intercept, n, positives, note, selection.chosen, fitted.sizes),
            selection)
