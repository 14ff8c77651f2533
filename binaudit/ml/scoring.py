"""Batch scoring: every image of a workspace through one registered model, predictions into the store.

Decoding and preprocessing run in DataLoader worker processes; the model runs in this process; a
writer thread computes the ranking scores and writes each batch to the store, so neither the
input pipeline nor the database holds the model back. Resumable: images the model already scored
are skipped unless force=True. Unreadable images are counted and skipped, never fatal.

Photos the model trained on are not run through it: its run stored cross-fitted predictions for them
(binaudit.ml.crossfit, from fold models that never saw their bins), and those are stored instead, with
source 'oof', so the queue and the label-issue scores never judge a bin by a model that learned its record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.labels import NOT_TRAINABLE
from binaudit.core.progress import CancelCallback, ProgressCallback, report
from binaudit.core.ranking import class_thresholds, expected_counts, label_issue_scores, mismatch_scores
from binaudit.core.store import PredictionRow

from .crossfit import load_cross_fit
from .device import choose_device
from .modelfiles import CountModel, load_registered, registered_path
from .preprocess import ImageDecodeError, decode_image

MAX_PENDING_WRITES = 2


@dataclass
class ScoreSummary:
    """What a scoring run did."""

    model_id: int
    device: str = "cpu"
    total: int = 0           # images asked for
    already_scored: int = 0  # skipped because the model had scored them before
    scored: int = 0
    cross_fitted: int = 0    # of those, stored from the model's cross-fitted (out-of-fold) predictions
    errors: int = 0
    error_messages: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def images_per_s(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        text = (f"model {self.model_id} on {self.device}: {self.scored} scored ({self.cross_fitted} out-of-fold), "
                f"{self.already_scored} already scored, "
                f"{self.errors} unreadable, {self.seconds:.1f} s ({self.images_per_s:.1f} images/s)")
        return text + (" - cancelled" if self.cancelled else "")


# ---------------------------------------------------------------- input pipeline

class ImageDataset(Dataset):
    """(position, model input or None, error message) per image; decode failures do not raise."""

    def __init__(self, paths: Sequence[str | None], transform: Callable[[Any], torch.Tensor]):
        self.paths, self.transform = list(paths), transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, str]:
        path = self.paths[i]
        if not path:
            return i, None, "no image file recorded"
        try:
            return i, self.transform(decode_image(path)), ""
        except ImageDecodeError as exc:
            return i, None, str(exc)
        except Exception as exc:  # a transform failing on a strange image must not stop the run
            return i, None, f"{path}: preprocessing failed ({type(exc).__name__}: {exc})"


def collate_scored(items: list[tuple[int, torch.Tensor | None, str]]
                   ) -> tuple[list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """Stack the readable images; pass the failures through as (position, message)."""
    ok = [(i, x) for i, x, _ in items if x is not None]
    bad = [(i, msg) for i, x, msg in items if x is None]
    batch = torch.stack([x for _, x in ok]) if ok else None
    return [i for i, _ in ok], batch, bad


def make_loader(paths: Sequence[str | None], model: CountModel, batch_size: int, num_workers: int,
                pin_memory: bool = False) -> DataLoader:
    """The DataLoader that feeds a model: worker processes decode and preprocess in order."""
    return DataLoader(ImageDataset(paths, model.transform), batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, collate_fn=collate_scored, pin_memory=pin_memory,
                      prefetch_factor=4 if num_workers > 0 else None, persistent_workers=False)


# ---------------------------------------------------------------- results to the store

def _nan_if_none(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _none_if_nan(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def top_or_more(manifest: Any) -> int | None:
    """The top class of a model whose last class means "that many or more" (trained with --or-more), else None."""
    if isinstance(manifest, dict) and manifest.get("top_class_or_more") and manifest.get("classes"):
        return int(max(manifest["classes"]))
    return None


def clip_to_top(counts: np.ndarray, top: int | None) -> np.ndarray:
    """Counts as such a model sees them: anything at or above its top class is that class (NaN stays NaN)."""
    if top is None:
        return counts
    return np.where(np.isnan(counts), counts, np.minimum(counts, top))


def recorded_counts(store: Any, image_ids: Sequence[str]) -> np.ndarray:
    """Recorded counts (NaN where unknown), read in bulk."""
    columns = store.label_columns(image_ids)
    return np.array([_nan_if_none(columns.get(i, (None,))[0]) for i in image_ids], dtype=np.float64)


def prediction_rows(image_ids: Sequence[str], counts: np.ndarray, probs: np.ndarray,
                    recorded: np.ndarray, source: str = "model") -> list[PredictionRow]:
    """PredictionRows with expected count, confidence and mismatch scores; label issues come later."""
    mm = mismatch_scores(probs, recorded)
    expected = expected_counts(probs)
    conf = probs.max(axis=1)
    return [PredictionRow(image_id=i, predicted=int(counts[n]), probs=probs[n].tolist(),
                          expected=float(expected[n]), confidence=float(conf[n]),
                          p_differs=_none_if_nan(mm["p_differs"][n]), mismatch=_none_if_nan(mm["score"][n]),
                          source=source)
            for n, i in enumerate(image_ids)]


class _Writer:
    """Computes ranking scores and writes batches on one background thread, a bounded number ahead."""

    def __init__(self, store: Any, model_id: int, top: int | None = None):
        self.store, self.model_id, self.top = store, model_id, top
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-writer")
        self.pending: list[Future] = []

    def submit(self, image_ids: list[str], counts: np.ndarray, probs: np.ndarray) -> None:
        while len(self.pending) >= MAX_PENDING_WRITES:
            self.pending.pop(0).result()
        self.pending.append(self.pool.submit(self._write, image_ids, counts, probs))

    def _write(self, image_ids: list[str], counts: np.ndarray, probs: np.ndarray, source: str = "model") -> None:
        rows = prediction_rows(image_ids, counts, probs, clip_to_top(recorded_counts(self.store, image_ids), self.top),
                               source)
        self.store.write_predictions(self.model_id, rows)

    def close(self) -> None:
        try:
            for f in self.pending:
                f.result()
        finally:
            self.pool.shutdown(wait=True)


# ---------------------------------------------------------------- the run

def images_to_score(store: Any, model_id: int, image_ids: Sequence[str] | None, force: bool
                    ) -> tuple[list[str], int, int]:
    """(ids still to score, total asked for, how many were already scored)."""
    ids = list(image_ids) if image_ids is not None else store.image_ids(status=IMAGE_USABLE_STATUSES)
    if force:
        return ids, len(ids), 0
    done = store.scored_image_ids(model_id)
    todo = [i for i in ids if i not in done]
    return todo, len(ids), len(ids) - len(todo)


def score_images(store: Any, model_id: int, *, device: str | None = "auto", batch_size: int = 64,
                 num_workers: int = 2, force: bool = False, image_ids: Sequence[str] | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelCallback | None = None,
                 model: CountModel | None = None) -> ScoreSummary:
    """Score the images (all usable ones by default) with a registered model and store the predictions.

    Returns a ScoreSummary; cancel() returning True stops after the current batch (what was scored
    stays stored, and the next run resumes). Label-issue scores are recomputed for the whole model
    at the end, since their per-class thresholds depend on all its predictions.
    """
    start = time.perf_counter()
    dev = choose_device(device)
    model = model if model is not None else load_registered(store, model_id, device=dev)
    model.to(dev)
    todo, total, already = images_to_score(store, model_id, image_ids, force)
    summary = ScoreSummary(model_id, str(dev), total=total, already_scored=already)
    report(progress, 0, len(todo))
    covered = cross_fitted_predictions(store, model_id, model)
    rest = [i for i in todo if i not in covered]
    if len(rest) < len(todo):
        write_cross_fitted(store, model_id, model, [i for i in todo if i in covered], covered)
        summary.scored = summary.cross_fitted = len(todo) - len(rest)
        report(progress, summary.scored, len(todo))
    if rest:
        _run(store, model_id, model, rest, summary, batch_size, num_workers, dev, progress, cancel, len(todo))
    if todo:
        refresh_label_issues(store, model_id)
    summary.seconds = time.perf_counter() - start
    return summary


def cross_fitted_predictions(store: Any, model_id: int, model: CountModel) -> dict[str, np.ndarray]:
    """{image id: out-of-fold probabilities} the model's run stored with it (empty if none), checked against
    the sha256 recorded at registration."""
    record = store.get_model(model_id)
    manifest = (record or {}).get("manifest") or {}
    if not manifest.get("cross_fit"):
        return {}
    return load_cross_fit(manifest, registered_path(store, record).parent, len(model.classes))


def write_cross_fitted(store: Any, model_id: int, model: CountModel, ids: list[str],
                       covered: dict[str, np.ndarray]) -> None:
    """Store the cross-fitted predictions of these photos (source 'oof'); the count is their most likely class."""
    probs = np.array([covered[i] for i in ids], dtype=np.float64)
    counts = np.asarray(model.classes)[probs.argmax(axis=1)]
    top = top_or_more(getattr(model, "manifest", None))
    for start in range(0, len(ids), 2000):
        part = slice(start, start + 2000)
        rows = prediction_rows(ids[part], counts[part], probs[part],
                               clip_to_top(recorded_counts(store, ids[part]), top), source="oof")
        store.write_predictions(model_id, rows)


def _run(store: Any, model_id: int, model: CountModel, todo: list[str], summary: ScoreSummary, batch_size: int,
         num_workers: int, dev: torch.device, progress: ProgressCallback | None,
         cancel: CancelCallback | None, total: int) -> None:
    paths = store.image_paths(todo)
    loader = make_loader([paths.get(i) for i in todo], model, batch_size, num_workers, dev.type == "cuda")
    writer = _Writer(store, model_id, top_or_more(getattr(model, "manifest", None)))
    done = 0
    try:
        for positions, batch, failures in loader:
            for pos, msg in failures:
                summary.error_messages[todo[pos]] = msg
            if batch is not None:
                counts, probs = model.forward_batch(batch)
                writer.submit([todo[p] for p in positions], counts, probs)
                summary.scored += len(positions)
            done += len(positions) + len(failures)
            report(progress, total - len(todo) + done, total)
            if cancel is not None and cancel():
                summary.cancelled = True
                break
    finally:
        writer.close()
        summary.errors = len(summary.error_messages)


def refresh_label_issues(store: Any, model_id: int) -> int:
    """Recompute p_differs, mismatch and label-issue scores of all the model's predictions; returns rows.

    Label issues compare the model's probabilities with the effective labels (curators' corrections
    included), with confident-learning thresholds taken over all of them. The stored probabilities of
    the photos the model trained on are its cross-fitted ones (source 'oof'); for a model saved without
    them, the out-of-fold probabilities its own run stored (if any) stand in for its in-sample ones.
    """
    preds = store.predictions(model_id)
    if not preds:
        return 0
    ids = [p["image_id"] for p in preds]
    probs = np.array([p["probs"] for p in preds], dtype=np.float64)
    record = store.get_model(model_id) if hasattr(store, "get_model") else None
    top = top_or_more((record or {}).get("manifest"))
    recorded, given = (clip_to_top(c, top) for c in _labels(store, ids))
    issue_probs = _with_run_oof(store, record, preds, probs)
    mm = mismatch_scores(probs, recorded)
    li = label_issue_scores(issue_probs, given, thresholds=class_thresholds(issue_probs, given))
    store.update_scores(model_id, [(i, _none_if_nan(mm["p_differs"][n]), _none_if_nan(mm["score"][n]),
                                    _none_if_nan(li["score"][n])) for n, i in enumerate(ids)])
    return len(ids)


def _labels(store: Any, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(recorded counts, effective labels) with NaN for unknown, uncountable or excluded photos."""
    recorded, given = np.full(len(ids), np.nan), np.full(len(ids), np.nan)
    columns = store.label_columns(ids)
    for n, image_id in enumerate(ids):
        recorded_count, effective, status = columns.get(image_id, (None, None, None))
        recorded[n] = _nan_if_none(recorded_count)
        if status not in NOT_TRAINABLE:
            given[n] = _nan_if_none(effective)
    return recorded, given


def _with_run_oof(store: Any, record: dict | None, preds: list[dict], probs: np.ndarray) -> np.ndarray:
    """probs, with the model's own run's out-of-fold probabilities for rows the model itself scored (older
    models, saved without cross-fitted predictions); rows already 'oof' stay as they are."""
    run_id = (record or {}).get("run_id")
    if run_id is None or not hasattr(store, "run_oof") or ((record or {}).get("manifest") or {}).get("cross_fit"):
        return probs
    oof = store.run_oof(run_id)
    out = probs.copy()
    for n, p in enumerate(preds):
        alt = oof.get(p["image_id"])
        if p.get("source", "model") == "model" and alt is not None and len(alt) == probs.shape[1]:
            out[n] = alt
    return out
