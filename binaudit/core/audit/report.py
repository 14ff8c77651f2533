"""How good the audit queue is, from a workspace's reviews and its latest random sample (core.audit.loop).

The queue's curve counts the reviews the queue led to: a review made after a sample holding the bin was
drawn is the sample's, not the queue's. The random baseline, the inventory's variance rate and its interval
come from the random sample with the most reviewed bins, from all of them, those the queue had reviewed
before the draw included (simple or stratified estimator; uncountable photos are not reviews and
are left out). The variances left in the unreviewed bins come from that sample when it has
reviews, else from the calibrated P(variance) of the unreviewed bins; the report says which.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from binaudit.core.audit.curves import Verdict, best_curve, found_curve, lift, queue_verdict, random_expectation
from binaudit.core.audit.estimates import (
    Interval,
    record_accuracy,
    stratified_variance_rate,
    variance_rate,
    variances_remaining_from_model,
    variances_remaining_from_sample,
    variances_total,
)
from binaudit.core.audit.recalibration import MIN_REVIEWS
from binaudit.core.audit.stopping import expected_in_next
from binaudit.core.store.audit import Review, SampleBin

FROM_SAMPLE = "random sample"
FROM_MODELS = "calibrated P(variance) of the unreviewed bins"
UNCHECKED = ("no variances expected or left are estimated from the models yet: their P(variance) has not been "
             "checked against reviews (a model that counts a third of the bins right puts P(variance) near 70% on "
             "every bin). Review some bins of the queue and update it (Label > Update the Queue, Ctrl+U; the app "
             "does it every 25 decisions; `binaudit update-queue`).")


@dataclass(frozen=True)
class Stratum:
    """One stratum of the sample: its population, draws, and the reviewed and found among the draws."""

    stratum: int
    size: int
    drawn: int
    reviewed: int
    found: int


@dataclass(frozen=True)
class SampleSummary:
    """The latest random sample and how far its review has got."""

    id: int
    created_at: str
    created_by: str
    stratified: bool
    seed: int | None
    population: int      # bins it was drawn from (usable photo, recorded count)
    size: int
    reviewed: int        # sampled bins with a verified count (confirmed or corrected)
    found: int           # of which variances
    strata: list[Stratum]
    next_to_review: list[str]  # unreviewed sampled bins in draw order (the first few)
    unreviewed: int


@dataclass(frozen=True)
class Report:
    """The audit queue's quality, the inventory's variance rate and the stopping guidance, in one object."""

    reviewed: int                      # bins reviewed from the queue (sample reviews left out)
    found: int                         # variances among them
    curve: list[int]                   # variances found after 1..reviewed queue reviews
    all_reviewed: int                  # every standing review (queue and sample)
    all_found: int
    verdict: Verdict
    lift: float                        # found / what random review would have found (NaN: no baseline)
    random_rate: Interval | None       # the sample's variance rate: random review's hit rate
    random_curve: list[float] | None   # what random review would have found after 1..reviewed
    best_curve: list[int] | None       # the best possible: every review a variance while the sample's estimated
                                       # variances last (None: no estimate)
    sample: SampleSummary | None       # the latest random sample (the one to review next)
    estimate_sample: SampleSummary | None  # the sample the estimates come from: the newest with an estimate
    population: int                    # bins a sample draws from
    variance_rate: Interval | None     # share of the inventory's records that are wrong (from the sample)
    record_accuracy: Interval | None   # 1 - variance_rate
    variances_total: Interval | None
    remaining: Interval | None         # variances still in the unreviewed bins
    remaining_source: str              # FROM_SAMPLE, FROM_MODELS or "" (neither available)
    next_n: int
    expected_next: Interval | None     # variances expected in the next next_n bins of the queue
    queue_size: int                    # unreviewed bins in the audit queue
    queue_update: str | None           # the queue update in force, in words
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values (NaN as null)."""
        return _clean(asdict(self))


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summarise_sample(sample: dict[str, Any], bins: list[SampleBin], reviews: dict[str, Review],
                     show: int = 10) -> SampleSummary:
    """The sample's progress and per-stratum counts from its bins and the standing reviews."""
    strata: dict[int, list[int]] = {}
    for b in bins:
        s = strata.setdefault(b.stratum, [b.stratum_size, b.stratum_drawn, 0, 0])
        review = reviews.get(b.image_id)
        if review is not None:
            s[2] += 1
            s[3] += int(review.variance)
    rows = [Stratum(h, *v) for h, v in sorted(strata.items())]
    waiting = [b.image_id for b in bins if b.image_id not in reviews]
    return SampleSummary(int(sample["id"]), sample["created_at"], sample["created_by"], bool(sample["stratified"]),
                         sample["seed"], int(sample["population"]), int(sample["size"]),
                         sum(s.reviewed for s in rows), sum(s.found for s in rows), rows, waiting[:show], len(waiting))


