"""Model work in the background: score the validation images for a comparison, and activate a model.

Activation scores every image with the new model first and switches the active model only when
all predictions are stored, so the browser keeps showing the old predictions until the new ones
are complete (and a cancelled activation leaves the old model active; its scores are kept and the
next activation resumes). Jobs run on their own one-thread pool so they never starve the browser's
index loading; torch is imported there, never at the app's start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from binaudit.core.compare import Comparison, compare_models, missing_predictions, validation_images
from binaudit.core.progress import Cancelled
from binaudit.core.store import Store
from binaudit.gui.common import workers

Progress = Callable[[int, int], None]


def prepare_comparison(db_path: str, new_id: int, old_id: int | None, device: str,
                       progress: Progress, cancel: Callable[[], bool]) -> Comparison:
    """Score the new (and old) model on the new run's validation images where needed, then compare them."""
    with Store.open(db_path) as store:
        model = store.get_model(new_id)
        if model is None:
            raise KeyError(f"no model {new_id} in this workspace")
        ids, _source = validation_images(store, model)
        for model_id in (new_id, old_id):
            if model_id is not None and missing_predictions(store, model_id, ids):
                from binaudit.ml.scoring import score_images  # torch: only when a model must run
                summary = score_images(store, model_id, device=device, num_workers=0, image_ids=ids,
                                       progress=progress, cancel=cancel)  # also checks the file's sha256
                if summary.cancelled:
                    raise Cancelled("cancelled")
        return compare_models(store, new_id, old_id)


def activate_model(db_path: str, model_id: int, device: str, progress: Progress, cancel: Callable[[], bool]) -> Any:
    """Score every image with the model (resuming), then make it the active one of its kind."""
    from binaudit.ml.modelfiles import activate_registered, load_registered
    from binaudit.ml.scoring import score_images

    with Store.open(db_path) as store:
        model = load_registered(store, model_id, device="cpu")  # a bad file fails before any work
        summary = score_images(store, model_id, device=device, num_workers=0, progress=progress, cancel=cancel,
                               model=model)
        if summary.cancelled:
            raise Cancelled("cancelled")
        activate_registered(store, model_id)
        return summary


class ModelJob(workers.Job):
    """fn(*args, progress=, cancel=) on the model pool; finished(result) / failed(message) / cancelled()."""

    def __init__(self, title: str, fn: Callable[..., Any], *args: Any, pool: QThreadPool,
                 parent: QObject | None = None):
        super().__init__(parent, pool)
        self.title, self.fn, self.args = title, fn, args

    def work(self, progress: Progress, cancel: Callable[[], bool]) -> Any:
        return self.fn(*self.args, progress=progress, cancel=cancel)


class JobStatus(QWidget):
    """Status-bar progress of the running model job, with a Cancel button; hidden when idle."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(14)
        self.cancel = QToolButton(text="Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.job: ModelJob | None = None
        self.cancel.clicked.connect(self._cancel)
        self.hide()

    def follow(self, job: ModelJob) -> None:
        self.job = job
        self.text.setText(job.title)
        self.bar.setRange(0, 0)
        self.cancel.setEnabled(True)
        job.progress.connect(self._progress)
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(lambda *_: self._ended(job))
        self.show()

    def _progress(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.bar.setFormat(f"{done:,} / {total:,}")
            self.bar.setTextVisible(True)

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel.setEnabled(False)
            self.text.setText(self.job.title + " (cancelling\u2026)")

    def _ended(self, job: ModelJob) -> None:
        if job is self.job:
            self.job = None
            self.hide()
