"""What a run reports from its count metrics (binaudit.core.metrics): the per-class table, the summary figures."""

from __future__ import annotations

from typing import Any


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
    return {"split": split, "accuracy": main["accuracy"], "rmse": main["rmse"], "n": main["n"],
            "per_class": main["per_class"], "val_accuracy": report["val"]["accuracy"],
            "val_rmse": report["val"]["rmse"], **extra}
