"""The Queue quality panel's words and curves from a core.audit Report (Qt-free, so it is tested alone).

The verdict first, in plain words: better than random, no better than random (said plainly, so the
order implies nothing it does not have), or cannot tell yet and what to do about it (draw a random
sample, review it, review more of the queue). Then the figures, each with its 95% interval and where
it comes from, and the found-vs-reviewed curve against random review from the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from binaudit.core.audit.estimates import Interval
from binaudit.core.audit.report import FROM_SAMPLE, Report

SAMPLE_ACTION = "Label > Random-Sample Audit\u2026"


@dataclass(frozen=True)
class QualityView:
    """What the panel shows: the verdict (better: True/False/None = cannot tell), figure rows (name, value,
    tooltip), the curves over 0..reviewed (random ones None without a sample) and a note."""

    verdict: str
    better: bool | None
    verdict_tip: str
    rows: list[tuple[str, str, str]]
    reviewed_axis: np.ndarray
    found: np.ndarray
    random: np.ndarray | None
    random_low: np.ndarray | None
    random_high: np.ndarray | None
    best: np.ndarray | None
    note: str


def _count(i: Interval) -> str:
    """A count with its interval, in whole bins: '41 (30\u201352)'."""
    return f"{i.value:,.0f} ({i.low:,.0f}\u2013{i.high:,.0f})"


def _rate(i: Interval) -> str:
    """A share in percent with its interval: '7.5% (5.4\u201310.4%)'."""
    return f"{100 * i.value:.1f}% ({100 * i.low:.1f}\u2013{100 * i.high:.1f}%)"


def verdict_text(r: Report) -> str:
    """The verdict sentence: core.audit's, with the app's way to a sample when there is none."""
    if r.sample is None:
        return (f"Cannot tell yet whether the queue beats random review: draw a random sample ({SAMPLE_ACTION}) "
                "and review it.")
    if r.random_rate is None:
        return (f"Cannot tell yet: review the random sample's bins ({r.sample.reviewed:,} of {r.sample.size:,} "
                "reviewed) to know what random review would find.")
    return r.verdict.text


def figure_rows(r: Report) -> list[tuple[str, str, str]]:
    """(name, value, tooltip) of each figure the panel lists."""
    gain = f" ({r.lift:.1f}\u00d7 random)" if np.isfinite(r.lift) else ""
    rows = [("Reviewed from the queue", f"{r.reviewed:,} bins, {r.found:,} variances found{gain}",
             "Bins reviewed in the audit queue's order (a random sample's reviews are counted apart); "
             "\u00d7 random: found / what random review of as many bins would have found")]
    if r.sample is not None:
        rows.append((f"Random sample #{r.sample.id}",
                     f"{r.sample.reviewed:,} of {r.sample.size:,} bins reviewed, {r.sample.found:,} variances"
                     + (", stratified" if r.sample.stratified else ""),
                     f"Drawn by {r.sample.created_by} at random from {r.sample.population:,} bins; review every one"))
    used = r.estimate_sample or r.sample
    source = f"random sample #{used.id} ({used.reviewed:,} bins reviewed)" if used is not None else ""
    if used is not None and r.sample is not None and used.id != r.sample.id:
        rows.append(("Estimates from", f"random sample #{used.id}: {used.reviewed:,} of {used.size:,} reviewed",
                     f"Sample #{r.sample.id} has no estimate yet; the newest sample with one is used"))
    if r.variance_rate is not None:
        rows.append(("Inventory variance rate", _rate(r.variance_rate),
                     f"Share of all {r.population:,} bins whose recorded count is wrong, from {source} "
                     f"({r.variance_rate.method})"))
    else:
        rows.append(("Inventory variance rate", "unknown: needs a reviewed random sample",
                     "Estimated without bias only from a random sample (" + SAMPLE_ACTION + ")"))
    if r.record_accuracy is not None:
        rows.append(("Record accuracy", _rate(r.record_accuracy),
                     "Share of the inventory's records that are right: the figure to report"))
    if r.remaining is not None:
        origin = source if r.remaining_source == FROM_SAMPLE else "the models' calibrated P(variance)"
        rows.append(("Variances left", f"{_count(r.remaining)} in the unreviewed bins",
                     f"Estimated from {origin}"))
    if r.expected_next is not None:
        rows.append((f"In the next {r.next_n} bins", f"{_count(r.expected_next)} variances expected",
                     f"Sum of the calibrated P(variance) of the next {r.next_n} unreviewed bins of the queue "
                     f"({r.queue_size:,} left in it): when it nears 0, the queue is exhausted"))
    return rows


def quality_view(r: Report) -> QualityView:
    """The panel's content for one report."""
    n = r.reviewed
    axis = np.arange(0, n + 1, dtype=np.float64)
    found = np.concatenate([[0.0], np.asarray(r.curve, np.float64)])
    random = low = high = best = None
    if r.random_curve is not None and r.random_rate is not None:
        random = np.concatenate([[0.0], np.asarray(r.random_curve, np.float64)])
        low, high = axis * r.random_rate.low, axis * r.random_rate.high
    if r.best_curve is not None:
        best = np.concatenate([[0.0], np.asarray(r.best_curve, np.float64)])
    intervals = [i for i in (r.variance_rate, r.remaining, r.expected_next) if i is not None]
    note = " ".join(([f"In brackets: {intervals[0].level:.0%} intervals."] if intervals else []) + list(r.notes))
    if r.queue_update:
        note = (note + " " if note else "") + f"In force: {r.queue_update}"
    tip = (f"Lift {r.lift:.2f} (queue hits / random review's expected hits)" if np.isfinite(r.lift)
           else "The lift needs a reviewed random sample")
    better = None if r.random_rate is None else r.verdict.better_than_random
    return QualityView(verdict_text(r), better, tip, figure_rows(r), axis, found, random, low, high, best, note)
