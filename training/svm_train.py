"""An SVM run: features, optional cross-validated search, fit on train, probabilities calibrated on val (a
multinomial logistic map of the decision values, binaudit.ml.svm_calibration), test metrics with the
expected calibration error before and after, k-fold out-of-fold probabilities for the label-issue score,
model files, registration."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from binaudit.core.calibration import expected_calibration_error, fit_temperature, nll
from binaudit.core.metrics import classification_metrics
from binaudit.ml import modelfiles
from binaudit.ml.svm import TorchSVM, fit_svm

from .cross_fit import CrossFit
from .features import extract_features
from .metrics import PUBLISHED_TOP, published_range, summary_metrics
from .report import write_report
from .session import RunScope, Session
from .stream import StopFlag, Stopped
from .svm_config import SVMConfig

log = logging.getLogger("training")


def _fit(X: np.ndarray, y: np.ndarray, cfg: SVMConfig, C: float, gamma: Any):
    return fit_svm(X, y, kernel=cfg.kernel, C=C, gamma=gamma, n_components=cfg.pca or None, degree=cfg.degree,
                   random_state=cfg.seed)


def search(X: np.ndarray, y: np.ndarray, cfg: SVMConfig, bins: Sequence[str]) -> tuple[float, Any, dict]:
    """Small cross-validated grid around the configured C and gamma, folds by bin; returns the best (C, gamma)."""
    pca: Any = PCA(n_components=min(cfg.pca, int(0.6 * len(X)), X.shape[1]), svd_solver="randomized",
                   random_state=cfg.seed) if cfg.pca else "passthrough"
    pipe = Pipeline([("scale", StandardScaler()), ("pca", pca),
                     ("svc", SVC(kernel=cfg.kernel, degree=cfg.degree, random_state=cfg.seed))])
    grid = {"svc__C": [cfg.C / 10, cfg.C, cfg.C * 10], "svc__gamma": ["scale", 1e-3, 1e-2]}
    found = GridSearchCV(pipe, grid, cv=_splitter(y, 3, cfg.seed), n_jobs=1).fit(
        X.astype(np.float64), y, groups=np.asarray(bins))
    return found.best_params_["svc__C"], found.best_params_["svc__gamma"], {
        "best_cv_accuracy": float(found.best_score_), "grid": {k: [str(v) for v in vs] for k, vs in grid.items()}}


def _splitter(y: np.ndarray, folds: int, seed: int):
    """k folds that keep each bin's photos together (given as groups), so no shot is scored by a model that saw
    its twin: stratified and shuffled when every class has k members, group k-fold by size otherwise."""
    counts = np.bincount(y)
    smallest = int(counts[counts > 0].min())
    if smallest >= folds:
        return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return GroupKFold(n_splits=folds)


def to_full_probs(svm: TorchSVM, X: np.ndarray, num_classes: int) -> np.ndarray:
    """Calibrated probabilities over counts 0..num_classes-1 (classes the SVM never saw get 0)."""
    probs = np.zeros((len(X), num_classes))
    probs[:, np.asarray(svm.classes, dtype=np.int64)] = svm.predict_proba(X)
    return probs


def out_of_fold(X: np.ndarray, y: np.ndarray, bins: Sequence[str], cfg: SVMConfig, C: float, gamma: Any,
                calibrated: TorchSVM, num_classes: int, emit, stop: StopFlag) -> tuple[np.ndarray, np.ndarray]:
    """k-fold out-of-fold probabilities: every image scored by a model that never trained on its bin, its
    decision values mapped by the run's calibrator (fitted on val for the run's model). Returns (probs, fold
    number of each image)."""
    folds = max(2, min(cfg.folds, len(set(bins))))
    splitter = _splitter(y, folds, cfg.seed)
    oof, fold_of = np.zeros((len(y), num_classes)), np.zeros(len(y), dtype=np.int64)
    for k, (fit_idx, held_idx) in enumerate(splitter.split(X, y, groups=np.asarray(bins)), start=1):
        if stop:
            raise Stopped()
        svm = TorchSVM.from_pipeline(_fit(X[fit_idx], y[fit_idx], cfg, C, gamma))
        svm.temperature, svm.calibrator = calibrated.temperature, _calibrator_for(svm, calibrated)
        svm.to(svm.device)
        oof[held_idx] = to_full_probs(svm, X[held_idx], num_classes)
        fold_of[held_idx] = k
        emit("progress", stage="out-of-fold", done=k, total=folds)
    return oof, fold_of


def _calibrator_for(fold: TorchSVM, main: TorchSVM):
    """The run's calibrator if the fold model has the same classes (same decision-value columns), else none."""
    if main.calibrator is None or not np.array_equal(fold.classes, main.classes):
        return None
    return main.calibrator


