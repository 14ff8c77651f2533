"""What a run reports from its count metrics (binaudit.core.metrics): the per-class table, the summary figures."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

PUBLISHED_TOP = 5  # the published "moderate" task: counts 0-5


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


def summary_metrics(report: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The figures for the finished event, the runs row and the model manifest: the test split's (val's when
    test is empty) accuracy, RMSE, size and per-class figures, val's accuracy and RMSE, then extra."""
    split = "test" if report.get("test", {}).get("n") else "val"
    main = report[split]
    out = {"split": split, "accuracy": main["accuracy"], "rmse": main["rmse"], "n": main["n"],
           "per_class": main["per_class"], "val_accuracy": report["val"]["accuracy"],
           "val_rmse": report["val"]["rmse"]}
    out.update(calibration_summary(report, main))
    if "counts_0_5" in main:
        out["counts_0_5"] = {k: main["counts_0_5"][k] for k in ("accuracy", "rmse", "n")}
    return {**out, **extra}


def calibration_summary(report: dict[str, Any], main: dict[str, Any]) -> dict[str, Any]:
    """The split's ECE after and before calibration, val's ECE and the calibration temperature, where known."""
    out: dict[str, Any] = {}
    if "ece" in main:
        out["ece"] = main["ece"]
        out["ece_uncalibrated"] = main.get("ece_uncalibrated", main["ece"])
    if "ece" in report.get("val", {}):
        out["val_ece"] = report["val"]["ece"]
    calibration = report.get("calibration") or {}
    if "temperature" in calibration:
        out["temperature"] = calibration["temperature"]
    if calibration.get("method"):
        out["calibration"] = calibration["method"]
    return out


def merged_top(probs: ArrayLike, top: int) -> np.ndarray:
    """Probabilities over counts 0..top, the classes above top summed into it (a 0-13+ model on the 0-5 task)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.shape[1] <= top + 1:
        return p
    return np.concatenate([p[:, :top], p[:, top:].sum(axis=1, keepdims=True)], axis=1)


def published_range(probs: ArrayLike, labels: ArrayLike, top: int = PUBLISHED_TOP) -> tuple[np.ndarray, np.ndarray]:
    """(predicted count, true count) on the published task: photos with counts 0..top only, the prediction
    the argmax of merged_top (so a model with more classes answers in the task's own classes)."""
    y = np.asarray(labels, dtype=np.int64)
    keep = y <= top
    if not keep.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return merged_top(np.asarray(probs)[keep], top).argmax(axis=1), y[keep]
