"""Cross-fitting shared by the training runs: folds by bin, and the out-of-fold predictions a model file keeps.

A model scores the photos it trained on from memory; the run therefore also trains k fold models, each on
the other folds' bins, and keeps what each predicts for the bins it did not see (binaudit.ml.crossfit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.core.calibration import fit_temperature

from .data import LabelSet
from .runs import load_best
from .stream import Stopped, TrainingFailed


@dataclass
class CrossFit:
    """Out-of-fold probabilities of the photos a model trained on, and the fold that held each out."""

    image_ids: list[str]
    probs: np.ndarray
    fold_of: np.ndarray
    folds: int

    def save(self, manifest: Path, method: str) -> Path:
        """Write them beside the saved model and name them in its manifest (before it is registered)."""
        from binaudit.ml.crossfit import save_cross_fit
        return save_cross_fit(manifest, self.image_ids, self.probs, self.fold_of, self.folds, method)


def bin_folds(image_ids: Sequence[str], bin_of: dict[str, str], k: int, seed: int) -> np.ndarray:
    """A fold number 1..k per image; every photo of a bin shares its fold, bins dealt round a shuffled order."""
    keys = [bin_of.get(i, i) for i in image_ids]
    unique = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_bin = {b: int(order[n] % k) + 1 for n, b in enumerate(unique)}
    return np.array([fold_of_bin[b] for b in keys], dtype=np.int64)


# ---------------------------------------------------------------- ResNet: k fold runs inside the run

class _FoldStream:
    """The run's stream, every event tagged with the fold it comes from."""

    def __init__(self, stream: Any, fold: int, folds: int):
        self._stream, self._tags = stream, {"fold": fold, "folds": folds}

    def emit(self, event: str, **fields: Any) -> None:
        self._stream.emit(event, **{**fields, **self._tags})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _FoldSession:
    """The run's session as one fold run sees it: its own label sets, directory and tagged stream."""

    def __init__(self, session: Any, sets: dict[str, LabelSet], fold: int, folds: int):
        self._session, self.sets = session, sets
        self.run_dir = session.run_dir / f"fold-{fold}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stream = _FoldStream(session.stream, fold, folds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _subset(labels: LabelSet, keep: np.ndarray) -> LabelSet:
    index = np.flatnonzero(keep)
    return LabelSet([labels.ids[k] for k in index], [labels.paths[k] for k in index], labels.labels[index])


def resnet_cross_fit(session: Any, recipe: Any, stop: Any, dist: Any, make_run: Callable[..., Any]) -> CrossFit:
    """Train recipe.cross_fit fold models (each on the other folds' training bins, validated on val) and keep
    each one's temperature-calibrated probabilities for the bins it held out. A finished fold's predictions
    are kept in its folder (fold-K/held_out.npz), so a resumed run trains only the folds still missing.
    make_run(session, recipe, stop, dist) builds a ResNetRun (passed in: resnet_train imports this module)."""
    if dist.enabled:
        raise TrainingFailed("--cross-fit runs in one process; start the run without torchrun")
    train, k = session.sets["train"], int(recipe.cross_fit)
    fold_of = bin_folds(train.ids, session.store.bin_keys(), k, recipe.seed)
    probs = np.zeros((len(train.ids), recipe.max_count + 1))
    for fold in range(1, k + 1):
        held = fold_of == fold
        probs[held] = _fold_predictions(session, recipe, stop, dist, make_run, train, held, (fold, k))
    return CrossFit(list(train.ids), probs, fold_of, k)


def _fold_predictions(session: Any, recipe: Any, stop: Any, dist: Any, make_run: Callable[..., Any],
                      train: LabelSet, held: np.ndarray, which: tuple[int, int]) -> np.ndarray:
    """One fold model's calibrated probabilities for its held-out photos (trained now or read back)."""
    fold, folds = which
    sets = {"train": _subset(train, ~held), "val": session.sets["val"], "test": _subset(train, held)}
    view = _FoldSession(session, sets, fold, folds)
    done = view.run_dir / "held_out.npz"
    if done.is_file():
        with np.load(done, allow_pickle=False) as saved:
            if list(saved["image_ids"]) == sets["test"].ids:
                return saved["probs"]
    view.stream.emit("progress", stage="cross-fit", done=fold - 1, total=folds)
    run = make_run(view, dataclasses.replace(recipe, find_lr=False), stop, dist)
    for index in range(len(run.stages)):
        outcome = run.run_stage(index)
        if outcome == "cancelled":
            raise Stopped()
        if outcome == "early-stop-last":
            break
    run.model.load_state_dict(load_best(view.run_dir))
    size = int(run.progress.best["input_size"])
    val = run.evaluate_split("val", size, recipe.tta, keep_probs=True)
    temperature = fit_temperature(val["probs"], val["labels"]) if val is not None else 1.0
    out = run.evaluate_split("test", size, recipe.tta, temperature=temperature, keep_probs=True)
    probs = np.asarray(out["probs"], dtype=np.float64)  # already divided by the temperature
    if len(probs) != len(sets["test"].ids):
        raise TrainingFailed(f"fold {fold}: {len(sets['test'].ids) - len(probs)} held-out photo(s) could not be "
                             "read, so their cross-fitted predictions are missing; fix or exclude them")
    np.savez(done, image_ids=np.asarray(sets["test"].ids, dtype=str), probs=probs)
    view.stream.emit("progress", stage="cross-fit", done=fold, total=folds, temperature=temperature)
    return probs
