"""Count metrics (numpy only): the confusion matrix and what derives from it, for training, comparison and charts.

Rows of the confusion matrix are the true count, columns the predicted count. Everything else (accuracy,
RMSE of the count, per-class accuracy / RMSE / support) derives from it, so DDP ranks only need to
all-reduce that matrix to agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def confusion_matrix(true: ArrayLike, pred: ArrayLike, n_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = true class, columns = predicted; pairs outside 0..K-1 are left out."""
    t, p = np.asarray(true, np.int64).ravel(), np.asarray(pred, np.int64).ravel()
    ok = (t >= 0) & (t < n_classes) & (p >= 0) & (p < n_classes)
    return np.bincount(t[ok] * n_classes + p[ok], minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each true class (NaN where the class has no images)."""
    support = confusion.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)


def accuracy_and_rmse(true: ArrayLike, pred: ArrayLike) -> tuple[float, float]:
    """Accuracy and RMSE in items (NaN for no images)."""
    t, p = np.asarray(true, np.float64), np.asarray(pred, np.float64)
    if t.size == 0:
        return float("nan"), float("nan")
    return float(np.mean(t == p)), float(np.sqrt(np.mean((t - p) ** 2)))


def metrics_from_confusion(cm: np.ndarray, classes: Sequence[int] | None = None) -> dict[str, Any]:
    """accuracy, rmse (argmax count vs label), per-class accuracy / rmse / support, and the matrix itself."""
    cm = np.asarray(cm, dtype=np.float64)
    k = cm.shape[0]
    values = np.asarray(classes if classes is not None else range(k), dtype=np.float64)
    sq = (values[:, None] - values[None, :]) ** 2
    support = cm.sum(axis=1)
    n = support.sum()
    per_acc = per_class_accuracy(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_rmse = np.where(support > 0, np.sqrt((cm * sq).sum(axis=1) / support), np.nan)
    return {
        "n": int(n),
        "accuracy": float(np.trace(cm) / n) if n else float("nan"),
        "rmse": float(np.sqrt((cm * sq).sum() / n)) if n else float("nan"),
        "per_class": {str(int(c)): {"accuracy": _or_none(a), "rmse": _or_none(r), "support": int(s)}
                      for c, a, r, s in zip(values, per_acc, per_rmse, support)},
        "confusion": cm.astype(np.int64).tolist(),
    }


def _or_none(x: float) -> float | None:
    """NaN (a class with no images) as None, so the figure is JSON's null."""
    return None if np.isnan(x) else float(x)


def classification_metrics(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> dict[str, Any]:
    """metrics_from_confusion of the labels and predictions (class index = count)."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes))
