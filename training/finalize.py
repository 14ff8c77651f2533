"""The end of a ResNet run: best weights, evaluation on val and test, report, model files, registration."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from binaudit.ml import modelfiles

from .engine import evaluate
from .metrics import summary_metrics
from .report import write_report
from .runs import load_best, read_json
from .stream import TrainingFailed

if TYPE_CHECKING:
    from .resnet_train import ResNetRun

log = logging.getLogger("training")


def resnet_summary(report: dict[str, Any]) -> dict[str, Any]:
    """summary_metrics plus the best epoch and, with TTA, the test accuracy without it."""
    out = summary_metrics(report, best_epoch=report.get("best_epoch"))
    if report.get("test_no_tta"):
        out["accuracy_no_tta"] = report["test_no_tta"]["accuracy"]
    return out


def finalize_resnet(run: "ResNetRun") -> int:
    """Evaluate the best epoch's weights; rank 0 writes the report and model files and registers the model."""
    s, recipe, p = run.s, run.recipe, run.progress
    existing = s.run_dir / "report.json"
    if existing.exists() and read_json(existing).get("model_id"):
        done = read_json(existing)
        return s.finished(done["model_id"], done.get("metrics", {}), reason="already finished")
    if not p.best:
        raise TrainingFailed("no epoch finished, so there is no model to save")
    best = load_best(s.run_dir) if run.dist.is_main else None
    best = _broadcast_state(best, run)
    run.model.load_state_dict(best)
    size = int(p.best["input_size"])
    datasets = run.data(size)
    report: dict[str, Any] = {"title": f"{recipe.arch} run {s.run_id} ({recipe.name})", "recipe": recipe.name,
                              "published": recipe.published, "label_snapshot": s.label_snapshot,
                              "best_epoch": p.best["epoch"], "input_size": size, "tta": recipe.tta,
                              "classes": list(range(run.num_classes)), "config": recipe.to_dict(),
                              "images": s.summary(run.num_classes), "history": p.history}
    for split in ("val", "test"):
        if len(datasets[split]):
            report[split] = evaluate(run.model, run.eval_loader(datasets[split]), run.device, run.num_classes,
                                     tta=recipe.tta, dist_info=run.dist)
    if recipe.tta and "test" in report:
        report["test_no_tta"] = evaluate(run.model, run.eval_loader(datasets["test"]), run.device,
                                         run.num_classes, tta=False, dist_info=run.dist)
    metrics = resnet_summary(report)
    if not run.dist.is_main:
        return 0
    report["wall_seconds"] = round(time.time() - s.started, 1)
    model_id = register(run, size, metrics)
    report["model_id"], report["metrics"] = model_id, metrics
    write_report(s.run_dir, report, p.history)
    (s.run_dir / "best.safetensors").unlink(missing_ok=True)  # the model file holds the same weights
    log.info("%s: %s accuracy %.3f, RMSE %.3f; model %s registered (not activated)", s.run_dir.name,
             metrics["split"], metrics["accuracy"], metrics["rmse"], model_id)
    return s.finished(model_id, metrics)


def register(run: "ResNetRun", input_size: int, metrics: dict[str, Any]) -> int:
    """Save NAME.safetensors + manifest in the run directory and record it in the store (never activated)."""
    s, recipe = run.s, run.recipe
    manifest = modelfiles.save_resnet(run.model, s.run_dir / "model" / f"{recipe.arch}-run{s.run_id}",
                                      architecture=recipe.arch, input_size=input_size,
                                      classes=list(range(run.num_classes)), training_run=s.run_id,
                                      metrics=metrics, tta=recipe.tta)
    return modelfiles.register_model_file(s.store, manifest, run_id=s.run_id, label_snapshot=s.label_snapshot,
                                          name=f"{recipe.arch} {recipe.name} (run {s.run_id})")


def _broadcast_state(state, run: "ResNetRun"):
    from . import distributed as D
    return D.broadcast_object(state, run.dist)
