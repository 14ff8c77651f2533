"""Named training configs that reproduce the published ABID runs (see shared/RECIPES.md); every field is overridable.

A recipe is a flat dataclass. Progressive resizing and head-then-body training are written as
`stages`: "SIZE:EPOCHS[:head|:all|:diff]" separated by commas ("head" trains only the new fully
connected layer with the body frozen, "all" trains everything at one rate, "diff" trains everything
with differential learning rates lr*lr_groups per layer group). Empty stages = one "all" stage of
`epochs` epochs at `input_size`.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, fields
from typing import Any

STAGE_MODES = ("head", "all", "diff")
LOSSES = ("ce", "neighbour", "ordinal", "coral")  # training.losses: cross-entropy, neighbour-crediting, ordinal heads


@dataclass(frozen=True)
class Stage:
    """One block of epochs at one input size with one set of trainable layers."""

    input_size: int
    epochs: int
    mode: str = "all"

    def __str__(self) -> str:
        return f"{self.input_size}:{self.epochs}:{self.mode}"


def parse_stages(text: str) -> list[Stage]:
    """Parse "64:3:head,64:3:diff,128:3" into Stage objects (mode defaults to "all")."""
    stages = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        bits = part.split(":")
        if len(bits) not in (2, 3) or (len(bits) == 3 and bits[2] not in STAGE_MODES):
            raise ValueError(f"bad stage {part!r}: use SIZE:EPOCHS[:{'|'.join(STAGE_MODES)}]")
        stages.append(Stage(int(bits[0]), int(bits[1]), bits[2] if len(bits) == 3 else "all"))
    return stages


@dataclass
class Recipe:
    """Everything a ResNet run needs; saved as the run's config.json."""

    name: str = "custom"
    description: str = ""
    published: str = ""  # the published figure this recipe reproduces, for the report
    arch: str = "resnet18"  # resnet18 | resnet34 | resnet50 | efficientnet_lite0 (optional extra)
    weights: str = "none"  # none (from scratch) | imagenet | path to a local ImageNet state dict
    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "step"  # step | sgdr | cosine | constant
    step_size: int = 10  # step: epochs between lr drops
    gamma: float = 0.1  # step: factor per drop
    sgdr_cycle: float = 1.0  # sgdr: epochs in the first cosine cycle
    sgdr_mult: int = 1  # sgdr: cycle length multiplier after each restart
    lr_groups: str = "0.1111111,0.3333333,1"  # diff stages: factors for body start, body end, head
    batch_size: int = 128  # global: each of W torchrun processes takes batch_size // W
    epochs: int = 40
    input_size: int = 224
    stages: str = ""
    hflip: bool = True
    tta: bool = False  # average predictions over the image and its flip at evaluation
    patience: int = 0  # early stopping: epochs without val improvement (0 = off)
    monitor: str = "val_acc"  # val_acc | val_loss | val_rmse
    split: str = "store"  # store (the import's split) | ratios like 80/10/10, recomputed from each photo's bin
    max_count: int = 5  # classes 0..max_count
    or_more: bool = False  # keep larger counts as class max_count ("N or more") instead of dropping them
    seed: int = 0
    workers: int = 2  # DataLoader worker processes
    find_lr: bool = False  # run the LR range test first and train at its suggested rate
    label_smoothing: float = 0.0
    loss: str = "ce"  # ce | neighbour (0.3 CE + 0.7 multi-label k-1/k/k+1) | ordinal (K-1 "count > j") | coral
    letterbox: bool = False  # keep the aspect ratio (pad) instead of squashing, in training and scoring
    color_jitter: float = 0.0  # training: brightness/contrast/saturation factors in [1-s, 1+s], hue +-s/10
    skip_bad_images: bool = False  # leave out unreadable photos instead of failing the run
    eval_batch_size: int = 0  # 0 = 2 x batch_size
    threads: int = 0  # torch CPU threads (0 = torch's default)
    device: str = "auto"
    max_batches: int = 0  # debugging: stop each epoch after this many batches (0 = all)
    cross_fit: int = 0  # k fold models by bin, each scoring the training bins it did not see (0 = off, else >= 2)

    def stage_list(self) -> list[Stage]:
        return parse_stages(self.stages) if self.stages.strip() else [Stage(self.input_size, self.epochs, "all")]

    def total_epochs(self) -> int:
        return sum(s.epochs for s in self.stage_list())

    def group_factors(self) -> tuple[float, float, float]:
        values = [float(v) for v in self.lr_groups.replace("/", ",").split(",") if v.strip()]
        if len(values) != 3:
            raise ValueError(f"lr_groups needs three factors, got {self.lr_groups!r}")
        body_start, body_end, head = values
        return body_start, body_end, head

    def validate(self) -> Recipe:
        self.stage_list()
        self.group_factors()
        checks = {"arch": ("resnet18", "resnet34", "resnet50", "efficientnet_lite0"), "optimizer": ("sgd", "adam", "adamw"),
                  "schedule": ("step", "sgdr", "cosine", "constant"),
                  "monitor": ("val_acc", "val_loss", "val_rmse")}
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.max_count < 1:
            raise ValueError("max_count must be at least 1 (two classes)")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.color_jitter <= 1.0:
            raise ValueError(f"color_jitter must be within [0, 1], got {self.color_jitter}")
        if self.cross_fit < 0 or self.cross_fit == 1:
            raise ValueError(f"cross_fit must be 0 (off) or a number of folds >= 2, got {self.cross_fit}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


NEW_RECIPE_LOSS = "ordinal"  # the loss of recipes made for this app (bench/count_models.py); published ones keep "ce"
NEW_RECIPE_CROSS_FIT = 2     # their training bins scored by fold models that did not see them (about 2x the time)
_SGDR_STAGES = "64:3:head,64:3:diff,128:3:head,128:3:diff,224:3:head,224:9:diff"

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe(name="resnet34-scratch-step",
           description="Challenge baseline: ResNet34 from scratch, 224 px squash, flip, SGD 0.1 momentum 0.9 "
                       "wd 1e-4, batch 128, 40 epochs, lr/10 every 10 epochs; best val kept",
           published="55.67% / RMSE 0.930 (best val at epoch 21)",
           arch="resnet34", weights="none", optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
           schedule="step", step_size=10, gamma=0.1, batch_size=128, epochs=40, input_size=224),
    Recipe(name="resnet34-sgdr-progressive",
           description="ImageNet ResNet34, lr 0.008 (from the LR range test), SGDR cosine restarts every epoch; "
                       "head 3 epochs then all layers 3 epochs with lr/9, lr/3, lr; at 64, 128 then 224 px "
                       "until it overfits (early stopping); TTA (flip) at evaluation",
           published="53.8% / RMSE 0.94 (52.8% without TTA)",
           arch="resnet34", weights="imagenet", optimizer="sgd", lr=0.008, momentum=0.9, weight_decay=1e-4,
           schedule="sgdr", sgdr_cycle=1.0, sgdr_mult=1, batch_size=128, stages=_SGDR_STAGES, tta=True,
           patience=3),
    Recipe(name="resnet34-adam",
           description="ImageNet ResNet34, Adam lr 1e-3, no weight decay, 224 px, all counts 0-5 split 80/10/10",
           published="56.2% / RMSE 0.90 (324k photos)",
           arch="resnet34", weights="imagenet", optimizer="adam", lr=1e-3, weight_decay=0.0,
           schedule="constant", batch_size=128, epochs=15, input_size=224, split="80/10/10", patience=4),
    Recipe(name="resnet50-adam",
           description="As resnet34-adam with ResNet50",
           published="55.2% / RMSE 0.91 (324k photos)",
           arch="resnet50", weights="imagenet", optimizer="adam", lr=1e-3, weight_decay=0.0,
           schedule="constant", batch_size=128, epochs=15, input_size=224, split="80/10/10", patience=4),
    Recipe(name="resnet18-sgd",
           description="ImageNet ResNet18, SGD lr 0.1 momentum 0.9 wd 1e-4, lr/10 every 10 epochs, 20 epochs "
                       "(the published run raised wd to 1e-3 mid-run; override --weight-decay to try it)",
           published="50.4% / RMSE 0.98 (overfits after epoch 11)",
           arch="resnet18", weights="imagenet", optimizer="sgd", lr=0.1, weight_decay=1e-4,
           schedule="step", step_size=10, gamma=0.1, batch_size=128, epochs=20, input_size=224, patience=5),
    Recipe(name="resnet34-finetune",
           description="Best seen elsewhere: ImageNet ResNet34, SGD 0.01 momentum 0.9 wd 5e-4, lr/10 every 10 "
                       "epochs, batch 64, 30 epochs (squash to 224 instead of the random 224 crop of 256)",
           published="56.7% / RMSE 0.896",
           arch="resnet34", weights="imagenet", optimizer="sgd", lr=0.01, weight_decay=5e-4,
           schedule="step", step_size=10, gamma=0.1, batch_size=64, epochs=30, input_size=224),
    Recipe(name="demo",
           description="The demo's model and the default for new models: ResNet18 from scratch at 64 px, Adam, a "
                       "few epochs on two CPU cores, ordinal head (bench/count_models.py: on the real slice a "
                       "better RMSE than cross-entropy, accuracy within noise); 2 cross-fitted fold "
                       "models score the training bins, so no bin is judged by a model that learned its record",
           arch="resnet18", weights="none", optimizer="adam", lr=2e-3, weight_decay=1e-4, schedule="cosine",
           batch_size=32, epochs=6, input_size=64, workers=0, loss=NEW_RECIPE_LOSS, cross_fit=NEW_RECIPE_CROSS_FIT),
    Recipe(name="tiny",
           description="Tests: ResNet18 from scratch at 32 px, 2 epochs, no worker processes",
           arch="resnet18", weights="none", optimizer="adam", lr=1e-3, weight_decay=0.0, schedule="constant",
           batch_size=16, epochs=2, input_size=32, workers=0),
]}


