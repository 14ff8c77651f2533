"""Fine-tuning a registered SVM on the verified labels (training.finetune says what and why).

An SVM has no weights to continue from: it is refitted on the training split with the parent's features and
hyper-parameters (kernel, C, its exact gamma, degree, PCA size, seed) and sample weights, W for a verified
photo (its slack penalty C x W) and 1 for the others, then recalibrated on val as svm_train does and evaluated
on test. No new folds are fitted: the parent's out-of-fold predictions go with the new model.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any

import numpy as np

from binaudit.ml import modelfiles
from binaudit.ml.svm import TorchSVM, fit_svm

from .features import extract_features
from .finetune_plan import (
    FinetuneOptions,
    Parent,
    Plan,
    add_to_report,
    announce,
    begin_finetune,
    inherited_cross_fit,
    parent_recorder,
)
from .metrics import summary_metrics
from .report import write_report
from .session import RunScope, Session
from .stream import StopFlag, Stopped, TrainingFailed
from .svm_config import SVMConfig
from .svm_train import calibrate, split_figures

log = logging.getLogger("training")
SPLITS = ("train", "val", "test")


def parent_settings(parent: Parent, options: FinetuneOptions) -> tuple[SVMConfig, float]:
    """The parent's SVM settings (its run's, else its manifest's) and its C (its run's, after any search)."""
    names = {f.name for f in dataclasses.fields(SVMConfig)}
    cfg = SVMConfig(**{k: v for k, v in parent.config.items() if k in names})
    C = parent.report.get("C", parent.config.get("C"))
    if C is None:
        raise TrainingFailed(f"model {parent.id} was not trained in this workspace, so its SVM's C is unknown; "
                             "train an SVM here (python -m training svm) and fine-tune that one")
    svm, spec, classes = parent.model.svm, parent.model.features, list(parent.manifest["classes"])
    cfg = dataclasses.replace(
        cfg, size=spec.size, hog=spec.hog, blobs=spec.blobs, hog_size=spec.hog_size, kernel=svm.kernel,
        gamma=repr(float(svm.gamma)), degree=svm.degree, pca=int(svm.params["pca_components"].shape[0]),
        max_count=len(classes) - 1, or_more=bool(parent.manifest.get("top_class_or_more")), search=False, folds=0,
        workers=cfg.workers if options.workers is None else options.workers)
    return cfg, float(C)


def finetune_svm(scope: RunScope, session: Session, parent: Parent, options: FinetuneOptions) -> int:
    """Start the run on the verified labels, announce it, refit, calibrate, evaluate and register."""
    cfg, C = parent_settings(parent, options)
    plan, config = begin_finetune(session, parent, {**dataclasses.asdict(cfg), "C": C},
                                  (cfg.split, cfg.max_count, cfg.or_more), options.verified_weight)
    session.emit_started("finetune", f"svm-{cfg.kernel} fine-tuned from model {parent.id}", config,
                         cfg.max_count + 1, device="cpu", pid=os.getpid(), parent_model_id=parent.id,
                         model_kind="svm")
    announce(session, plan)
    X, y = _features(session, cfg, scope.stop)
    started = time.perf_counter()
    svm, margin_t, calibration = _refit(session, parent, cfg, C, plan, X, y)
    report: dict[str, Any] = {"title": f"SVM run {session.run_id} (fine-tuned from model {parent.id})",
                              "recipe": f"svm-{cfg.kernel} fine-tune", "config": dataclasses.asdict(cfg),
                              "label_snapshot": session.label_snapshot, "C": C, "gamma": svm.gamma,
                              "calibration": calibration, "fit_seconds": time.perf_counter() - started,
                              "images": session.summary(cfg.max_count + 1)}
    for name in ("val", "test"):
        if len(y[name]):
            report[name] = split_figures(svm, X[name], y[name], cfg.max_count + 1, margin_t)
            calibration.update({f"{name}_{k}": report[name][k] for k in ("ece", "ece_uncalibrated")})
    if scope.stop:
        raise Stopped()
    metrics = summary_metrics(report)
    model_id = _register(session, parent, plan, svm, cfg, metrics, calibration)
    report.update(model_id=model_id, metrics=metrics, wall_seconds=round(time.time() - session.started, 1))
    assert session.run_dir is not None
    write_report(session.run_dir, report, [])
    add_to_report(session.run_dir, plan)
    log.info("fine-tune run %s: %s accuracy %.3f, RMSE %.3f; model %s registered (not activated), parent %s",
             session.run_id, metrics["split"], metrics["accuracy"], metrics["rmse"], model_id, parent.id)
    return session.finished(model_id, metrics)


def _features(session: Session, cfg: SVMConfig, stop: StopFlag) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each split's features (the parent's feature settings) and labels."""
    X, y = {}, {}
    for name in SPLITS:
        def progress(done: int, total: int, stage: str = f"features {name}") -> None:
            session.stream.progress(stage, done, total)
        X[name] = extract_features(session.sets[name].paths, cfg.features(), cfg.workers,
                                   should_stop=lambda: bool(stop), progress=progress)
        y[name] = session.sets[name].labels
    return X, y


def _refit(session: Session, parent: Parent, cfg: SVMConfig, C: float, plan: Plan, X: dict[str, np.ndarray],
           y: dict[str, np.ndarray]) -> tuple[TorchSVM, float, dict[str, Any]]:
    """The weighted refit and its calibration on val; returns (svm, the old method's temperature, calibration)."""
    assert session.store is not None
    weights = plan.sample_weight(session.sets["train"].ids)
    pipe = fit_svm(X["train"], y["train"], kernel=cfg.kernel, C=C, gamma=cfg.gamma_value(),
                   n_components=cfg.pca or None, degree=cfg.degree, coef0=parent.model.svm.coef0,
                   random_state=cfg.seed, sample_weight=weights)
    svm = TorchSVM.from_pipeline(pipe)
    bin_of = session.store.bin_keys()
    margin_t, calibration = calibrate(svm, X["val"], y["val"], [bin_of.get(i, i) for i in session.sets["val"].ids],
                                      cfg.seed)
    session.stream.emit("progress", stage="fit", done=1, total=1, calibration=calibration["method"],
                        verified_weight=plan.weight, weighted=int((weights > 1).sum()))
    return svm, margin_t, calibration


def _register(session: Session, parent: Parent, plan: Plan, svm: TorchSVM, cfg: SVMConfig, metrics: dict[str, Any],
              calibration: dict[str, Any]) -> int:
    """Save the model files (with the parent's out-of-fold predictions and the parent named) and register them."""
    assert session.run_dir is not None
    manifest = modelfiles.save_svm(svm, cfg.features(), session.run_dir / "model" / f"svm-run{session.run_id}",
                                   classes=list(range(cfg.max_count + 1)), training_run=session.run_id,
                                   metrics=metrics, calibration=calibration, or_more=cfg.or_more)
    inherited = inherited_cross_fit(parent, session.sets["train"].ids)
    if inherited is not None:
        inherited.save(manifest, "")
    parent_recorder(plan)(manifest)
    name = f"SVM {cfg.kernel} PCA{cfg.pca} {cfg.size}px fine-tuned from model {parent.id} (run {session.run_id})"
    return modelfiles.register_model_file(session.store, manifest, run_id=session.run_id,
                                          label_snapshot=session.label_snapshot, name=name)
