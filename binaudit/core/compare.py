"""Model comparison and chart maths (numpy, no Qt, no torch); the count metrics themselves are core.metrics.

`compare_models(store, new_id, old_id)` evaluates two registered models on the same validation images
(the new run's frozen val split, else the store's val split) against the *current* effective labels,
so a curator's corrections count, and lists the images whose prediction flipped. The store is read
only through its API; predictions must already be stored (score the images first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.core.formatting import fmt_num, fmt_pct
from binaudit.core.metrics import accuracy_and_rmse, confusion_matrix, per_class_accuracy

FIXED, BROKEN, CHANGED = "fixed", "broken", "changed"


# ---------------------------------------------------------------- chart maths

def count_distribution(recorded: np.ndarray, predicted: np.ndarray, max_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Histograms over 0..max_count (the last bin holds max_count or more) of recorded and predicted counts.

    Negative values mean unknown / not scored and are left out.
    """
    def hist(values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, np.int64)
        v = np.minimum(v[v >= 0], max_count)
        return np.bincount(v, minlength=max_count + 1)[: max_count + 1]

    return hist(recorded), hist(predicted)


def label_vs_predicted(effective: np.ndarray, predicted: np.ndarray, usable: np.ndarray,
                       classes: Sequence[int]) -> np.ndarray:
    """Confusion of the effective labels (rows) against a model's predictions (columns) over usable rows.

    Labels above the model's largest class are counted in the top class (the model cannot say more).
    """
    k = len(classes) if classes else 6
    top = (max(classes) if classes else 5)
    eff = np.asarray(effective, np.int64)
    keep = np.asarray(usable, bool) & (eff >= 0) & (np.asarray(predicted) >= 0)
    return confusion_matrix(np.minimum(eff[keep], top), np.asarray(predicted, np.int64)[keep], k)


# ---------------------------------------------------------------- evaluations

@dataclass
class Evaluation:
    """One model on the compared images."""

    model_id: int | None
    name: str
    n: int
    accuracy: float
    rmse: float
    confusion: np.ndarray
    per_class: np.ndarray            # accuracy per class (NaN where no support)
    support: np.ndarray
    predicted: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, model_id: int | None, name: str, ids: Sequence[str], labels: np.ndarray,
           predicted: dict[str, int], n_classes: int) -> Evaluation:
        pred = np.array([predicted[i] for i in ids], np.int64)
        acc, rmse = accuracy_and_rmse(labels, pred)
        cm = confusion_matrix(labels, pred, n_classes)
        return cls(model_id, name, len(ids), acc, rmse, cm, per_class_accuracy(cm), cm.sum(axis=1), dict(predicted))


@dataclass(frozen=True)
class Flip:
    """An image whose predicted count differs between the two models."""

    image_id: str
    label: int
    old: int
    new: int

    @property
    def outcome(self) -> str:
        if self.new == self.label:
            return FIXED
        if self.old == self.label:
            return BROKEN
        return CHANGED


@dataclass
class Comparison:
    """The new model against the old one (None when no model of that kind is active) on the same images."""

    classes: list[int]
    image_ids: list[str]
    labels: np.ndarray
    new: Evaluation
    old: Evaluation | None
    flips: list[Flip]
    source: str                       # where the image list came from (for the view's caption)
    left_out: int = 0                 # val images without a usable label or a prediction

    def counts(self) -> dict[str, int]:
        out = {FIXED: 0, BROKEN: 0, CHANGED: 0}
        for f in self.flips:
            out[f.outcome] += 1
        return out

    def summary(self) -> str:
        text = f"{self.new.name}: accuracy {fmt_pct(self.new.accuracy)}, RMSE {fmt_num(self.new.rmse)}"
        if self.old is not None:
            c = self.counts()
            text += (f"; {self.old.name}: {fmt_pct(self.old.accuracy)}, RMSE {fmt_num(self.old.rmse)}; "
                     f"{len(self.flips)} flipped ({c[FIXED]} fixed, {c[BROKEN]} broken)")
        return text + f" on {len(self.image_ids)} validation images"


