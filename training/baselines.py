"""The classic baselines of the published work: logistic regression, decision tree (Gini), LinearSVC,
NuSVC and SVC (RBF, polynomial) on raw pixels, PCA (randomized), HOG and LoG blob features, each with a
cross-validated parameter search on the training split, scored per class on the held-out split.

Small grids by default (minutes on a laptop); published_grids uses the grids of the published search
(ten-fold, C up to 1e4 / 1e12, nu down to 1e-6), which takes hours at 224 px. Features are standardised
first, so the published gamma values (meant for raw 0-255 pixels) are joined by gamma="scale".
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC, NuSVC
from sklearn.tree import DecisionTreeClassifier

from binaudit.core.metrics import classification_metrics
from binaudit.core.store import Store

from .baselines_config import FEATURES, METHODS, BaselineConfig
from .data import check_trainable, load_label_sets
from .features import extract_features
from .stream import TrainingFailed

log = logging.getLogger("training")


def _linsvc_grid(cs: list[float], cs_crammer: list[float]) -> list[dict]:
    """Valid LinearSVC combinations: l2 hinge / l2 squared hinge / l1 squared hinge (ovr), and Crammer-Singer
    (whose solver slows down sharply with C: about a minute per fit at C=10 on 1,200 photos)."""
    return [{"clf__penalty": ["l2"], "clf__loss": ["hinge"], "clf__dual": [True], "clf__C": cs},
            {"clf__penalty": ["l2", "l1"], "clf__loss": ["squared_hinge"], "clf__dual": [False], "clf__C": cs},
            {"clf__multi_class": ["crammer_singer"], "clf__C": cs_crammer}]


def method_grid(method: str, published: bool) -> tuple[Any, Any]:
    """(estimator, parameter grid) for a method; small grids unless published."""
    if method == "logreg":
        return LogisticRegression(max_iter=300), {"clf__C": [0.01, 0.1, 1.0] if published else [0.1, 1.0]}
    if method == "tree":
        return DecisionTreeClassifier(criterion="gini", random_state=0), {
            "clf__max_depth": [None, 5, 10, 20] if published else [None, 8]}
    if method == "linsvc":
        cs = [1.0, 10.0, 100.0, 1e3, 1e4] if published else [0.1, 1.0]
        return LinearSVC(max_iter=5000 if published else 1000, random_state=0), _linsvc_grid(cs, cs if published else [0.1])
    if method == "nusvc":
        return NuSVC(), {"clf__nu": [1e-6, 1e-4, 1e-2, 0.1, 0.3] if published else [0.1, 0.3]}
    if method == "svc-rbf":
        cs = [1e-9, 1e-6, 1e-3, 1.0, 1e2, 1e3, 1e6, 1e9, 1e12] if published else [1.0, 10.0]
        gammas = ["scale", 1e-11, 1e-10, 1e-7] if published else ["scale"]
        return SVC(kernel="rbf"), {"clf__C": cs, "clf__gamma": gammas}
    if method == "svc-poly":
        return SVC(kernel="poly"), {"clf__C": [1.0, 10.0, 100.0] if published else [1.0],
                                    "clf__degree": [2, 3]}
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def build_pipeline(method: str, feature: str, pca_components: int, n: int, published: bool
                   ) -> tuple[Pipeline, Any]:
    estimator, grid = method_grid(method, published)
    steps: list = [("scale", StandardScaler())]
    if feature == "pca":
        # whitened components: unit variance keeps liblinear's solvers and the RBF gamma well conditioned
        steps.append(("pca", PCA(n_components=max(2, min(pca_components, int(0.6 * n))), svd_solver="randomized",
                                 whiten=True, random_state=0)))
    steps.append(("clf", estimator))
    return Pipeline(steps), grid


def feature_matrices(sets: dict, cfg: BaselineConfig, needed: set[str]) -> dict[str, dict[str, np.ndarray]]:
    """{feature: {split: X}}; PCA shares the raw pixels (the projection is fitted inside the pipeline)."""
    specs = cfg.feature_specs()
    pixel_dim = 3 * cfg.size * cfg.size
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in sorted({"pixels" if f == "pca" else f for f in needed}):
        out[name] = {}
        for split in ("train", cfg.eval_split):
            log.info("features %s (%s, %d images)", name, split, len(sets[split]))
            X = extract_features(sets[split].paths, specs[name], workers=cfg.workers)
            out[name][split] = X if name == "pixels" else X[:, pixel_dim:]  # hog/blobs alone, as published
    if "pca" in needed:
        out["pca"] = out["pixels"]
    return out


def needed_features(columns: tuple[str, ...]) -> set[str]:
    """The features the METHOD:FEATURE columns use; ValueError for an unknown one."""
    needed = {c.split(":")[1] for c in columns}
    if needed - set(FEATURES):
        raise ValueError(f"unknown features {sorted(needed - set(FEATURES))}; choose from {FEATURES}")
    return needed


def search_folds(cfg: BaselineConfig, y_train: np.ndarray) -> int:
    """Folds of the search: as configured (3, or 10 for the published grids), at most the rarest class's size."""
    folds = cfg.cv or (10 if cfg.published_grids else 3)
    return max(2, min(folds, int(np.bincount(y_train)[np.bincount(y_train) > 0].min())))


def fit_column(column: str, feats: dict[str, dict[str, np.ndarray]], y_train: np.ndarray, y_eval: np.ndarray,
               folds: int, cfg: BaselineConfig) -> dict[str, Any]:
    """One METHOD:FEATURE column: the search on train, then per-class metrics on the evaluation split."""
    method, feature = column.split(":")
    started = time.perf_counter()
    pipe, grid = build_pipeline(method, feature, cfg.pca, len(y_train), cfg.published_grids)
    search = GridSearchCV(pipe, grid, cv=folds, n_jobs=1, error_score=np.nan)
    search.fit(feats[feature]["train"].astype(np.float64), y_train)
    pred = search.predict(feats[feature][cfg.eval_split].astype(np.float64))
    result = {**classification_metrics(y_eval, pred, cfg.num_classes),
              "best_params": {k: str(v) for k, v in search.best_params_.items()},
              "cv_accuracy": float(search.best_score_), "seconds": time.perf_counter() - started}
    log.info("%-16s %s accuracy %.3f (cv %.3f, %s) %.1fs", column, cfg.eval_split,
             result["accuracy"], search.best_score_, search.best_params_, result["seconds"])
    return result


def run_baselines(store: Store, cfg: BaselineConfig) -> dict[str, dict[str, Any]]:
    """Fit every column's search on train; per-class metrics on the evaluation split."""
    sets = load_label_sets(store, cfg.split, cfg.max_count, cfg.or_more)
    check_trainable(sets, cfg.num_classes)
    if not len(sets[cfg.eval_split]):
        raise TrainingFailed(f"the {cfg.eval_split} split is empty; use --eval-split val or other --split ratios")
    feats = feature_matrices(sets, cfg, needed_features(cfg.columns))
    y_train, y_eval = sets["train"].labels, sets[cfg.eval_split].labels
    folds = search_folds(cfg, y_train)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # liblinear at small max_iter; the score says enough
    results: dict[str, dict[str, Any]] = {}
    for column in cfg.columns:
        results[column] = fit_column(column, feats, y_train, y_eval, folds, cfg)
    return results
