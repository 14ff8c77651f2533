"""The final report of a run: report.json, report.md, curves.png and confusion.png."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.core.formatting import fmt_num, fmt_pct

from .runs import write_json


def new_figure(width: float, height: float, ncols: int = 1):
    """A matplotlib figure on the Agg canvas without pyplot (no GUI backend, faster to import)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def plot_curves(history: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Loss and accuracy per epoch, train and validation."""
    if not history:
        return None
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = new_figure(10, 4, ncols=2)
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="val")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax2.plot(epochs, [h["train_acc"] for h in history], "o-", label="train")
    ax2.plot(epochs, [h["val_acc"] for h in history], "o-", label="val")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_confusion(confusion: Sequence[Sequence[int]], path: Path, title: str = "confusion (test)") -> Path:
    """Row-normalised confusion matrix with the raw counts written in the cells."""
    cm = np.asarray(confusion, dtype=np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = new_figure(5, 4.5)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black")
    ax.set(xlabel="predicted count", ylabel="true count", title=title,
           xticks=range(cm.shape[1]), yticks=range(cm.shape[0]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _table(metrics: dict[str, Any]) -> list[str]:
    lines = ["| count | accuracy | RMSE | images |", "|---|---|---|---|"]
    for c, m in metrics["per_class"].items():
        lines.append(f"| {c} | {fmt_pct(m['accuracy'], '-')} | {fmt_num(m['rmse'], '-')} | {m['support']} |")
    lines.append(f"| all | {fmt_pct(metrics['accuracy'])} | {fmt_num(metrics['rmse'])} | {metrics['n']} |")
    return lines


def _calibration_lines(calibration: dict[str, Any] | None) -> list[str]:
    if not calibration or not calibration.get("method"):
        return []
    text = f"- calibration: {calibration['method']}"
    if "temperature" in calibration:
        text += f", T = {fmt_num(calibration['temperature'])}"
    if calibration.get("fitted_on"):
        text += f" (fitted on {calibration['fitted_on']}, {calibration.get('n', '?')} images)"
    return [text]


def write_report(run_dir: Path, report: dict[str, Any], history: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """report.json + report.md (+ the two PNGs) in the run directory; returns the report."""
    run_dir = Path(run_dir)
    if plot_curves(history, run_dir / "curves.png"):
        report["curves"] = "curves.png"
    main = report.get("test") or report.get("val")
    if main and main.get("n"):
        plot_confusion(main["confusion"], run_dir / "confusion.png",
                       "confusion (test)" if report.get("test") else "confusion (val)")
        report["confusion_png"] = "confusion.png"
    write_json(run_dir / "report.json", report)
    (run_dir / "report.md").write_text(_markdown(report))
    return report


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# {report.get('title', 'training run')}", ""]
    for key in ("recipe", "published", "label_snapshot", "best_epoch", "model_id", "wall_seconds"):
        if report.get(key) not in (None, ""):
            lines.append(f"- {key.replace('_', ' ')}: {report[key]}")
    lines += _calibration_lines(report.get("calibration"))
    for split in ("val", "test"):
        m = report.get(split)
        if m and m.get("n"):
            lines += ["", f"## {split} ({m['n']} images)" + (" with TTA" if report.get("tta") else ""), ""]
            lines += _table(m)
            if m.get("ece") is not None:
                lines += ["", f"Expected calibration error (top label, 15 bins): {fmt_num(m['ece'])}"
                          + (f" (before calibration {fmt_num(m['ece_uncalibrated'])})"
                             if m.get("ece_uncalibrated") is not None else "")]
            if m.get("counts_0_5", {}).get("n"):
                lines += ["", "On the published 0-5 task (photos with counts 0-5, classes above 5 merged):", ""]
                lines += _table(m["counts_0_5"])
            lines += ["", "Confusion matrix (rows true count, columns predicted):", "", "```"]
            lines += [" ".join(f"{v:5d}" for v in row) for row in m["confusion"]]
            lines.append("```")
    if report.get("curves"):
        lines += ["", "![training curves](curves.png)"]
    if report.get("confusion_png"):
        lines += ["", "![confusion matrix](confusion.png)"]
    return "\n".join(lines) + "\n"
