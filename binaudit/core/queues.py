"""The review queues, defined once for the app and `binaudit queue`: which rows, in which order, and why.

Audit queue (auditors: is the recorded count wrong?). Two reasons, in this order:
  1. the metadata rule: the record contradicts itself (its SKU quantities do not add up to
     EXPECTED_QUANTITY), so it is wrong whatever the photo shows; these records come first;
  2. P(variance): the probability that the recorded count is wrong, 1 - p(recorded) under the active
     models' log-linear pool, each model weighted by how well its probabilities explained the
     validation split's records (core.variance; a model that adds nothing gets weight 0).
  Within each reason rows go by P(variance); only photos some model scored are in the queue.
  The Mismatch column shows P(variance) and marks the rule, so sorting it gives the queue's order.
Label-issue queue (curators: is the label itself wrong?): the highest label-issue score of the active models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from binaudit.core.variance import PoolFit

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
                        "count), then P(variance): the probability that the recorded count is wrong, pooled from the "
                        "active models with weights fitted on the validation split")
LABEL_ISSUE_QUEUE = QueueSpec("issue", "Label-issue queue", "issue", "label-issue", "curators",
                              "the highest label-issue score of the active models")
QUEUES = (AUDIT_QUEUE, LABEL_ISSUE_QUEUE)


def queue_by(by: str) -> QueueSpec:
    """The queue a `binaudit queue --by` value names."""
    return next(q for q in QUEUES if q.by == by)


def audit_key(model_score: np.ndarray, rule: np.ndarray, rule_alone: np.ndarray | None = None) -> np.ndarray:
    """The audit queue's order as one sortable number: rule rows above every other row, each part by model_score.

    Rule rows are lifted by more than the largest model score, so a descending sort puts all of them
    first; NaN (no model score) stays NaN: not in the queue, except rule rows marked in rule_alone (scored
    only by models left out there), which enter by the rule alone, after the rule rows a model judged.
    """
    finite = model_score[~np.isnan(model_score)]
    lift = np.float32(1.0 + float(finite.max())) if finite.size else np.float32(1.0)
    key = np.where(rule & ~np.isnan(model_score), model_score + lift, model_score)
    if rule_alone is not None:
        key = np.where(rule & rule_alone & np.isnan(model_score), lift, key)
    return key.astype(np.float32)


def rule_reason(sku_sum: int, recorded: int) -> str:
    """The metadata rule's reason for one record, in words."""
    return f"metadata rule: SKU quantities add up to {sku_sum}, record says {recorded}"


def mismatch_cell(p_variance: float, rule: bool) -> str:
    """What the Mismatch column shows: P(variance) as a percentage, marked when the metadata rule flags the record."""
    number = "" if math.isnan(p_variance) else f"{100 * p_variance:.1f}%"
    return f"{RULE_MARK} {number}".strip() if rule else number


@dataclass(frozen=True)
class ModelPart:
    """One model's part in a record's P(variance)."""

    name: str
    p_recorded: float  # its probability of the recorded count (NaN: it did not score the photo)
    weight: float      # its weight in the pool
    left_out: bool = False  # it trained on this record, so it does not judge it


def _recorded_as(recorded: int, pool: PoolFit) -> str:
    """The recorded count as the pool reads it: above the top class, as that class ("K-1 or more")."""
    top = pool.classes - 1
    return f"{recorded}, read as '{top} or more'" if recorded > top else str(recorded)


def explain_mismatch(parts: Sequence[ModelPart], p_recorded: float, recorded: int, pool: PoolFit,
                     reason: str | None) -> str:
    """The Mismatch cell's tooltip: the rule, each model's p(recorded) and weight, the pooled P(variance)."""
    lines = []
    if reason:
        lines.append(f"{RULE_MARK} {reason[0].upper()}{reason[1:]}: the record contradicts itself, "
                     "so it comes first in the audit queue.")
    if math.isnan(p_recorded):
        if recorded >= 0 and parts and all(part.left_out or math.isnan(part.p_recorded) for part in parts) \
                and any(part.left_out for part in parts):
            lines.append("Every model that scored this photo trained on its record, so none judges it"
                         + (": it is in the audit queue by the rule alone." if reason else
                            ", and it is not in the audit queue."))
        else:
            lines.append("The record has no count, so it is not in the audit queue." if recorded < 0 else
                         "No active model scored this photo, so it is not in the audit queue.")
        return "\n".join(lines)
    lines.append(f"P(variance) {100 * (1 - p_recorded):.1f}% = 1 - pooled p(recorded), "
                 f"recorded {_recorded_as(recorded, pool)}")
    for part in parts:
        p = ("left out (trained on this record)" if part.left_out else
             "not scored" if math.isnan(part.p_recorded) else f"p(recorded) {part.p_recorded:.3g}")
        lines.append(f"    {part.name}: {p}, weight {part.weight:.2f}")
    lines.append(f"    pooled p(recorded) {p_recorded:.3g}")
    lines.append(f"Pool: p(k) \u221d \u03a0 p_model(k)^weight; {pool.describe()}.")
    if not reason:
        lines.append("The audit queue ranks rows by P(variance), after the records the metadata rule flags.")
    return "\n".join(lines)
