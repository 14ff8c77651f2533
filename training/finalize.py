"""The end of a ResNet run: best weights, evaluation on val and test, report, model files, registration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from binaudit.core.calibration import fit_temperature
from binaudit.ml import modelfiles

from .cross_fit import CrossFit
from .distributed import DistInfo, all_gather_object, broadcast_object
from .losses import head_for
from .metrics import summary_metrics
from .recipes import Recipe
from .report import write_report
from .runs import load_best, read_json
from .session import Session
from .stream import TrainingFailed

log = logging.getLogger("training")

# (split, input size, tta, temperature=1.0, keep_probs=False) -> the split's metrics over all ranks (with
# keep_probs also this rank's "probs" and "labels"), or None when the split has no images
SplitEvaluator = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class TrainedResNet:
    """What the end of a ResNet run uses: its session and recipe, the best epoch and the history, the network
    (on every rank) and a way to evaluate it on a split."""

    session: Session
    recipe: Recipe
    best: dict[str, Any]
    history: list[dict[str, Any]]
    model: nn.Module
    dist: DistInfo
    evaluate: SplitEvaluator
    cross_fit: CrossFit | None = None  # the training photos' out-of-fold predictions (--cross-fit K)
    before_register: Callable[[Path], None] | None = None  # adds to the saved manifest (a fine-tune's parent)

    @property
    def num_classes(self) -> int:
        return self.recipe.max_count + 1


def resnet_summary(report: dict[str, Any]) -> dict[str, Any]:
    """summary_metrics plus the best epoch, the calibration (ECE after and before the temperature, the
    temperature), the 0-5 figures of a model with more classes and, with TTA, the test accuracy without it."""
    out = summary_metrics(report, best_epoch=report.get("best_epoch"))
    if report.get("test_no_tta"):
        out["accuracy_no_tta"] = report["test_no_tta"]["accuracy"]
    return out


def finalize_resnet(run: TrainedResNet) -> int:
    """Evaluate the best epoch's weights; rank 0 writes the report and model files and registers the model."""
    s, recipe = run.session, run.recipe
    existing = s.run_dir / "report.json"
    if existing.exists() and read_json(existing).get("model_id"):
        done = read_json(existing)
        return s.finished(done["model_id"], done.get("metrics", {}), reason="already finished")
    if not run.best:
        raise TrainingFailed("no epoch finished, so there is no model to save")
    best = load_best(s.run_dir) if run.dist.is_main else None
    run.model.load_state_dict(broadcast_object(best, run.dist))
    size = int(run.best["input_size"])
    report: dict[str, Any] = {"title": f"{recipe.arch} run {s.run_id} ({recipe.name})", "recipe": recipe.name,
                              "published": recipe.published, "label_snapshot": s.label_snapshot,
                              "best_epoch": run.best["epoch"], "input_size": size, "tta": recipe.tta,
                              "classes": list(range(run.num_classes)), "config": recipe.to_dict(),
                              "images": s.summary(run.num_classes), "history": run.history}
    temperature, calibration = fit_calibration(run, size)
    report["calibration"] = calibration
    report.update(evaluations(run, size, temperature))
    calibration.update({f"{split}_{key}": report[split].get(key) for split in ("val", "test") if split in report
                        for key in ("ece", "ece_uncalibrated")})
    metrics = resnet_summary(report)
    if not run.dist.is_main:
        return 0
    report["wall_seconds"] = round(time.time() - s.started, 1)
    model_id = register(run, size, metrics, report["calibration"])
    report["model_id"], report["metrics"] = model_id, metrics
    write_report(s.run_dir, report, run.history)
    (s.run_dir / "best.safetensors").unlink(missing_ok=True)  # the model file holds the same weights
    log.info("%s: %s accuracy %.3f, RMSE %.3f; model %s registered (not activated)", s.run_dir.name,
             metrics["split"], metrics["accuracy"], metrics["rmse"], model_id)
    return s.finished(model_id, metrics)


def fit_calibration(run: TrainedResNet, size: int) -> tuple[float, dict[str, Any]]:
    """The temperature minimising the validation NLL of the best weights' probabilities (as the recipe
    evaluates them, TTA included), from every rank's share; (T, the manifest's "calibration")."""
    val = run.evaluate("val", size, run.recipe.tta, keep_probs=True)
    shares = all_gather_object((val["probs"], val["labels"]), run.dist)
    probs = np.concatenate([p for p, _ in shares if len(p)])
    labels = np.concatenate([y for _, y in shares if len(y)])
    temperature = float(broadcast_object(fit_temperature(probs, labels), run.dist))
    return temperature, {"method": "temperature", "temperature": temperature, "fitted_on": "val",
                         "n": int(len(labels)), "ece_bins": 15}


def evaluations(run: TrainedResNet, size: int, temperature: float = 1.0) -> dict[str, dict[str, Any]]:
    """val and test (those with images) as the recipe evaluates them, calibrated by the temperature; with
    TTA also test without TTA (uncalibrated: the temperature was fitted on the TTA probabilities)."""
    out: dict[str, dict[str, Any]] = {}
    for split in ("val", "test"):
        result = run.evaluate(split, size, run.recipe.tta, temperature=temperature)
        if result is not None:
            out[split] = result
    no_tta = run.evaluate("test", size, False) if run.recipe.tta and "test" in out else None
    if no_tta is not None:
        out["test_no_tta"] = no_tta
    return out


def register(run: TrainedResNet, input_size: int, metrics: dict[str, Any], calibration: dict[str, Any]) -> int:
    """Save NAME.safetensors + manifest in the run directory and record it in the store (never activated)."""
    s, recipe = run.session, run.recipe
    manifest = modelfiles.save_resnet(run.model, s.run_dir / "model" / f"{recipe.arch}-run{s.run_id}",
                                      architecture=recipe.arch, input_size=input_size,
                                      classes=list(range(run.num_classes)), training_run=s.run_id,
                                      metrics=metrics, tta=recipe.tta, head=head_for(recipe.loss),
                                      calibration=calibration, letterbox=recipe.letterbox,
                                      jitter=recipe.color_jitter, or_more=recipe.or_more,
                                      training={"recipe": recipe.name, "loss": recipe.loss})
    if run.cross_fit is not None:
        run.cross_fit.save(manifest, f"ResNet: {run.cross_fit.folds} fold models by bin, each trained as the run "
                                     f"on the other folds' training bins, temperature fitted on val")
    if run.before_register is not None:
        run.before_register(manifest)
    return modelfiles.register_model_file(s.store, manifest, run_id=s.run_id, label_snapshot=s.label_snapshot,
                                          name=f"{recipe.arch} {recipe.name} (run {s.run_id})")
