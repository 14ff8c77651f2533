"""The training and evaluation loops, flat in the style of torchvision's reference scripts."""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from binaudit.core.metrics import confusion_matrix, metrics_from_confusion
from binaudit.ml.device import autocast_context, prepare_batch
from binaudit.ml.preprocess import tta_views

from .data import normalize_batch
from .distributed import DistInfo, all_reduce_sum, any_rank

BatchCallback = Callable[[int, int, float], None]


def train_one_epoch(model: nn.Module, loader: torch.utils.data.DataLoader, optimizer: torch.optim.Optimizer,
                    scheduler: Optional[torch.optim.lr_scheduler.LRScheduler], device: torch.device,
                    criterion: nn.Module, dist_info: DistInfo = DistInfo(), start_batch: int = 0,
                    totals: Optional[dict[str, float]] = None, on_batch: Optional[BatchCallback] = None,
                    should_stop: Callable[[], bool] = lambda: False, max_batches: int = 0) -> dict[str, Any]:
    """One pass over loader; the scheduler steps every batch. Stops early (stopped=True) when asked to.

    totals carries the running sums of a resumed epoch; the result has them, all-reduced over ranks.
    """
    model.train()
    totals = dict(totals or {"loss_sum": 0.0, "correct": 0.0, "n": 0.0})
    batches = start_batch + len(loader)
    batch_index, stopped = start_batch, False
    for images, targets in loader:
        images = prepare_batch(normalize_batch(images.to(device, non_blocking=True)), device)
        targets = targets.to(device, non_blocking=True)
        with autocast_context(device):
            output = model(images)
            loss = criterion(output.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        batch_index += 1
        size = targets.shape[0]
        totals["loss_sum"] += float(loss.item()) * size
        totals["correct"] += float((output.argmax(dim=1) == targets).sum().item())
        totals["n"] += size
        if on_batch is not None:
            on_batch(batch_index, batches, float(loss.item()))
        if any_rank(should_stop(), dist_info, device):
            stopped = True
            break
        if max_batches and batch_index >= max_batches:
            break
    reduced = all_reduce_sum(torch.tensor([totals["loss_sum"], totals["correct"], totals["n"]],
                                          dtype=torch.float64, device=device), dist_info).tolist()
    n = max(reduced[2], 1.0)
    return {"train_loss": reduced[0] / n, "train_acc": reduced[1] / n, "batches_done": batch_index,
            "stopped": stopped, "totals": totals}


@torch.inference_mode()
def predict(model: nn.Module, loader: torch.utils.data.DataLoader, device: torch.device,
            tta: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (n, classes) and labels for this rank's share of loader; tta averages over the flip."""
    model.eval()
    probs, labels = [], []
    for images, targets in loader:
        images = prepare_batch(normalize_batch(images.to(device, non_blocking=True)), device)
        views = tta_views(images) if tta else [images]
        with autocast_context(device):
            p = sum(torch.softmax(model(v).float(), dim=1) for v in views) / len(views)
        probs.append(p.cpu().numpy())
        labels.append(targets.numpy())
    if not probs:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    return np.concatenate(probs), np.concatenate(labels)


def evaluate(model: nn.Module, loader: torch.utils.data.DataLoader, device: torch.device, num_classes: int,
             tta: bool = False, dist_info: DistInfo = DistInfo()) -> dict[str, Any]:
    """loss, accuracy, RMSE, per-class accuracy/RMSE and confusion matrix over all ranks' shares."""
    started = time.perf_counter()
    probs, labels = predict(model, loader, device, tta=tta)
    cm = torch.zeros((num_classes, num_classes), dtype=torch.float64, device=device)
    loss_sum = torch.zeros(1, dtype=torch.float64, device=device)
    if len(labels):
        cm += torch.as_tensor(confusion_matrix(labels, probs.argmax(axis=1), num_classes), dtype=torch.float64,
                              device=device)
        nll = -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))
        loss_sum += float(nll.sum())
    all_reduce_sum(cm, dist_info)
    all_reduce_sum(loss_sum, dist_info)
    result = metrics_from_confusion(cm.cpu().numpy().round().astype(np.int64))
    result["loss"] = float(loss_sum.item()) / max(result["n"], 1)
    result["seconds"] = time.perf_counter() - started
    return result