def split_figures(svm: TorchSVM, X: np.ndarray, y: np.ndarray, num_classes: int, margin_t: float) -> dict[str, Any]:
    """A split's count metrics, its ECE after calibration and before (the old softmax of the margin scores, raw
    and with its own temperature), the NLLs, and with more than six classes the published 0-5 figures."""
    out = classification_metrics(y, svm.predict(X), num_classes)
    probs = to_full_probs(svm, X, num_classes)
    raw = np.zeros_like(probs)
    raw[:, np.asarray(svm.classes, dtype=np.int64)] = svm.margin_probabilities(X)
    old = np.zeros_like(probs)
    old[:, np.asarray(svm.classes, dtype=np.int64)] = svm.margin_probabilities(X, margin_t)
    out.update(ece=expected_calibration_error(probs, y), ece_uncalibrated=expected_calibration_error(raw, y),
               ece_margin_temperature=expected_calibration_error(old, y), nll=nll(probs, y),
               nll_margin_temperature=nll(old, y), confidence=float(probs.max(axis=1).mean()),
               confidence_spread=float(probs.max(axis=1).std()))
    if num_classes > PUBLISHED_TOP + 1:
        pred, true = published_range(probs, y)
        out["counts_0_5"] = classification_metrics(true, pred, PUBLISHED_TOP + 1)
    return out


def calibrate(svm: TorchSVM, X_val: np.ndarray, y_val: np.ndarray, val_bins: Sequence[str], seed: int
              ) -> tuple[float, dict[str, Any]]:
    """Fit the decision-value calibrator on val (penalty cross-validated by bin); also the old method's
    temperature, for the report's comparison. Returns (that temperature, the report's "calibration")."""
    known, target = svm.class_index(y_val)
    margin_t = fit_temperature(svm.margin_probabilities(X_val[known]), target)
    svm.calibrate(X_val, y_val, groups=val_bins, seed=seed)
    return margin_t, {**svm.calibration_info, "fitted_on": "val", "margin_temperature": margin_t}


def store_out_of_fold(s: Session, X: dict[str, np.ndarray], y: dict[str, np.ndarray], bin_of: dict[str, str],
                      cfg: SVMConfig, params: tuple[float, Any], calibrated: TorchSVM, stop: StopFlag
                      ) -> tuple[dict[str, Any], CrossFit]:
    """Out-of-fold probabilities of every labelled photo into the store; returns their figures for the report
    and the training split's share, which the model file keeps as its cross-fitted predictions."""
    num_classes = cfg.max_count + 1
    ids = s.sets["train"].ids + s.sets["val"].ids + s.sets["test"].ids
    Xa = np.concatenate([X["train"], X["val"], X["test"]])
    ya = np.concatenate([y["train"], y["val"], y["test"]])
    oof, fold_of = out_of_fold(Xa, ya, [bin_of.get(i, i) for i in ids], cfg, params[0], params[1], calibrated,
                               num_classes, s.stream.emit, stop)
    s.store.write_oof(s.run_id, [(i, int(g), p.tolist()) for i, g, p in zip(ids, ya, oof)])
    figures = classification_metrics(ya, oof.argmax(1), num_classes)
    n_train = len(s.sets["train"].ids)
    train = CrossFit(list(ids[:n_train]), oof[:n_train], fold_of[:n_train], int(fold_of.max()))
    return {"folds": cfg.folds, "n": len(ids), "accuracy": figures["accuracy"], "rmse": figures["rmse"],
            "ece": expected_calibration_error(oof, ya)}, train


