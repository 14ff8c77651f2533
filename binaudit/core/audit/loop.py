"""The audit loop on a workspace: fold the auditors' verified reviews back into the queue, draw random samples,
and say how good the queue is. The statistics are this package's pure functions; the store keeps the samples,
reviews and updates; the browse index applies the latest update, so the app and `binaudit queue` agree.

    update_queue(store, user=...)   recalibrate P(variance) on every standing review (the recalibration held-out
                                    reviews choose: none, order-keeping, or reordering) and record it (the latest
                                    update is the one in force); returns what changed at the top of the queue
    draw_sample(store, size, ...)   a random (optionally score-stratified) sample of bins, marked in the store
    queue_report(store)             reviewed, found, the curve against random, the verdict, the inventory's
                                    variance rate, the variances left and those expected in the next 100 bins
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from binaudit.core.audit.recalibration import Recalibration
from binaudit.core.audit.report import Report, build_report
from binaudit.core.audit.selection import Selection, select_recalibration
from binaudit.core.browse import BrowseFilter, BrowseIndex
from binaudit.core.store.audit import DEFAULT_STRATA

TOP = 100  # how far down the queue an update's effect is summarised


@dataclass(frozen=True)
class QueueUpdate:
    """One run of the loop's recalibration: the stored update and what it did to the top of the queue."""

    id: int                       # its row in the store's queue_updates (now the one in force)
    recalibration: Recalibration
    selection: Selection          # which candidate the held-out reviews chose, and the evidence
    reviewed: int                 # standing reviews it was fitted on (scored bins with a verified count)
    positives: int                # of which corrections (variances)
    last_event_id: int            # the label events it saw
    top: int                      # how many unreviewed bins the summary below looks at
    new_in_top: int               # of the top `top` unreviewed bins after the update, how many were not before
    moved_in_top: int             # of the top `top` places, how many hold another bin than before
    row: dict[str, Any]           # the stored row, for BrowseIndex.apply_queue_update

    def describe(self) -> str:
        """One line for the status bar and the command line."""
        moved = (f"of the next {self.top} bins of the queue, {self.new_in_top} are new there and "
                 f"{self.moved_in_top} places changed hands" if self.top else "no unreviewed bin is in the queue")
        return f"Queue update #{self.id}: {self.recalibration.note}; {moved}."


def update_queue(store: Any, *, user: str, index: BrowseIndex | None = None, top: int = TOP) -> QueueUpdate:
    """Recalibrate P(variance) on every standing verified review (a correction a positive, a confirmation a
    negative), fitted around the models' own P(variance), and record it as the queue update in force.

    The recalibration is the one held-out evidence chooses (core.audit.selection.select_recalibration): the
    reviews in the order they were made, forward-chained, and the random sample's reviews (those decided after a
    sample holding the bin was drawn), the only ones below the queue's top that can vouch for a reorder.

    `index` (optional) is read, never changed: pass the app's to skip loading; apply the result to it with
    `index.apply_queue_update(update.row)` (BrowseIndex.load applies the latest one by itself). `top`: how
    far down the unreviewed queue the summary compares the order before and after.
    """
    last_event = store.last_event_id()  # before reading reviews: the update saw at least these events
    index = BrowseIndex.load(store) if index is None else index
    reviews = store.reviews_in_order()
    pos = np.array([index.position(r.image_id) if index.position(r.image_id) is not None else -1 for r in reviews],
                   np.int64)
    known = pos >= 0
    pos = pos[known]
    is_variance = np.array([r.variance for r in reviews], bool)[known]
    in_sample = np.array([r.sample_review for r in reviews], bool)[known]
    verified = np.array([r.verified for r in reviews], np.int64)[known]
    x = {name: column[pos] for name, column in index.recalibration_features().items()}
    evidence = replace(index.count_evidence(pos), verified=verified)
    recalibration, selection = select_recalibration(x, is_variance, index.base_variance_logit(pos), in_sample,
                                                    evidence=evidence)
    before = _top_unreviewed(index, index.mismatch_score(), top)
    update_id = store.record_queue_update(user=user, reviewed=recalibration.reviewed,
                                          positives=recalibration.positives, recalibration=recalibration.to_json(),
                                          note=recalibration.note, last_event_id=last_event)
    row = store.latest_queue_update()
    after = _top_unreviewed(index, index.audit_key_under(row), top)
    return QueueUpdate(update_id, recalibration, selection, recalibration.reviewed, recalibration.positives, last_event,
                       int(after.size), int(np.setdiff1d(after, before).size),
                       int(np.count_nonzero(after != before)) if after.size == before.size else int(after.size), row)


def _top_unreviewed(index: BrowseIndex, key: np.ndarray, top: int = TOP) -> np.ndarray:
    """Positions of the `top` highest-keyed unreviewed rows with a key, best first (ties in id order)."""
    rows = np.nonzero(~np.isnan(key) & ~index.reviewed_mask())[0]
    return rows[np.argsort(-key[rows], kind="stable")[:top]]


def variance_scores(index: BrowseIndex) -> dict[str, float]:
    """Each scored row's P(variance) (recalibrated by the update in force) by image id: what strata are cut from."""
    p = index.variance_probability()
    rows = np.nonzero(~np.isnan(p))[0]
    return {index.image_id(int(i)): float(p[i]) for i in rows}


def draw_sample(store: Any, size: int, *, user: str, stratified: bool = False, seed: int | None = None,
                strata: int = DEFAULT_STRATA, index: BrowseIndex | None = None, note: str | None = None) -> int:
    """Draw a random sample of bins with a photo and a recorded count, mark it in the store, return its id.

    Stratified: `strata` equal-count groups by the current P(variance) (the queue's own score; unscored bins a
    stratum of their own), draws proportional to their sizes, each stratum's size recorded for the estimate.
    """
    scores = None
    if stratified:
        scores = variance_scores(BrowseIndex.load(store) if index is None else index)
    return int(store.draw_audit_sample(size, stratified=stratified, seed=seed, user=user, scores=scores,
                                       strata=strata, note=note))


def queue_report(store: Any, *, index: BrowseIndex | None = None, next_n: int = TOP) -> Report:
    """How good the audit queue is now (see core.audit.report.Report); loads the browse index unless given one."""
    index = BrowseIndex.load(store) if index is None else index
    queue = index.queue_order(BrowseFilter(reviewed=False), key="mismatch")
    return build_report(store, index, queue, next_n)