# ---------------------------------------------------------------- reading the store

def model_name(model: dict[str, Any]) -> str:
    return f"#{model['id']} {model.get('name') or model.get('architecture') or model.get('kind')}"


def _run_of(store: Any, model: dict[str, Any]) -> dict[str, Any] | None:
    run_id = model.get("run_id")
    return store.get_run(int(run_id)) if run_id is not None else None


def validation_images(store: Any, model: dict[str, Any]) -> tuple[list[str], str]:
    """The model's validation images: its run's frozen val split (labels.json), else the store's val split."""
    run = _run_of(store, model)
    if run and run.get("run_dir"):
        path = Path(run["run_dir"]) / "labels.json"
        try:
            ids = json.loads(path.read_text())["val"]["ids"]
            if ids:
                return [str(i) for i in ids], f"the val split of run {run['id']}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return store.image_ids(split="val"), "the workspace's val split"


def _or_more(store: Any, model: dict[str, Any]) -> bool:
    run = _run_of(store, model)
    config = (run or {}).get("config") or {}
    return bool(config.get("or_more", False)) if isinstance(config, dict) else False


def current_labels(store: Any, ids: Sequence[str], classes: Sequence[int], or_more: bool) -> dict[str, int]:
    """Effective labels of the trainable images among ids, mapped into the model's classes."""
    wanted, top = set(ids), max(classes)
    out: dict[str, int] = {}
    for image_id, _path, count in store.training_labels():
        if image_id in wanted:
            if count <= top:
                out[image_id] = int(count)
            elif or_more:
                out[image_id] = int(top)
    return out


def stored_predictions(store: Any, model_id: int, ids: Sequence[str]) -> dict[str, int]:
    return {r["image_id"]: int(r["predicted"]) for r in store.predictions(model_id, list(ids))}


def missing_predictions(store: Any, model_id: int, ids: Sequence[str]) -> list[str]:
    """Which of ids the model has not scored yet."""
    done = set(stored_predictions(store, model_id, ids))
    return [i for i in ids if i not in done]


def compare_models(store: Any, new_id: int, old_id: int | None,
                   image_ids: Sequence[str] | None = None) -> Comparison:
    """Evaluate new (and old) on the same images: see the module docstring. Raises KeyError for unknown models."""
    new = store.get_model(new_id)
    if new is None:
        raise KeyError(f"no model {new_id} in this workspace")
    old = store.get_model(old_id) if old_id is not None else None
    classes = [int(c) for c in new.get("classes") or range(6)]
    if image_ids is None:
        ids, source = validation_images(store, new)
    else:
        ids, source = list(image_ids), "the given images"
    truth = current_labels(store, ids, classes, _or_more(store, new))
    new_pred = stored_predictions(store, new_id, ids)
    old_pred = stored_predictions(store, int(old["id"]), ids) if old else {}
    used = [i for i in ids if i in truth and i in new_pred and (old is None or i in old_pred)]
    labels = np.array([truth[i] for i in used], np.int64)
    k = len(classes)
    new_eval = Evaluation.of(new_id, model_name(new), used, labels, {i: new_pred[i] for i in used}, k)
    old_eval = (Evaluation.of(int(old["id"]), model_name(old), used, labels, {i: old_pred[i] for i in used}, k)
                if old else None)
    flips = ([Flip(i, int(truth[i]), old_pred[i], new_pred[i]) for i in used if old_pred[i] != new_pred[i]]
             if old else [])
    flips.sort(key=lambda f: ({FIXED: 0, BROKEN: 1, CHANGED: 2}[f.outcome], f.image_id))
    return Comparison(classes, used, labels, new_eval, old_eval, flips, source, left_out=len(ids) - len(used))
