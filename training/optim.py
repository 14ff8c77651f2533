"""Optimisers and learning-rate schedules of the recipes: SGD/Adam, step decay, SGDR, cosine,
frozen body (train the head only) and differential learning rates by layer group."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .recipes import Recipe


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Three layer groups: stem + layer1-2, layer3-4, and the fully connected head (a network with its own
    layer_groups(), as EfficientNet-Lite0, names its own three)."""
    if hasattr(model, "layer_groups"):
        return model.layer_groups()
    first = [model.conv1, model.bn1, model.layer1, model.layer2]
    middle = [model.layer3, model.layer4]
    return [[p for m in first for p in m.parameters()], [p for m in middle for p in m.parameters()],
            list(model.fc.parameters())]


def set_trainable(model: nn.Module, mode: str) -> None:
    """mode "head": only the fc layer learns (body frozen); otherwise every layer learns."""
    for p in model.parameters():
        p.requires_grad_(mode != "head")
    for p in model.fc.parameters():
        p.requires_grad_(True)


def param_groups(model: nn.Module, mode: str, lr: float, factors: tuple[float, float, float]) -> list[dict]:
    """Optimizer parameter groups for a stage mode: head / all (one rate) / diff (lr x factors per group)."""
    groups = layer_groups(model)
    if mode == "head":
        return [{"params": groups[2], "lr": lr}]
    if mode == "diff":
        return [{"params": g, "lr": lr * f} for g, f in zip(groups, factors)]
    return [{"params": [p for g in groups for p in g], "lr": lr}]


def build_optimizer(model: nn.Module, recipe: Recipe, mode: str, lr: float) -> torch.optim.Optimizer:
    groups = param_groups(model, mode, lr, recipe.group_factors())
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr, weight_decay=recipe.weight_decay)
    return torch.optim.Adam(groups, lr=lr, weight_decay=recipe.weight_decay)


def lr_factor(recipe: Recipe, batches_per_epoch: int, stage_epochs: int) -> Callable[[int], float]:
    """Multiplier of the base rate after `step` batches of a stage (the scheduler steps every batch)."""
    per_epoch = max(1, batches_per_epoch)

    def step_decay(step: int) -> float:
        return recipe.gamma ** ((step // per_epoch) // max(1, recipe.step_size))

    def sgdr(step: int) -> float:
        t, cycle = step / per_epoch, max(recipe.sgdr_cycle, 1e-6)
        while t >= cycle:  # warm restart
            t -= cycle
            cycle *= max(1, recipe.sgdr_mult)
        return 0.5 * (1 + math.cos(math.pi * t / cycle))

    def cosine(step: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(1.0, step / (per_epoch * max(1, stage_epochs)))))

    schedules = {"step": step_decay, "sgdr": sgdr, "cosine": cosine, "constant": lambda step: 1.0}
    return schedules[recipe.schedule]


def build_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, batches_per_epoch: int,
                    stage_epochs: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(recipe, batches_per_epoch, stage_epochs))


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The head's rate (the last group), the one the recipes quote."""
    return float(optimizer.param_groups[-1]["lr"])