def sample_rate(summary: SampleSummary) -> tuple[Interval | None, str | None]:
    """The inventory's variance rate from the sample's reviewed bins, or None and why not."""
    if summary.reviewed == 0:
        return None, f"none of the {summary.size} sampled bins is reviewed yet"
    if not summary.stratified:
        return variance_rate(summary.found, summary.reviewed, summary.population), None
    empty = [str(s.stratum + 1) for s in summary.strata if s.reviewed == 0]
    if empty:
        return None, (f"stratified sample: stratum {', '.join(empty)} of {len(summary.strata)} (low to high "
                      "P(variance); the last holds unscored bins if any) has no reviewed bin yet; review the "
                      "sample in its order")
    return stratified_variance_rate([s.found for s in summary.strata], [s.reviewed for s in summary.strata],
                                    [s.size for s in summary.strata]), None


def estimating_sample(store: Any, by_id: dict[str, Review]) -> tuple[SampleSummary | None, SampleSummary | None,
                                                                     Interval | None, list[str]]:
    """(latest sample, the sample the estimates come from, its variance rate, notes on the samples passed over).

    The estimates come from the sample with the most reviewed bins that gives one (the newest of equals): every
    sample estimates the same thing, the share of recorded counts that are wrong, so a sample just drawn does
    not replace a well-reviewed one until it is reviewed further.
    """
    summaries = [summarise_sample(row, store.audit_sample_bins(row["id"]), by_id)
                 for row in reversed(store.audit_samples())]
    rated = [(summary, *sample_rate(summary)) for summary in summaries]
    usable = [(summary, rate) for summary, rate, _ in rated if rate is not None]
    notes = [f"sample #{summary.id} gives no estimate yet: {why}" for summary, rate, why in rated[:1] if rate is None]
    if not usable:
        return (summaries[0] if summaries else None), None, None, notes
    used, rate = max(usable, key=lambda pair: pair[0].reviewed)  # max keeps the first (newest) of equals
    if used.id != summaries[0].id and not notes:
        notes.append(f"the estimates come from sample #{used.id}, which has more reviewed bins than sample "
                     f"#{summaries[0].id}")
    return summaries[0], used, rate, notes


def remaining_variances(rate: Interval | None, summary: SampleSummary | None, reviews: list[Review],
                        eligible: set[str], p_unreviewed: np.ndarray, members: set[str]) -> tuple[Interval | None, str]:
    """Variances still in the unreviewed bins: from the sample when it has an estimate, else the models'."""
    if rate is not None and summary is not None:
        if not summary.stratified:
            outside = sum(1 for r in reviews if r.image_id in eligible and r.image_id not in members)
            return variances_remaining_from_sample(summary.found, summary.reviewed,
                                                   summary.population - outside), FROM_SAMPLE
        found = sum(1 for r in reviews if r.image_id in eligible and r.variance)
        total = variances_total(rate, summary.population).scaled(1.0, -found)
        return Interval(max(total.value, 0.0), max(total.low, 0.0), max(total.high, 0.0), total.level, total.n,
                        total.method + ", less the variances already found"), FROM_SAMPLE
    p = p_unreviewed[~np.isnan(p_unreviewed)]
    if p.size == 0:
        return None, ""
    return variances_remaining_from_model(p), FROM_MODELS


def build_report(store: Any, index: Any, queue: np.ndarray, next_n: int) -> Report:
    """The report from the store's reviews and samples and the index's (recalibrated) queue."""
    reviews = store.reviews_in_order()
    by_id = {r.image_id: r for r in reviews}
    queue_flags = np.array([r.variance for r in reviews if not r.sample_review], bool)
    curve = found_curve(queue_flags)
    reviewed, found = int(queue_flags.size), int(curve[-1]) if curve.size else 0
    latest, used, rate, notes = estimating_sample(store, by_id)
    members = set() if used is None else {b.image_id for b in store.audit_sample_bins(used.id)}
    eligible = set(store.eligible_for_sample())
    p = index.variance_probability().astype(np.float64)
    unreviewed = ~index.reviewed_mask() & np.isin(index.ids, np.array([i.encode() for i in eligible], dtype="S"))
    steps = np.arange(1, reviewed + 1)
    total = None if rate is None or used is None else variances_total(rate, used.population)
    update = index.queue_update
    checked = update is not None and update.recalibration.reviewed >= MIN_REVIEWS
    if not checked:
        notes.append(UNCHECKED)
    remaining, source = remaining_variances(rate, used, reviews, eligible, p[unreviewed] if checked else p[:0],
                                            members)
    return Report(
        reviewed=reviewed, found=found, curve=curve.tolist(), all_reviewed=len(reviews),
        all_found=sum(r.variance for r in reviews), verdict=queue_verdict(found, reviewed, rate),
        lift=lift(found, reviewed, rate.value) if rate is not None else math.nan, random_rate=rate,
        random_curve=None if rate is None else np.asarray(random_expectation(steps, rate.value)).tolist(),
        best_curve=None if total is None else np.asarray(best_curve(round(total.value), steps)).tolist(),
        sample=latest, estimate_sample=used, population=len(eligible),
        variance_rate=rate, record_accuracy=None if rate is None else record_accuracy(rate), variances_total=total,
        remaining=remaining, remaining_source=source, next_n=next_n,
        expected_next=expected_in_next(p[queue], next_n) if queue.size and checked else None,
        queue_size=int(queue.size),
        queue_update=None if update is None else update.describe(), notes=notes)
