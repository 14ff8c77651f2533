"""A ResNet run: stages (input size, frozen body or not), epochs, checkpoints, early stopping, report, registration.

Single process or under torchrun (DistributedDataParallel); only rank 0 writes files, the store
and the stream. A checkpoint after every epoch (and at a clean stop mid-epoch) makes every run resumable.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from binaudit.ml.device import choose_device, prepare_module
from binaudit.ml.resnet import build_resnet

from . import distributed as D
from .cross_fit import resnet_cross_fit
from .data import CachedImages, ResumableSampler, ShardSampler, batches_per_epoch, make_loader, prepare_datasets
from .engine import evaluate, train_one_epoch
from .finalize import TrainedResNet, finalize_resnet
from .losses import build_criterion, head_for
from .lr_finder import lr_range_test, plot_lr_finder
from .optim import build_optimizer, build_scheduler, current_lr, set_trainable
from .recipes import Recipe, Stage
from .runs import append_metrics, load_checkpoint, save_best, save_checkpoint, truncate_metrics
from .session import Session
from .stream import StopFlag, TrainingFailed

log = logging.getLogger("training")


@dataclass
class Progress:
    """Where the run is: the next (stage, epoch in stage, batch), the best epoch so far, the history."""

    stage: int = 0
    stage_epoch: int = 0
    batches_done: int = 0
    totals: dict[str, float] | None = None
    lr: float = 0.0
    best: dict[str, Any] = field(default_factory=dict)
    bad_epochs: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("stage", "stage_epoch", "batches_done", "totals", "lr", "best",
                                              "bad_epochs", "history")}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(recipe: Recipe, dist: D.DistInfo) -> torch.device:
    device = choose_device(recipe.device)
    if device.type == "cuda" and dist.enabled:
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    return device


def build_model(recipe: Recipe, num_classes: int, dist: D.DistInfo) -> nn.Module:
    """The network; with ImageNet weights rank 0 downloads first so ranks share the torch hub cache."""
    weights = None if recipe.weights in ("none", "", "scratch") else recipe.weights
    if dist.enabled and weights == "imagenet" and not dist.is_main:
        D.barrier(dist)
    model = build_resnet(recipe.arch, num_classes=num_classes, weights=weights, head=head_for(recipe.loss))
    if dist.enabled and weights == "imagenet" and dist.is_main:
        D.barrier(dist)
    return model


def better(value: float, best: float | None, monitor: str) -> bool:
    if best is None:
        return True
    return value > best if monitor == "val_acc" else value < best


class ResNetRun:
    """Holds the run's pieces; `run()` returns the process exit code."""

    def __init__(self, session: Session, recipe: Recipe, stop: StopFlag, dist: D.DistInfo,
                 checkpoint: dict[str, Any] | None = None):
        self.s, self.recipe, self.stop, self.dist = session, recipe, stop, dist
        self.device = pick_device(recipe, dist)
        self.num_classes = recipe.max_count + 1
        self.batch = max(1, recipe.batch_size // dist.world)  # batch_size is global: results do not depend on GPUs
        self.stages: list[Stage] = recipe.stage_list()
        self.ckpt = checkpoint
        self.progress = Progress(lr=recipe.lr)
        if checkpoint:
            saved = checkpoint["progress"]
            self.progress = Progress(**saved)
        self.model = prepare_module(build_model(recipe, self.num_classes, dist), self.device)
        if checkpoint:
            self.model.load_state_dict(checkpoint["model"])
        self.head = head_for(recipe.loss)
        self.criterion = build_criterion(recipe.loss, self.num_classes, recipe.label_smoothing).to(self.device)
        self.datasets: dict[int, dict[str, CachedImages]] = {}

    # ------------------------------------------------------------------ data
    def data(self, size: int) -> dict[str, CachedImages]:
        if size not in self.datasets:
            self.datasets[size] = prepare_datasets(self.s.sets, self.s.cache_root, size, self.recipe.hflip,
                                                   self.recipe.seed, workers=self.recipe.workers,
                                                   skip_bad=self.recipe.skip_bad_images,
                                                   progress=lambda d, t: self.s.stream.progress(f"cache {size}px", d, t),
                                                   letterbox=self.recipe.letterbox, jitter=self.recipe.color_jitter)
        return self.datasets[size]

    def eval_loader(self, dataset: CachedImages) -> torch.utils.data.DataLoader:
        bs = max(1, (self.recipe.eval_batch_size or 2 * self.recipe.batch_size) // self.dist.world)
        return make_loader(dataset, bs, ShardSampler(len(dataset), self.dist.world, self.dist.rank),
                           self.recipe.workers, pin_memory=self.device.type == "cuda")

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        if self.progress.stage >= len(self.stages):
            return self.finish()
        if self.recipe.find_lr and self.ckpt is None:
            self.find_lr()
        for index in range(self.progress.stage, len(self.stages)):
            outcome = self.run_stage(index)
            if outcome == "cancelled":
                return self.s.cancelled(f"stopped by {self.stop.signal_name}", self.last_metrics())
            if outcome == "early-stop-last":
                break
        return self.finish()

    def find_lr(self) -> None:
        stage = self.stages[0]
        datasets = self.data(stage.input_size)
        lr = None
        if self.dist.is_main:
            set_trainable(self.model, stage.mode)
            optimizer = build_optimizer(self.model, self.recipe, stage.mode, self.recipe.lr)
            loader = make_loader(datasets["train"], self.batch,
                                 ResumableSampler(datasets["train"], seed=self.recipe.seed), self.recipe.workers)
            result = lr_range_test(self.model, loader, optimizer, self.device, self.criterion,
                                   num_iter=max(20, len(loader)),
                                   on_point=lambda lr, loss: self.s.stream.emit("lr_finder", lr=lr, loss=loss),
                                   should_stop=lambda: bool(self.stop))
            plot_lr_finder(result, self.s.run_dir / "lr_finder.png")
            lr = result["suggestion"]
            self.s.stream.emit("lr_finder", lr=lr, loss=None, suggestion=lr, plot=str(self.s.run_dir / "lr_finder.png"))
        lr = D.broadcast_object(lr, self.dist)
        if lr:
            log.info("LR range test suggests %.3g; training at that rate", lr)
            self.progress.lr = float(lr)

    def run_stage(self, index: int) -> str:
        stage, p = self.stages[index], self.progress
        datasets = self.data(stage.input_size)
        set_trainable(self.model, stage.mode)
        optimizer = build_optimizer(self.model, self.recipe, stage.mode, p.lr)
        bpe = batches_per_epoch(len(datasets["train"]), self.batch, self.dist.world)
        scheduler = build_scheduler(optimizer, self.recipe, bpe, stage.epochs)
        if self.ckpt is not None and (p.stage_epoch or p.batches_done):
            optimizer.load_state_dict(self.ckpt["optimizer"])
            scheduler.load_state_dict(self.ckpt["scheduler"])
        self.ckpt = None
        net = self.model
        if self.dist.enabled:
            net = nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index]
                                                      if self.device.type == "cuda" else None)
        sampler = ResumableSampler(datasets["train"], self.dist.world, self.dist.rank, shuffle=True,
                                   seed=self.recipe.seed)
        log.info("stage %d/%d: %s (%d train images, %d batches per epoch)", index + 1, len(self.stages), stage,
                 len(datasets["train"]), bpe)
        for stage_epoch in range(p.stage_epoch, stage.epochs):
            outcome = self.run_epoch(index, stage_epoch, net, optimizer, scheduler, sampler, datasets)
            if outcome != "next":
                return outcome
        return "done"

    def run_epoch(self, index: int, stage_epoch: int, net: nn.Module, optimizer, scheduler, sampler,
                  datasets: dict[str, CachedImages]) -> str:
        p, stage, started = self.progress, self.stages[index], time.perf_counter()
        epoch = len(p.history) + 1
        sampler.set_epoch(epoch)
        sampler.set_start(p.batches_done * self.batch)
        datasets["train"].set_epoch(epoch)
        loader = make_loader(datasets["train"], self.batch, sampler, self.recipe.workers,
                             pin_memory=self.device.type == "cuda")
        result = train_one_epoch(
            net, loader, optimizer, scheduler, self.device, self.criterion, self.dist, start_batch=p.batches_done,
            totals=p.totals, should_stop=lambda: bool(self.stop), max_batches=self.recipe.max_batches, head=self.head,
            on_batch=lambda b, n, loss: self.s.stream.emit("batch", epoch=epoch, batch=b, batches=n, loss=loss))
        if result["stopped"]:
            p.stage, p.stage_epoch, p.batches_done, p.totals = index, stage_epoch, result["batches_done"], result["totals"]
            self.checkpoint(optimizer, scheduler)
            return "cancelled"
        val = evaluate(self.model, self.eval_loader(datasets["val"]), self.device, self.num_classes,
                       tta=self.recipe.tta, dist_info=self.dist, head=self.head)
        row = {"epoch": epoch, "stage": index + 1, "input_size": stage.input_size,
               "train_loss": result["train_loss"], "train_acc": result["train_acc"], "val_loss": val["loss"],
               "val_acc": val["accuracy"], "val_rmse": val["rmse"], "lr": current_lr(optimizer),
               "seconds": round(time.perf_counter() - started, 3)}
        p.history.append(row)
        monitored = {"val_acc": val["accuracy"], "val_loss": val["loss"], "val_rmse": val["rmse"]}[self.recipe.monitor]
        if better(monitored, p.best.get("value"), self.recipe.monitor):
            p.best = {"value": monitored, "epoch": epoch, "input_size": stage.input_size, "metric": self.recipe.monitor}
            p.bad_epochs = 0
            if self.dist.is_main:
                save_best(self.s.run_dir, self.model)
        else:
            p.bad_epochs += 1
        early = bool(self.recipe.patience) and p.bad_epochs >= self.recipe.patience
        stage_over = early or stage_epoch + 1 >= stage.epochs
        p.stage, p.stage_epoch = (index + 1, 0) if stage_over else (index, stage_epoch + 1)
        p.batches_done, p.totals = 0, None
        if early:
            p.bad_epochs = 0
            log.info("early stopping: no %s improvement for %d epochs", self.recipe.monitor, self.recipe.patience)
        if self.dist.is_main:
            append_metrics(self.s.run_dir, row)
        self.checkpoint(optimizer, scheduler)
        self.s.stream.emit("epoch", **row)  # after the checkpoint: an epoch event means it is saved
        if self.stop:
            return "cancelled"
        if early and index == len(self.stages) - 1:
            return "early-stop-last"
        return "stage-over" if stage_over else "next"

    def checkpoint(self, optimizer, scheduler) -> None:
        if self.dist.is_main:
            save_checkpoint(self.s.run_dir, {
                "model": self.model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "epoch": len(self.progress.history),
                "config": self.recipe.to_dict(), "best": self.progress.best, "progress": self.progress.to_dict(),
                "run_id": self.s.run_id})
        D.barrier(self.dist)

    def last_metrics(self) -> dict[str, Any]:
        return dict(self.progress.history[-1]) if self.progress.history else {}

    # ------------------------------------------------------------------ the end
    def finish(self) -> int:
        cross_fit = None
        if self.recipe.cross_fit and not _already_registered(self.s.run_dir):
            cross_fit = resnet_cross_fit(self.s, self.recipe, self.stop, self.dist, ResNetRun)
        return finalize_resnet(TrainedResNet(self.s, self.recipe, self.progress.best, self.progress.history,
                                             self.model, self.dist, self.evaluate_split, cross_fit))

    def evaluate_split(self, split: str, size: int, tta: bool, temperature: float = 1.0,
                       keep_probs: bool = False) -> dict[str, Any] | None:
        """The current weights' metrics on a split at an input size (probabilities calibrated by temperature),
        over all ranks; None for an empty split."""
        dataset = self.data(size)[split]
        if not len(dataset):
            return None
        return evaluate(self.model, self.eval_loader(dataset), self.device, self.num_classes, tta=tta,
                        dist_info=self.dist, head=self.head, temperature=temperature, keep_probs=keep_probs)


def _already_registered(run_dir: Path) -> bool:
    """Whether the run's report already names its registered model (a resumed, finished run)."""
    from .runs import read_json
    report = run_dir / "report.json"
    return report.exists() and bool(read_json(report).get("model_id"))


def resume_checkpoint(run_dir: Path, is_main: bool = True) -> dict[str, Any]:
    """The run's checkpoint; rank 0 also drops metrics rows logged after it."""
    ckpt = load_checkpoint(run_dir)
    if ckpt is None:
        raise TrainingFailed(f"{run_dir} has no checkpoint yet (it stopped before its first epoch ended?); "
                             "start a new run")
    if is_main:
        truncate_metrics(run_dir, int(ckpt["epoch"]))
    return ckpt
