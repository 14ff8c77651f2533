"""The loop's slow half: fine-tune the active models on the verified counts, then score every bin with them.

After a queue update, when the user ticked "also fine-tune the models" (Queue Update Settings), each
active model gets a `python -m training finetune --model ID` run in the training subprocess, through the
Training menu's machinery (Runs dock, progress, cancel, checkpoint). The run registers a new model version
(parent = the active one); it is then scored on every bin in the background (the model pool, one thread)
and its comparison with the active model opens, as after any run. The active model changes only when the
user activates the new one (Training > Models or the comparison), the app's rule for every model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from binaudit.core.kinds import MODEL_TITLES
from binaudit.core.progress import Cancelled
from binaudit.core.store import Store
from binaudit.gui.common import settings
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.training.menu import TrainingMenu
from binaudit.gui.training.model_jobs import ModelJob
from binaudit.gui.training.process import TrainingProcess, TrainingRequest
from training.run_state import FINISHED

FINETUNE = "finetune"


def score_every_bin(db_path: str, model_id: int, device: str, progress: Callable[[int, int], None],
                    cancel: Callable[[], bool]) -> Any:
    """Score every image with a registered model (resumes; the active model is unchanged)."""
    from binaudit.ml.scoring import score_images  # torch: only in the model pool's thread

    with Store.open(db_path) as store:
        summary = score_images(store, model_id, device=device, num_workers=0, progress=progress, cancel=cancel)
        if summary.cancelled:
            raise Cancelled("cancelled")
        return summary


def finetune_request(db_path: str, model: dict[str, Any], device: str) -> TrainingRequest:
    """The training command that fine-tunes one active model on the verified counts."""
    args = ["--model", str(model["id"])]
    if device and device != "auto":
        args += ["--device", device]
    title = f"Fine-tune {MODEL_TITLES.get(model['kind'], model['kind'])} #{model['id']} on verified counts"
    return TrainingRequest(FINETUNE, db_path, args, title)


class FineTuner(QObject):
    """See the module docstring. message(text, ms) is for the status bar."""

    message = Signal(str, int)

    def __init__(self, training: TrainingMenu, parent: QObject | None = None):
        super().__init__(parent)
        self.training = training
        self.session: WorkspaceSession | None = None
        self.runs: dict[int, TrainingProcess] = {}  # parent model id -> its running fine-tune

    def set_session(self, session: WorkspaceSession | None) -> None:
        self.session = session

    def _device(self) -> str:
        return str(settings.get(settings.DEVICE, "auto") or "auto")

    def start(self) -> list[TrainingProcess]:
        """A fine-tune run for each active model that has none running; the runs started."""
        session = self.session
        if session is None or session.readonly:
            return []
        started = []
        for model in session.active_models().values():
            if model is None:
                continue
            running = self.runs.get(int(model["id"]))
            if running is not None and running.active:
                continue
            proc = self.training.start(finetune_request(str(session.workspace.db_path), model, self._device()),
                                       show=False)
            self.runs[int(model["id"])] = proc
            proc.ended.connect(lambda state, p=proc: self._ended(p, state))
            started.append(proc)
        if started:
            self.message.emit(f"Fine-tuning {len(started)} model(s) on the verified counts in the background "
                              "(Training > Runs follows them).", 8000)
        return started

    def _ended(self, proc: TrainingProcess, state: str) -> None:
        session = self.session
        if state != FINISHED or not proc.model_id or session is None:
            return
        if proc.request.db_path != str(session.workspace.db_path):
            return  # the workspace it trained for is closed
        model_id = int(proc.model_id)
        job = ModelJob(f"Scoring every bin with fine-tuned model #{model_id}", score_every_bin,
                       proc.request.db_path, model_id, self._device(), pool=self.training.pool, parent=self)
        self.training.background_jobs.append(job)  # cancelled if the app quits meanwhile
        self.training.job_status.follow(job)
        parent = proc.request.args[proc.request.args.index("--model") + 1]
        job.finished.connect(lambda _summary: self._scored(job, model_id, parent))
        job.failed.connect(lambda msg: self._job_over(job, f"Model #{model_id} was not scored: {msg}"))
        job.cancelled.connect(lambda: self._job_over(job, f"Scoring model #{model_id} was cancelled."))
        job.start()

    def _scored(self, job: ModelJob, model_id: int, parent: str) -> None:
        self._job_over(job, f"Fine-tuned model #{model_id} (from #{parent}) has scored every bin: compare it and "
                            "activate it if it is better (Training > Models).")
        if self.session is not None:
            self.training.compare(model_id)
            if self.training.models_view is not None:
                self.training.models_view.refresh()

    def _job_over(self, job: ModelJob, text: str) -> None:
        if job in self.training.background_jobs:
            self.training.background_jobs.remove(job)
        self.message.emit(text, 12000)
