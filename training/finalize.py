"""The end of a ResNet run: best weights, evaluation on val and test, report, model files, registration."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import nn

from binaudit.ml import modelfiles

from .distributed import DistInfo, broadcast_object
from .metrics import summary_metrics
from .recipes import Recipe
from .report import write_report
from .runs import load_best, read_json
from .session import Session
from .stream import TrainingFailed

log = logging.getLogger("training")

# (split, input size, tta) -> the split's metrics over all ranks, or None when the split has no images
SplitEvaluator = Callable[[str, int, bool], Optional[dict[str, Any]]]


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

    @property
    def num_classes(self) -> int:
        return self.recipe.max_count + 1


def resnet_summary(report: dict[str, Any]) -> dict[str, Any]:
    """summary_metrics plus the best epoch and, with TTA, the test accuracy without it."""
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
    report.update(evaluations(run, size))
    metrics = resnet_summary(report)
    if not run.dist.is_main:
        return 0
    report["wall_seconds"] = round(time.time() - s.started, 1)
    model_id = register(run, size, metrics)
    report["model_id"], report["metrics"] = model_id, metrics
    write_report(s.run_dir, report, run.history)
    (s.run_dir / "best.safetensors").unlink(missing_ok=True)  # the model file holds the same weights
    log.info("%s: %s accuracy %.3f, RMSE %.3f; model %s registered (not activated)", s.run_dir.name,
             metrics["split"], metrics["accuracy"], metrics["rmse"], model_id)
    return s.finished(model_id, metrics)


def evaluations(run: TrainedResNet, size: int) -> dict[str, dict[str, Any]]:
    """val and test (those with images) as the recipe evaluates them; with TTA also test without it."""
    out: dict[str, dict[str, Any]] = {}
    for split in ("val", "test"):
        result = run.evaluate(split, size, run.recipe.tta)
        if result is not None:
            out[split] = result
    no_tta = run.evaluate("test", size, False) if run.recipe.tta and "test" in out else None
    if no_tta is not None:
        out["test_no_tta"] = no_tta
    return out


def register(run: TrainedResNet, input_size: int, metrics: dict[str, Any]) -> int:
    """Save NAME.safetensors + manifest in the run directory and record it in the store (never activated)."""
    s, recipe = run.session, run.recipe
    manifest = modelfiles.save_resnet(run.model, s.run_dir / "model" / f"{recipe.arch}-run{s.run_id}",
                                      architecture=recipe.arch, input_size=input_size,
                                      classes=list(range(run.num_classes)), training_run=s.run_id,
                                      metrics=metrics, tta=recipe.tta)
    return modelfiles.register_model_file(s.store, manifest, run_id=s.run_id, label_snapshot=s.label_snapshot,
                                          name=f"{recipe.arch} {recipe.name} (run {s.run_id})")
