"""A run directory: config.json, metrics.csv + metrics.jsonl, checkpoint.pt (every epoch), best weights."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"
BEST = "best.safetensors"
CSV_FIELDS = ("epoch", "stage", "input_size", "train_loss", "train_acc", "val_loss", "val_acc", "val_rmse",
              "lr", "seconds")


def new_run_dir(runs_root: Path, kind: str, name: str, run_id: int | None) -> Path:
    """runs/<time>-<kind>-<name>[-<run id>], created."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = f"-{run_id}" if run_id is not None else ""
    path = Path(runs_root) / f"{stamp}-{kind}-{name}{suffix}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (temp file + rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    """One epoch's metrics to metrics.jsonl and metrics.csv."""
    with open(run_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(row, default=str) + "\n")
    csv_path = run_dir / "metrics.csv"
    new = not csv_path.exists()
    with open(csv_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_metrics(run_dir: Path, epochs_done: int) -> None:
    """On resume, forget epochs logged after the checkpoint (a run killed between log and checkpoint)."""
    rows = [r for r in read_metrics(run_dir) if r["epoch"] <= epochs_done]
    for name in ("metrics.jsonl", "metrics.csv"):
        (run_dir / name).unlink(missing_ok=True)
    for r in rows:
        append_metrics(run_dir, r)


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write the resumable state atomically: a kill during the write leaves the previous checkpoint."""
    path = run_dir / CHECKPOINT
    tmp = run_dir / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The checkpoint dict (tensors and plain values only, loaded with weights_only=True), or None."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def save_best(run_dir: Path, model: torch.nn.Module) -> None:
    from safetensors.torch import save_file
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    tmp = run_dir / (BEST + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, run_dir / BEST)


def load_best(run_dir: Path) -> dict[str, torch.Tensor] | None:
    from safetensors.torch import load_file
    path = run_dir / BEST
    return load_file(str(path)) if path.exists() else None
