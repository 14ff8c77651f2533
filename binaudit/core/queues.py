"""The review queues, defined once for the app and `binaudit queue`: which rows, in which order, and why.

Audit queue (auditors: is the recorded count wrong?). Two reasons, in this order:
  1. the metadata rule: the record contradicts itself (its SKU quantities do not add up to
     EXPECTED_QUANTITY), so it is wrong whatever the photo shows; these records come first;
  2. the models' mismatch score: the mean over the active models of each one's expected
     |count - recorded| (two independent counters disagreeing is stronger evidence than one).
  Within each reason rows go by the mean score; only photos some model scored are in the queue.
  The Mismatch column shows that mean and marks the rule, so sorting it gives the queue's order.
Label-issue queue (curators: is the label itself wrong?): the highest label-issue score of the active models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

RULE_MARK = "\u2260"  # "≠": the record's SKU quantities are not its recorded count


@dataclass(frozen=True)
class QueueSpec:
    """A review queue: rows with a score, best first."""

    name: str       # the app's id for it
    title: str      # as the app names it
    sort_key: str   # the BrowseIndex sort key, also the browser column that shows the score
    by: str         # `binaudit queue --by` value
    audience: str   # who works through it
    order: str      # its order, in words


AUDIT_QUEUE = QueueSpec("audit", "Audit queue", "mismatch", "mismatch", "auditors",
                        "records the metadata rule flags first (their SKU quantities do not add up to the recorded "
                        "count), then the models' mean mismatch score")
LABEL_ISSUE_QUEUE = QueueSpec("issue", "Label-issue queue", "issue", "label-issue", "curators",
                              "the highest label-issue score of the active models")
QUEUES = (AUDIT_QUEUE, LABEL_ISSUE_QUEUE)


def queue_by(by: str) -> QueueSpec:
    """The queue a `binaudit queue --by` value names."""
    return next(q for q in QUEUES if q.by == by)


def mean_score(scores: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Row-wise mean of the models' scores over the models that scored the row; NaN where none did."""
    if not scores:
        return np.full(n, np.nan, np.float32)
    stacked = np.vstack(scores)
    scored = ~np.isnan(stacked)
    count = scored.sum(axis=0)
    total = np.where(scored, stacked, 0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(np.float32)


def audit_key(model_score: np.ndarray, rule: np.ndarray) -> np.ndarray:
    """The audit queue's order as one sortable number: rule rows above every other row, each part by model_score.

    Rule rows are lifted by more than the largest model score, so a descending sort puts all of them
    first; NaN (no model score) stays NaN: not in the queue.
    """
    finite = model_score[~np.isnan(model_score)]
    lift = np.float32(1.0 + float(finite.max())) if finite.size else np.float32(1.0)
    return np.where(rule & ~np.isnan(model_score), model_score + lift, model_score).astype(np.float32)


def rule_reason(sku_sum: int, recorded: int) -> str:
    """The metadata rule's reason for one record, in words."""
    return f"metadata rule: SKU quantities add up to {sku_sum}, record says {recorded}"


def mismatch_cell(model_score: float, rule: bool) -> str:
    """What the Mismatch column shows: the models' mean score, marked when the metadata rule flags the record."""
    number = "" if math.isnan(model_score) else f"{model_score:.2f}"
    return f"{RULE_MARK} {number}".strip() if rule else number


def explain_mismatch(per_model: Mapping[str, float], model_score: float, reason: Optional[str]) -> str:
    """The Mismatch cell's tooltip: the rule, each model's score and their mean, and where that puts the row."""
    lines = []
    if reason:
        lines.append(f"{RULE_MARK} {reason[0].upper()}{reason[1:]}: the record contradicts itself, "
                     "so it comes first in the audit queue.")
    if math.isnan(model_score):
        lines.append("No active model scored this photo, so it is not in the audit queue.")
        return "\n".join(lines)
    lines.append(f"Models' mismatch score {model_score:.2f}: the mean of each model's expected |count - recorded|")
    lines += [f"    {name}: {'not scored' if math.isnan(v) else f'{v:.2f}'}" for name, v in per_model.items()]
    if not reason:
        lines.append("The audit queue ranks rows by this score, after the records the metadata rule flags.")
    return "\n".join(lines)
