"""Count metrics from a confusion matrix: accuracy, RMSE of the count, per-class accuracy and RMSE.

Everything derives from the confusion matrix (rows = true count, columns = predicted count), so DDP
ranks only need to all-reduce that matrix and a loss sum to agree exactly.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts; rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def metrics_from_confusion(cm: np.ndarray, classes: Sequence[int] | None = None) -> dict[str, Any]:
    """accuracy, rmse (argmax count vs label), per-class accuracy / rmse / support, and the matrix itself."""
    cm = np.asarray(cm, dtype=np.float64)
    k = cm.shape[0]
    values = np.asarray(classes if classes is not None else range(k), dtype=np.float64)
    sq = (values[:, None] - values[None, :]) ** 2
    support = cm.sum(axis=1)
    n = support.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_acc = np.where(support > 0, np.diag(cm) / support, np.nan)
        per_rmse = np.where(support > 0, np.sqrt((cm * sq).sum(axis=1) / support), np.nan)
    return {
        "n": int(n),
        "accuracy": float(np.trace(cm) / n) if n else float("nan"),
        "rmse": float(np.sqrt((cm * sq).sum() / n)) if n else float("nan"),
        "per_class": {str(int(c)): {"accuracy": _f(a), "rmse": _f(r), "support": int(s)}
                      for c, a, r, s in zip(values, per_acc, per_rmse, support)},
        "confusion": cm.astype(np.int64).tolist(),
    }


def _f(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> dict[str, Any]:
    """metrics_from_confusion of the labels and predictions (class index = count)."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, num_classes))


def per_class_table(columns: dict[str, dict[str, Any]], num_classes: int, key: str = "accuracy") -> str:
    """Rows count 0..N-1 and overall, one column per method (the layout of the published tables)."""
    names = list(columns)
    width = max(10, *(len(n) for n in names)) + 2
    lines = ["count".ljust(8) + "".join(n.rjust(width) for n in names)]
    for c in range(num_classes):
        cells = []
        for n in names:
            v = columns[n]["per_class"].get(str(c), {}).get(key)
            cells.append(("-" if v is None else f"{v:.2f}").rjust(width))
        lines.append(str(c).ljust(8) + "".join(cells))
    overall = "accuracy" if key == "accuracy" else "rmse"
    lines.append("overall".ljust(8) + "".join(f"{columns[n][overall]:.2f}".rjust(width) for n in names))
    return "\n".join(lines)
