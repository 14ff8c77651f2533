"""`python -m training finetune`: a new version of a registered model, trained further on the verified labels.

The parent (a registered ResNet or SVM, files checked as for scoring) is loaded from the workspace registry.
The new model trains on the training split's effective labels: a photo whose label a person verified in review
(confirmed or corrected) weighs W (--verified-weight, default 3) and takes its verified count; every other
photo takes its recorded count with weight 1. A ResNet continues from the parent's weights for a few epochs at
a low rate (finetune_resnet); an SVM is refitted with the parent's hyper-parameters and those sample weights
(finetune_svm). Both refit their calibration on val and are evaluated on test like every run.

Verified labels in the validation and test splits are not trained on: they keep the calibration (fitted on
val) and the test figures honest, and make them better measures of the truth.

Out-of-fold rule (binaudit.ml.crossfit): the new model learned the records of its training photos, so it must
not be what scores them. Its NAME.oof.npz carries the parent's out-of-fold predictions for the training photos,
and an unreviewed training photo the parent's file does not cover (added since) is left out of the fine-tune,
so the new model scores it without having learned its record. A parent saved without out-of-fold predictions
has none to pass on: the log says so, and the training bins are scored in-sample, as they were before.

The models table has no parent column: the parent is recorded in the new model's manifest ("parent") and in
the run's config ("finetune"); finetune.json in the run directory keeps the verified photos for a resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .finetune_plan import FinetuneOptions, load_parent
from .finetune_resnet import finetune_resnet, resume_resnet_finetune
from .finetune_svm import finetune_svm
from .session import RunScope, guarded_run

__all__ = ["FinetuneOptions", "resume_finetune", "run_finetune"]


def run_finetune(scope: RunScope, db: str, options: FinetuneOptions) -> int:
    """`python -m training finetune` inside guarded_run: open the workspace, load the parent, fine-tune it."""
    session = scope.open(db)
    assert session.store is not None
    parent = load_parent(session.store, options.model_id)
    if parent.kind == "resnet":
        return finetune_resnet(scope, session, parent, options)
    return finetune_svm(scope, session, parent, options)


def resume_finetune(db: str, run_dir: Path, recipe: Any) -> int:
    """`python -m training resume RUN_DIR` of a stopped ResNet fine-tune (recipe: its saved one)."""
    return guarded_run(lambda scope: resume_resnet_finetune(scope, db, run_dir, recipe))