def train_svm(session: Session, cfg: SVMConfig, stop: StopFlag) -> int:
    """The whole run; returns the exit code. The session's labels are loaded and its run started."""
    s, num_classes = session, cfg.max_count + 1
    emit = s.stream.emit
    spec = cfg.features()
    sets = s.sets
    X, y = {}, {}
    for name in ("train", "val", "test"):
        X[name] = extract_features(sets[name].paths, spec, cfg.workers, should_stop=lambda: bool(stop),
                                   progress=lambda d, t, n=name: s.stream.progress(f"features {n}", d, t))
        y[name] = sets[name].labels
    C, gamma, search_info = cfg.C, cfg.gamma_value(), {}
    bin_of = s.store.bin_keys()
    if cfg.search:
        C, gamma, search_info = search(X["train"], y["train"], cfg, [bin_of.get(i, i) for i in sets["train"].ids])
        emit("progress", stage="search", done=1, total=1, best={"C": C, "gamma": gamma, **search_info})
    started = time.perf_counter()
    pipe = _fit(X["train"], y["train"], cfg, C, gamma)
    svm = TorchSVM.from_pipeline(pipe)
    margin_t, calibration = calibrate(svm, X["val"], y["val"], [bin_of.get(i, i) for i in sets["val"].ids], cfg.seed)
    fit_seconds = time.perf_counter() - started
    emit("progress", stage="fit", done=1, total=1, seconds=round(fit_seconds, 2), calibration=calibration["method"],
         l2=calibration["l2"])
    report: dict[str, Any] = {"title": f"SVM run {s.run_id}", "recipe": f"svm-{cfg.kernel}", "config": asdict(cfg),
                              "label_snapshot": s.label_snapshot, "C": C, "gamma": gamma, "search": search_info,
                              "calibration": calibration, "fit_seconds": fit_seconds,
                              "images": s.summary(num_classes)}
    for name in ("val", "test"):
        if len(y[name]):
            report[name] = split_figures(svm, X[name], y[name], num_classes, margin_t)
            calibration.update({f"{name}_{k}": report[name][k] for k in ("ece", "ece_uncalibrated",
                                                                         "ece_margin_temperature")})
    cross_fit = None
    if cfg.folds:
        report["oof"], cross_fit = store_out_of_fold(s, X, y, bin_of, cfg, (C, gamma), svm, stop)
    metrics = summary_metrics(report)
    manifest = modelfiles.save_svm(svm, spec, s.run_dir / "model" / f"svm-run{s.run_id}",
                                   classes=list(range(num_classes)), training_run=s.run_id, metrics=metrics,
                                   calibration=calibration, or_more=cfg.or_more)
    if cross_fit is not None:
        cross_fit.save(manifest, "SVM: k models (folds by bin over the labelled photos), each scoring the bins "
                                 "it did not train on; decision values through the run's calibrator")
    model_id = modelfiles.register_model_file(s.store, manifest, run_id=s.run_id, label_snapshot=s.label_snapshot,
                                              name=f"SVM {cfg.kernel} PCA{cfg.pca} {cfg.size}px (run {s.run_id})")
    report.update(model_id=model_id, metrics=metrics, wall_seconds=round(time.time() - s.started, 1))
    write_report(s.run_dir, report, [])
    log.info("SVM run %s: %s accuracy %.3f, RMSE %.3f; model %s registered (not activated)", s.run_id,
             metrics["split"], metrics["accuracy"], metrics["rmse"], model_id)
    return s.finished(model_id, metrics)


def prepare_svm_session(session: Session, cfg: SVMConfig) -> None:
    """Freeze the labels and start the run row and directory with cfg as its config."""
    session.begin_run("svm", f"svm-{cfg.kernel}", asdict(cfg), cfg.split, cfg.max_count, cfg.or_more)


def run_svm(scope: RunScope, db: str, cfg: SVMConfig) -> int:
    """`python -m training svm`: open the workspace, start the run, announce it and train (inside guarded_run)."""
    session = scope.open(db)
    prepare_svm_session(session, cfg)
    session.emit_started("svm", f"svm-{cfg.kernel}", asdict(cfg), cfg.max_count + 1, device="cpu", pid=os.getpid())
    return train_svm(session, cfg, scope.stop)


