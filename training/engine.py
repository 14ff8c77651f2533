"""The training and evaluation loops, flat in the style of torchvision's reference scripts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from binaudit.core.calibration import apply_temperature, calibration_bins, ece_from_bins
from binaudit.core.metrics import confusion_matrix, metrics_from_confusion
from binaudit.ml.device import autocast_context, prepare_batch
from binaudit.ml.heads import predicted_class, probabilities
from binaudit.ml.preprocess import tta_views

from .data import normalize_batch
from .distributed import SINGLE_PROCESS, DistInfo, all_reduce_sum, any_rank
from .metrics import PUBLISHED_TOP, published_range

BatchCallback = Callable[[int, int, float], None]


def train_one_epoch(model: nn.Module, loader: torch.utils.data.DataLoader, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None, device: torch.device,
                    criterion: nn.Module, dist_info: DistInfo = SINGLE_PROCESS, start_batch: int = 0,
                    totals: dict[str, float] | None = None, on_batch: BatchCallback | None = None,
                    should_stop: Callable[[], bool] = lambda: False, max_batches: int = 0,
                    head: str = "softmax") -> dict[str, Any]:
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
        totals["correct"] += float((predicted_class(output.detach(), head) == targets).sum().item())
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
            tta: bool = False, head: str = "softmax") -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (n, classes) of the head and labels for this rank's share of loader; tta averages
    over the flip (as binaudit.ml.resnet.ResNetCounter does when scoring)."""
    model.eval()
    probs, labels = [], []
    for images, targets in loader:
        images = prepare_batch(normalize_batch(images.to(device, non_blocking=True)), device)
        views = tta_views(images) if tta else [images]
        with autocast_context(device):
            p = sum(probabilities(model(v).float(), head) for v in views) / len(views)
        probs.append(p.cpu().numpy())
        labels.append(targets.numpy())
    if not probs:
        return np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    return np.concatenate(probs), np.concatenate(labels)


def evaluate(model: nn.Module, loader: torch.utils.data.DataLoader, device: torch.device, num_classes: int,
             tta: bool = False, dist_info: DistInfo = SINGLE_PROCESS, head: str = "softmax",
             temperature: float = 1.0, keep_probs: bool = False) -> dict[str, Any]:
    """loss (NLL of the probabilities), accuracy, RMSE, per-class accuracy/RMSE, confusion matrix and
    top-label ECE (15 bins) over all ranks' shares; temperature calibrates the probabilities first (then
    "ece_uncalibrated" is the ECE without it). With more than 6 classes, "counts_0_5" holds the figures
    on the published 0-5 task. keep_probs adds this rank's "probs" and "labels" arrays."""
    started = time.perf_counter()
    probs, labels = predict(model, loader, device, tta=tta, head=head)
    extra: dict[str, Any] = {}
    if temperature != 1.0:
        raw = torch.as_tensor(calibration_bins(probs, labels), dtype=torch.float64, device=device)
        extra["ece_uncalibrated"] = ece_from_bins(all_reduce_sum(raw, dist_info).cpu().numpy())
        if len(labels):
            probs = apply_temperature(probs, temperature)
    if num_classes > PUBLISHED_TOP + 1:
        extra["counts_0_5"] = _published_task(probs, labels, device, dist_info)
    cm = torch.zeros((num_classes, num_classes), dtype=torch.float64, device=device)
    loss_sum = torch.zeros(1, dtype=torch.float64, device=device)
    bins = torch.as_tensor(calibration_bins(probs, labels), dtype=torch.float64, device=device)
    if len(labels):
        cm += torch.as_tensor(confusion_matrix(labels, probs.argmax(axis=1), num_classes), dtype=torch.float64,
                              device=device)
        nll = -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))
        loss_sum += float(nll.sum())
    all_reduce_sum(cm, dist_info)
    all_reduce_sum(loss_sum, dist_info)
    all_reduce_sum(bins, dist_info)
    result = metrics_from_confusion(cm.cpu().numpy().round().astype(np.int64))
    result["loss"] = float(loss_sum.item()) / max(result["n"], 1)
    result["ece"] = ece_from_bins(bins.cpu().numpy())
    result.update(extra)
    result["seconds"] = time.perf_counter() - started
    if keep_probs:
        result["probs"], result["labels"] = probs, labels
    return result


def _published_task(probs: np.ndarray, labels: np.ndarray, device: torch.device, dist_info: DistInfo) -> dict[str, Any]:
    """accuracy, RMSE and per-class figures on photos with counts 0-5, classes above 5 merged (all ranks)."""
    k = PUBLISHED_TOP + 1
    cm = torch.zeros((k, k), dtype=torch.float64, device=device)
    if len(labels):
        pred, true = published_range(probs, labels)
        cm += torch.as_tensor(confusion_matrix(true, pred, k), dtype=torch.float64, device=device)
    all_reduce_sum(cm, dist_info)
    return metrics_from_confusion(cm.cpu().numpy().round().astype(np.int64))
