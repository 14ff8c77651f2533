"""The learning-rate range test: raise the rate exponentially batch by batch, plot loss against rate,
suggest the rate where the smoothed loss falls fastest. The model's weights are restored afterwards."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from binaudit.ml.device import autocast_context, prepare_batch

from .data import normalize_batch

PointCallback = Callable[[float, float], None]


def lr_range_test(model: nn.Module, loader: torch.utils.data.DataLoader, optimizer: torch.optim.Optimizer,
                  device: torch.device, criterion: nn.Module, start_lr: float = 1e-7, end_lr: float = 10.0,
                  num_iter: int = 100, on_point: PointCallback | None = None,
                  should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Run the test; returns {"lrs", "losses" (smoothed), "suggestion"}; model and optimizer are restored."""
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    base = [g["lr"] for g in optimizer.param_groups]
    top = max(base)
    gamma = (end_lr / start_lr) ** (1.0 / max(1, num_iter - 1))
    lrs, losses, best, avg = [], [], math.inf, 0.0
    model.train()
    step = 0
    while step < num_iter and not should_stop():
        for images, targets in loader:
            lr = start_lr * gamma ** step
            for g, b in zip(optimizer.param_groups, base):
                g["lr"] = lr * b / top  # keeps differential ratios between groups
            images = prepare_batch(normalize_batch(images.to(device)), device)
            with autocast_context(device):
                loss = criterion(model(images).float(), targets.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            avg = 0.98 * avg + 0.02 * float(loss.item())
            smooth = avg / (1 - 0.98 ** step)
            if not math.isfinite(smooth) or smooth > 4 * best:
                step = num_iter
                break
            best = min(best, smooth)
            lrs.append(lr)
            losses.append(smooth)
            if on_point:
                on_point(lr, smooth)
            if step >= num_iter or should_stop():
                break
    model.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_opt)
    return {"lrs": lrs, "losses": losses, "suggestion": suggest_lr(lrs, losses)}


def suggest_lr(lrs: list[float], losses: list[float]) -> float | None:
    """The rate with the steepest fall of the smoothed loss against log(lr), ignoring the noisy ends."""
    if len(lrs) < 5:
        return None
    lo, hi = (3, len(lrs) - 2) if len(lrs) > 12 else (0, len(lrs))
    grads = np.gradient(np.asarray(losses[lo:hi]), np.log10(np.asarray(lrs[lo:hi])))
    return float(lrs[lo + int(np.argmin(grads))])


def plot_lr_finder(result: dict[str, Any], path: Path) -> Path:
    """Loss against learning rate on a log axis, the suggestion marked."""
    from .report import new_figure
    fig, ax = new_figure(6, 4)
    ax.plot(result["lrs"], result["losses"])
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="smoothed training loss", title="LR range test")
    if result.get("suggestion"):
        ax.axvline(result["suggestion"], color="red", linestyle="--", label=f"suggested {result['suggestion']:.2g}")
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
