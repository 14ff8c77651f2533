"""The one trained-workspace factory of the suite: synthetic bins imported, real models trained by the
training module, every image scored, the models active (never collected as tests)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from binaudit.core.store import Store

TINY_RESNET = ["--recipe", "tiny", "--epochs", "1", "--threads", "1", "--workers", "0"]
SMALL_SVM = ["--size", "16", "--pca", "10", "--folds", "2", "--threads", "1"]


def build_trained_workspace(root: Path, dataset: Path, *, resnet: Sequence[str] | None = TINY_RESNET,
                            svm: Sequence[str] | None = SMALL_SVM) -> Path:
    """Import `dataset` into a workspace at `root`, train the asked models (None leaves one out), score
    every image with each and activate it; returns `root`."""
    from binaudit.core.importer import import_dataset
    from binaudit.ml.modelfiles import activate_registered
    from binaudit.ml.scoring import score_images
    from training.__main__ import main

    with Store.open(root / "workspace.db") as store:
        import_dataset(store, dataset)
    if resnet is not None:
        assert main(["resnet", "--db", str(root), *resnet]) == 0
    if svm is not None:
        assert main(["svm", "--db", str(root), *svm]) == 0
    with Store.open(root / "workspace.db") as store:
        for model in store.list_models():
            score_images(store, model["id"], device="cpu", num_workers=0)
            activate_registered(store, model["id"])
    return root


def private_copy(workspace: Path, into: Path) -> Path:
    """A copy of a built workspace that a test may change (the image cache is left behind)."""
    shutil.copytree(workspace, into, ignore=shutil.ignore_patterns("cache"))
    return into
