"""How a queue update moved the audit queue (Qt-free): the unreviewed bins' order before and after.

The window snapshots the order before it runs the update and compares it with the order of the
reloaded index, so the status bar can say what changed ("order changed for 812 bins; 37 new in the
next 100"). Bins reviewed meanwhile drop out of the comparison: only bins in both orders count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from binaudit.core.browse import BrowseIndex
from binaudit.core.queues import AUDIT_QUEUE

NEXT = 100  # "the next 100 bins": what an auditor reviews in a sitting


@dataclass(frozen=True)
class OrderChange:
    """moved: bins (in both orders) whose place among them changed; new_in_next: bins in the first `top`
    after that were not in the first `top` before."""

    moved: int
    new_in_next: int
    compared: int
    top: int = NEXT

    def describe(self) -> str:
        if self.compared == 0:
            return "no unreviewed bin in the queue"
        if self.moved == 0:
            return "the order stayed the same"
        return (f"order changed for {self.moved:,} of {self.compared:,} bins; "
                f"{self.new_in_next} new in the next {self.top}")


def unreviewed_queue_ids(index: BrowseIndex) -> np.ndarray:
    """Ids (bytes) of the audit queue's unreviewed bins, best first (milliseconds: the sort is cached)."""
    order = index.queue_order(key=AUDIT_QUEUE.sort_key)
    order = order[~index.reviewed_mask()[order]]
    return index.ids[order]


def order_change(before: np.ndarray, after: np.ndarray, top: int = NEXT) -> OrderChange:
    """Compare two queue orders of ids (see OrderChange); numpy throughout, so 536,000 bins take ~0.2 s."""
    before, after = np.asarray(before), np.asarray(after)
    _common, in_before, in_after = np.intersect1d(before, after, assume_unique=True, return_indices=True)
    rank_before = np.argsort(np.argsort(in_before, kind="stable"), kind="stable")
    rank_after = np.argsort(np.argsort(in_after, kind="stable"), kind="stable")
    moved = int(np.count_nonzero(rank_before != rank_after))
    new = np.setdiff1d(after[:top], before[:top], assume_unique=True)
    return OrderChange(moved=moved, new_in_next=int(new.size), compared=int(in_before.size), top=top)
