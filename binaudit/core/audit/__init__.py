"""The audit loop's statistics (pure numpy): how wrong the inventory is, how good the queue is, when to stop,
and the recalibration that folds verified reviews back into the queue's order. No store, no Qt, no torch."""

from binaudit.core.audit.curves import (
    MIN_REVIEWED,
    Verdict,
    best_curve,
    found_curve,
    lift,
    queue_verdict,
    random_expectation,
)
from binaudit.core.audit.error_sizes import CountEvidence, error_sizes, miscount_logit
from binaudit.core.audit.estimates import (
    Interval,
    count_interval,
    record_accuracy,
    stratified_variance_rate,
    variance_rate,
    variances_remaining_from_model,
    variances_remaining_from_sample,
    variances_total,
    z_value,
)
from binaudit.core.audit.recalibration import (
    CANDIDATES,
    FEATURES,
    MIN_REVIEWS,
    MODEL_FEATURES,
    Recalibration,
    apply_recalibration,
    features,
    fit_recalibration,
    logit,
    sigmoid,
)
from binaudit.core.audit.selection import Selection, select_recalibration
from binaudit.core.audit.stopping import expected_in_next

__all__ = [
    "CANDIDATES", "FEATURES", "MIN_REVIEWED", "MIN_REVIEWS", "MODEL_FEATURES", "CountEvidence", "Interval",
    "Recalibration", "Selection", "Verdict", "apply_recalibration", "best_curve", "count_interval", "error_sizes",
    "expected_in_next", "features", "miscount_logit",
    "fit_recalibration", "found_curve", "lift", "logit", "queue_verdict", "random_expectation", "record_accuracy",
    "select_recalibration", "sigmoid",
    "stratified_variance_rate", "variance_rate", "variances_remaining_from_model", "variances_remaining_from_sample",
    "variances_total", "z_value",
]
