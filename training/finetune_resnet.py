"""Fine-tuning a registered ResNet on the verified labels (training.finetune says what and why).

The network is rebuilt from the parent's manifest and run recipe (architecture, head, input size, preprocessing,
optimiser), its weights loaded from the parent's checked safetensors file, then trained for a few epochs at a
low rate (the parent's rate / 10, cosine to zero) as an ordinary ResNet run: batch and epoch events, a checkpoint
every epoch, cancel and `python -m training resume`, temperature refitted on val, test figures. A verified
photo goes into every epoch W times (sample weight W for a loss averaged over the epoch).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.ml.preprocess import letterbox_of

from .data import CachedImages, LabelSet, prepare_datasets
from .distributed import SINGLE_PROCESS
from .finalize import TrainedResNet, finalize_resnet
from .finetune_plan import (
    FinetuneOptions,
    Parent,
    Plan,
    add_to_report,
    announce,
    begin_finetune,
    inherited_cross_fit,
    load_parent,
    parent_recorder,
    read_plan,
)
from .losses import head_for
from .recipes import Recipe
from .resnet_train import ResNetRun, resume_checkpoint, seed_everything
from .session import RunScope, Session
from .stream import EXIT_FINISHED, StopFlag, TrainingFailed

LOSS_OF_HEAD = {"softmax": "ce", "ordinal": "ordinal", "coral": "coral"}
LR_FACTOR = 0.1  # a fine-tune's default rate: the parent's / 10 (a fine-tune of a fine-tune keeps its rate)


def parent_recipe(parent: Parent) -> Recipe:
    """The parent's training recipe (the defaults for a model imported from elsewhere) with what its manifest
    says it is: architecture, classes, head, input size, preprocessing."""
    manifest = parent.manifest
    recipe = Recipe.from_dict(parent.config) if parent.config.get("arch") else Recipe()
    classes = list(manifest.get("classes") or [])
    if classes != list(range(len(classes))):
        raise TrainingFailed(f"model {parent.id} counts {classes}, not 0..N-1; only such models are fine-tuned")
    head = str(manifest.get("head", "softmax"))
    loss = str((manifest.get("training") or {}).get("loss") or recipe.loss)
    if head_for(loss) != head:
        loss = LOSS_OF_HEAD.get(head, "ce")
    preprocessing = manifest.get("preprocessing") or {}
    return dataclasses.replace(recipe, arch=str(parent.record["architecture"]), max_count=len(classes) - 1,
                               or_more=bool(manifest.get("top_class_or_more")), loss=loss,
                               input_size=int(manifest["input_size"]), letterbox=letterbox_of(preprocessing),
                               tta=bool(preprocessing.get("tta_hflip", False)))


def finetune_recipe(parent: Parent, options: FinetuneOptions) -> Recipe:
    """The parent's recipe as a fine-tune: its weights (loaded after), one stage of --epochs at its input size,
    a low rate decaying to zero, no LR search, no early stop, no cross-fitting (the parent's folds are kept)."""
    base = parent_recipe(parent)
    lr = options.lr or (base.lr if "finetune" in parent.config else base.lr * LR_FACTOR)
    workers = base.workers if options.workers is None else options.workers
    return dataclasses.replace(
        base, name=f"fine-tuned from model {parent.id}", published="", weights="none", stages="",
        description=f"model {parent.id} ({parent.record.get('name')}) trained further on the verified labels",
        epochs=options.epochs, lr=float(lr), schedule="cosine", patience=0, find_lr=False, cross_fit=0,
        max_batches=0, threads=options.threads, device=options.device or base.device, workers=workers).validate()


class FinetuneRun(ResNetRun):
    """A ResNet run that starts from the parent's weights, repeats the verified photos W times per epoch and
    registers its model with the parent's out-of-fold predictions and the parent named in its manifest."""

    def __init__(self, session: Session, recipe: Recipe, stop: StopFlag, plan: Plan, parent: Parent,
                 checkpoint: dict[str, Any] | None = None):
        super().__init__(session, recipe, stop, SINGLE_PROCESS, checkpoint)
        self.plan, self.parent = plan, parent
        if checkpoint is None:
            self.model.load_state_dict(parent.model.model.state_dict())

    def data(self, size: int) -> dict[str, CachedImages]:
        """The usual datasets (each photo cached once), the training one with the verified photos repeated."""
        if size not in self.datasets:
            datasets = super().data(size)
            train = self.s.sets["train"]
            weighted = _repeated(train, self.plan.copies(train.ids, self.recipe.seed))
            datasets["train"] = prepare_datasets(
                {"train": weighted}, self.s.cache_root, size, self.recipe.hflip, self.recipe.seed,
                workers=self.recipe.workers, skip_bad=self.recipe.skip_bad_images, letterbox=self.recipe.letterbox,
                jitter=self.recipe.color_jitter)["train"]
        return self.datasets[size]

    def finish(self) -> int:
        trained = TrainedResNet(self.s, self.recipe, self.progress.best, self.progress.history, self.model,
                                self.dist, self.evaluate_split,
                                inherited_cross_fit(self.parent, self.s.sets["train"].ids),
                                before_register=parent_recorder(self.plan))
        code = finalize_resnet(trained)
        if code == EXIT_FINISHED and self.s.run_dir is not None:
            add_to_report(self.s.run_dir, self.plan)
        return code


def _repeated(labels: LabelSet, copies: np.ndarray) -> LabelSet:
    """The label set with photo k repeated copies[k] times."""
    index = np.repeat(np.arange(len(labels)), copies)
    return LabelSet([labels.ids[k] for k in index], [labels.paths[k] for k in index], labels.labels[index])


def finetune_resnet(scope: RunScope, session: Session, parent: Parent, options: FinetuneOptions) -> int:
    """Start the run on the verified labels, announce it and train from the parent's weights."""
    recipe = finetune_recipe(parent, options)
    plan, config = begin_finetune(session, parent, recipe.to_dict(), (recipe.split, recipe.max_count, recipe.or_more),
                                  options.verified_weight)
    session.emit_started("finetune", recipe.name, config, recipe.max_count + 1, epochs=recipe.total_epochs(),
                         device=recipe.device, pid=os.getpid(), parent_model_id=parent.id, model_kind="resnet")
    announce(session, plan)
    seed_everything(recipe.seed)
    return FinetuneRun(session, recipe, scope.stop, plan, parent).run()


def resume_resnet_finetune(scope: RunScope, db: str, run_dir: Path, recipe: Recipe) -> int:
    """Continue a stopped fine-tune from its checkpoint (its parent must still be registered and intact)."""
    from .features import set_threads
    set_threads(recipe.threads)
    session = scope.open(db)
    saved = session.resume_run(run_dir)
    assert session.run_dir is not None and session.store is not None
    plan = read_plan(session.run_dir)
    parent = load_parent(session.store, int(plan.parent["model_id"]))
    checkpoint = resume_checkpoint(session.run_dir)
    session.emit_started("finetune", recipe.name, saved["config"], recipe.max_count + 1, resumed=True,
                         epochs=recipe.total_epochs(), device=recipe.device, pid=os.getpid(),
                         parent_model_id=parent.id, model_kind="resnet")
    seed_everything(recipe.seed)
    return FinetuneRun(session, recipe, scope.stop, plan, parent, checkpoint).run()
