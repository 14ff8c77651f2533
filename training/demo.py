"""The demo's models: a small ResNet18 and an SVM trained on the demo workspace's train split, registered,
activated and used to score every demo image, so `binaudit demo` opens on working review queues.

Runs in-process (no subprocess start-up) and shows tqdm progress on stderr all the way. Whatever already
exists is kept: an active model with predictions for every image is not trained or scored again.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.progress import is_terminal
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace

from .stream import Stream

# Sized for about a minute of training on two busy CPU cores (see docs/TRAINING.md for the figures).
DEMO_RESNET = dict(input_size=48, epochs=5, batch_size=32, workers=0)
DEMO_SVM = dict(size=24, pca=50, C=10.0, folds=5, workers=0)


def _say(text: str) -> None:
    print(f"binaudit demo: {text}", file=sys.stderr, flush=True)


class TqdmStream(Stream):
    """Turns the training stream into tqdm bars on stderr and remembers the final event."""

    def __init__(self, label: str):
        super().__init__(out=sys.stderr, enabled=True)
        self.label = label
        self.bar: Any = None
        self.bar_key: str | None = None
        self.final: dict[str, Any] | None = None
        self.epochs = 0
        self.bars = is_terminal(sys.stderr)  # a log or pipe gets the per-epoch lines only, not redrawn bars

    def _bar(self, key: str, desc: str, total: int):
        from tqdm import tqdm
        if self.bar_key != key:
            self.close()
            self.bar = tqdm(desc=desc, total=total, file=sys.stderr, dynamic_ncols=True, leave=False)
            self.bar_key = key
        return self.bar

    def emit(self, event: str, **fields: Any) -> None:
        if event == "started":
            self.epochs = int(fields.get("epochs") or 0)
        elif event in ("progress", "batch") and not self.bars:
            return
        elif event == "progress":
            bar = self._bar(f"p:{fields['stage']}", f"{self.label}: {fields['stage']}", fields["total"])
            bar.n = fields["done"]
            bar.refresh()
        elif event == "batch":
            bar = self._bar(f"e:{fields['epoch']}", f"{self.label}: epoch {fields['epoch']}/{self.epochs}",
                            fields["batches"])
            bar.n = fields["batch"]
            bar.set_postfix(loss=f"{fields['loss']:.3f}", refresh=True)
        elif event == "epoch":
            self.close()
            _say(f"{self.label} epoch {fields['epoch']}/{self.epochs}: train acc {fields['train_acc']:.2f}, "
                 f"val acc {fields['val_acc']:.2f}, val RMSE {fields['val_rmse']:.2f} ({fields['seconds']:.0f} s)")
        elif event in ("finished", "failed", "cancelled"):
            self.close()
            self.final = {"event": event, **fields}

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.bar_key = None, None


def demo_threads() -> int:
    """CPU threads for the demo: the cores not already busy (an oversubscribed BLAS is many times slower)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    import torch
    from threadpoolctl import threadpool_limits
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def _session(store: Store, workspace: Workspace, label: str):
    from .session import Session
    return Session(workspace=workspace, stream=TqdmStream(label), store=store)


def _outcome(session, kind: str) -> int:
    final = session.stream.final or {}
    if final.get("event") != "finished" or final.get("model_id") is None:
        raise RuntimeError(f"training the demo {kind} failed: {final.get('reason', 'no result')}")
    return int(final["model_id"])


def train_demo_resnet(store: Store, workspace: Workspace) -> int:
    """ResNet18 from scratch at 48 px on the demo's train split; returns the registered model id."""
    from .distributed import DistInfo
    from .recipes import get_recipe
    from .resnet_train import ResNetRun, seed_everything
    from .stream import StopFlag

    recipe = dataclasses.replace(get_recipe("demo"), **DEMO_RESNET).validate()
    session = _session(store, workspace, "demo ResNet18")
    session.begin_run("resnet", recipe.name, recipe.to_dict(), recipe.split, recipe.max_count, recipe.or_more)
    session.stream.emit("started", epochs=recipe.total_epochs())
    seed_everything(recipe.seed)
    ResNetRun(session, recipe, StopFlag(), DistInfo()).run()
    return _outcome(session, "ResNet")


def train_demo_svm(store: Store, workspace: Workspace) -> int:
    """RBF SVM on PCA of 24 px pixels, 5-fold out-of-fold probabilities; returns the model id."""
    from .stream import StopFlag
    from .svm_config import SVMConfig
    from .svm_train import prepare_svm_session, train_svm

    cfg = SVMConfig(**DEMO_SVM)
    session = _session(store, workspace, "demo SVM")
    prepare_svm_session(session, cfg)
    train_svm(session, cfg, StopFlag())
    return _outcome(session, "SVM")


def _existing(store: Store, kind: str) -> int | None:
    """The active model of this kind, else the newest registered one (a demo interrupted after training)."""
    active = store.active_model(kind)
    if active:
        return int(active["id"])
    models = store.list_models(kind)
    return int(models[-1]["id"]) if models else None


def _score(store: Store, model_id: int, kind: str, threads: int) -> None:
    from binaudit.core.progress import progress_bar
    from binaudit.ml.scoring import score_images

    with progress_bar(f"score all images ({kind})", "img") as bar:
        summary = score_images(store, model_id, device="auto", batch_size=64, num_workers=min(1, threads - 1),
                               progress=bar)
    _say(summary.describe())


def ensure_demo_models(store: Store, workspace: Workspace) -> dict[str, int]:
    """Make sure the demo has an active ResNet and an active SVM with predictions for every usable image."""
    from binaudit.ml.modelfiles import activate_registered

    threads = demo_threads()
    trainers = {"resnet": train_demo_resnet, "svm": train_demo_svm}
    total = len(store.image_ids(status=IMAGE_USABLE_STATUSES))
    out: dict[str, int] = {}
    with limited_threads(threads):
        for kind, train in trainers.items():
            started = time.perf_counter()
            model_id = _existing(store, kind)
            if model_id is None:
                _say(f"training the demo {kind} model ({threads} CPU thread{'s' if threads > 1 else ''})")
                model_id = train(store, workspace)
            if not store.get_model(model_id)["active"]:
                activate_registered(store, model_id)
            if len(store.scored_image_ids(model_id)) < total:
                _score(store, model_id, kind, threads)
            out[kind] = model_id
            _say(f"{kind} model {model_id} active ({time.perf_counter() - started:.0f} s)")
    return out