def get_recipe(name: str) -> Recipe:
    try:
        return dataclasses.replace(RECIPES[name])
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}") from None


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """One --option per Recipe field (default None = keep the recipe's value)."""
    group = parser.add_argument_group("recipe overrides (default: the recipe's value)")
    for f in fields(Recipe):
        if f.name in ("name", "description", "published"):
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "str": str,
                                                        "bool": bool}[str(f.type)]
        if kind is bool:
            group.add_argument(flag, dest=f"r_{f.name}", action=argparse.BooleanOptionalAction, default=None)
        else:
            group.add_argument(flag, dest=f"r_{f.name}", type=kind, default=None, metavar=kind.__name__.upper())


def apply_overrides(recipe: Recipe, args: argparse.Namespace) -> Recipe:
    """The recipe with every --option the user gave replacing its field."""
    changes = {f.name: getattr(args, f"r_{f.name}") for f in fields(Recipe)
               if getattr(args, f"r_{f.name}", None) is not None}
    return dataclasses.replace(recipe, **changes).validate()


def describe_recipes() -> str:
    lines = []
    for r in RECIPES.values():
        lines.append(f"{r.name}\n    {r.description}")
        if r.published:
            lines.append(f"    published: {r.published}")
        stages = ", ".join(str(s) for s in r.stage_list())
        lines.append(f"    {r.arch} weights={r.weights} {r.optimizer} lr={r.lr} wd={r.weight_decay} "
                     f"schedule={r.schedule} batch={r.batch_size} stages={stages}"
                     + (" tta" if r.tta else "") + (f" split={r.split}" if r.split != "store" else "")
                     + (f" loss={r.loss}" if r.loss != "ce" else ""))
    return "\n".join(lines)
