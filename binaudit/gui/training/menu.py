"""The Training menu end to end: setup dialog -> `python -m training` subprocess -> live view and Runs dock
-> comparison with the active model -> activation (rescoring in the background) -> the browser reloads.

This object composes the pieces (setup_dialog, process, run_view, runs_panel, compare_view,
models_view, model_jobs); each piece is its own file. The window places its Runs dock
and job status, connects the Training menu's actions to setup() and show_models(), and listens to
its signals; the menu never sees the window.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QDialog, QDockWidget, QMessageBox, QWidget

from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.store import Store, utc_now
from binaudit.gui.common import settings
from binaudit.gui.common.errors import show_error
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.training.compare_view import CompareView
from binaudit.gui.training.model_jobs import JobStatus, ModelJob, activate_model, prepare_comparison
from binaudit.gui.training.models_view import ModelsView
from binaudit.gui.training.process import RunMonitor, TrainingProcess, TrainingRequest, replay_run
from binaudit.gui.training.run_view import TrainingView
from binaudit.gui.training.runs_panel import RunsPanel
from binaudit.gui.training.setup_dialog import TrainingSetupDialog
from training.run_state import CANCELLED, CRASHED, FAILED, FINISHED

log = logging.getLogger("binaudit.gui")
STOP_WAIT_MS = 15_000
TAIL_DETAILS = 40  # lines of output kept in an error dialog's details


class TrainingMenu(QObject):
    """See the module docstring. `parent` owns the dialogs and windows it opens.

    message(text, ms) is for the status bar; imageRequested(image id) asks to show a bin (a flipped
    prediction of a comparison); modelActivated(model id) after a model became the active one.
    """

    message = Signal(str, int)
    imageRequested = Signal(str)
    modelActivated = Signal(int)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.dialog_parent = parent
        self.session: WorkspaceSession | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.runs = RunsPanel()
        self.runs.openRequested.connect(self.open_run)
        self.runs.cancelRequested.connect(lambda proc: proc.cancel())
        self.dock = QDockWidget("Runs", parent)
        self.dock.setObjectName("runsDock")
        self.dock.setWidget(self.runs)
        toggle = self.dock.toggleViewAction()
        toggle.setText("&Runs")
        toggle.setShortcut("Ctrl+Shift+R")
        toggle.setStatusTip("Training runs: live and past; reopen one")
        self.job_status = JobStatus()
        self.processes: list[TrainingProcess] = []
        self.views: dict[int, TrainingView] = {}
        self.replays: dict[int, RunMonitor] = {}
        self.compares: list[CompareView] = []
        self.models_view: ModelsView | None = None
        self.activation: ModelJob | None = None
        self.background_jobs: list[ModelJob] = []  # other parts' jobs on this pool (cancelled when quitting)

    @property
    def db_path(self) -> str | None:
        return str(self.session.workspace.db_path) if self.session is not None else None

    def set_session(self, session: WorkspaceSession | None) -> None:
        """The workspace runs train on and models come from (None: it is closing)."""
        self.session = session
        self.runs.set_store(session.store if session is not None else None)
        if session is None:
            self._forget_workspace()

    def _forget_workspace(self) -> None:
        """Close the past runs' views and the Models window: they show the workspace being closed."""
        for monitor in self.replays.values():  # past runs belong to the workspace being closed
            view = self.views.pop(id(monitor), None)
            if view is not None:
                view.deleteLater()
            monitor.deleteLater()
        self.replays.clear()
        if self.models_view is not None:
            self.models_view.close()
            self.models_view.deleteLater()
            self.models_view = None

    # ------------------------------------------------------------------ starting runs
    def setup(self, command: str, prepare: Callable[[QDialog], object] | None = None) -> TrainingProcess | None:
        """Ask for the run's settings (modal; `prepare` may add to the dialog first), then start it."""
        session = self.session
        if session is None:
            return None
        dialog = TrainingSetupDialog(command, session.store, str(session.workspace.db_path), self.dialog_parent)
        if prepare is not None:
            prepare(dialog)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            request = dialog.request()
        finally:
            dialog.deleteLater()
        return self.start(request)

    def start(self, request: TrainingRequest, show: bool = True) -> TrainingProcess:
        """Start a run; show=False leaves its live view closed (a background fine-tune: the Runs dock lists it)."""
        proc = TrainingProcess(request, self)
        proc.ended.connect(lambda state: self._ended(proc, state))
        self.processes.append(proc)
        self.runs.add_monitor(proc)
        proc.start()
        if show:
            self.open_run(proc)  # the Runs dock stays as the user left it: the status bar says a run started
        self.message.emit(f"Started: {request.title} (Training > Runs lists it, Ctrl+Shift+R)", 8000)
        return proc

    def open_run(self, run: RunMonitor | dict) -> TrainingView:
        """Show a run's live view (reopened if it exists; a past run is replayed from its run directory)."""
        if isinstance(run, RunMonitor):
            monitor = run
        else:  # a past run: replayed once, then its view is reused
            monitor = self.replays.get(int(run["id"])) or replay_run(run, self)
            self.replays[int(run["id"])] = monitor
        view = self.views.get(id(monitor))
        if view is None:
            view = TrainingView(monitor, self.dialog_parent)
            view.compareRequested.connect(self.compare)
            self.views[id(monitor)] = view
        view.show()
        view.raise_()
        return view

    # ------------------------------------------------------------------ the end of a run
    def _ended(self, proc: TrainingProcess, state: str) -> None:
        self.runs.refresh()
        if state == FINISHED:
            self.message.emit(f"{proc.title}: {proc.status_text()}", 12000)
            same_workspace = proc.request.db_path == self.db_path
            if proc.model_id and proc.command in MODEL_KINDS and same_workspace:
                self.compare(int(proc.model_id))
        elif state == CANCELLED:
            resume = (proc.final or {}).get("resume")
            self.message.emit(f"{proc.title} cancelled" + (f"; resume with: {resume}" if resume else "."), 15000)
        elif state == FAILED:
            show_error(self.dialog_parent, "Training failed", f"{proc.title} failed: {proc.reason}",
                       details=proc.tail_text(TAIL_DETAILS))
        elif state == CRASHED:
            self._mark_crashed(proc)
            show_error(self.dialog_parent, "Training process stopped",
                       f"{proc.title} (process {proc.pid or '?'}) stopped unexpectedly: {proc.reason}.\n\n"
                       f"Its last lines of output:\n\n{proc.tail_text(12)}",
                       details=proc.tail_text(TAIL_DETAILS))

    def _mark_crashed(self, proc: TrainingProcess) -> None:
        """A killed run cannot close its own runs row: record it as failed so the Runs dock says so."""
        if proc.run_id is None:
            return
        try:
            with Store.open(proc.request.db_path) as store:
                run = store.get_run(int(proc.run_id))
                if run is not None and run.get("status") == "running":
                    store.update_run(int(proc.run_id), status="failed", reason=proc.reason, finished_at=utc_now())
        except Exception as exc:  # the report matters more than the bookkeeping
            log.warning("could not record the crashed run %s: %s", proc.run_id, exc)
        self.runs.refresh()

    # ------------------------------------------------------------------ compare and activate
    def _device(self) -> str:
        return str(settings.get(settings.DEVICE, "auto") or "auto")

    def compare(self, model_id: int) -> CompareView | None:
        """Open the comparison of a model with the active one of its kind (scored in the background)."""
        session = self.session
        if session is None or not model_id:
            return None
        new = session.store.get_model(int(model_id))
        if new is None:
            return None
        old = session.store.active_model(new["kind"])
        if old is not None and old["id"] == new["id"]:
            old = None
        view = CompareView(new, old, self.dialog_parent)
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.imageRequested.connect(self.imageRequested)
        view.activateRequested.connect(self.activate)
        view.destroyed.connect(lambda _=None, v=view: self.compares.remove(v) if v in self.compares else None)
        self.compares.append(view)
        job = ModelJob(f"Scoring validation images for model #{new['id']}", prepare_comparison, self.db_path,
                       int(new["id"]), None if old is None else int(old["id"]), self._device(), pool=self.pool,
                       parent=view)
        view.follow(job)
        job.start()
        view.show()
        view.raise_()
        return view

    def activate(self, model_id: int) -> ModelJob | None:
        """Rescore every image with the model in the background, then switch to it and reload the browser."""
        if self.db_path is None:
            return None
        if self.activation is not None and self.activation.running:
            show_error(self.dialog_parent, "Activate model", "Another model is being activated; wait for it or cancel it.")
            return None
        job = ModelJob(f"Activating model #{model_id}: scoring every image", activate_model, self.db_path,
                       int(model_id), self._device(), pool=self.pool, parent=self)
        self.activation = job
        self.job_status.follow(job)
        job.finished.connect(lambda summary: self._activated(int(model_id), summary))
        job.failed.connect(lambda msg: show_error(self.dialog_parent, "Activate model",
                                                  f"Model #{model_id} was not activated: {msg}"))
        job.cancelled.connect(lambda: self.message.emit(
            f"Activation of model #{model_id} cancelled; the active model is unchanged "
            "(its scores so far are kept).", 10000))
        for view in self.compares:
            if view.new_model["id"] == model_id:
                view.set_activating()
        job.start()
        return job

    def _activated(self, model_id: int, summary: object) -> None:
        self.message.emit(f"Model #{model_id} is active: {summary.describe()}", 12000)  # type: ignore[attr-defined]
        self.modelActivated.emit(model_id)
        for view in self.compares:
            if view.new_model["id"] == model_id:
                view.new_model["active"] = True
                view.set_active(True)
        if self.models_view is not None:
            self.models_view.refresh()

    def show_models(self) -> ModelsView | None:
        session = self.session
        if session is None:
            return None
        if self.models_view is None:
            self.models_view = ModelsView(session.store, self.dialog_parent)
            self.models_view.activateRequested.connect(self.activate)
            self.models_view.compareRequested.connect(self.compare)
        self.models_view.refresh()
        self.models_view.show()
        self.models_view.raise_()
        return self.models_view

    # ------------------------------------------------------------------ quitting
    def running(self) -> list[TrainingProcess]:
        return [p for p in self.processes if p.active]

    def shutdown(self, ask: bool = True) -> bool:
        """Stop running runs cleanly (SIGTERM: checkpoint, resumable) when the window closes; False = stay open."""
        running = self.running()
        if running and ask:
            names = "<br>".join(html.escape(p.title) for p in running)
            answer = QMessageBox.question(
                self.dialog_parent, "Training is running",
                f"Quitting stops these runs (each saves a checkpoint and can be resumed):<br>{names}<br><br>Quit?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
        for proc in running:
            proc.cancel()
        for proc in running:
            if not proc.wait_stopped(STOP_WAIT_MS):
                proc.kill()
                proc.wait_stopped(2000)
        for job in [self.activation, *(v.job for v in self.compares), *self.background_jobs]:
            if job is not None and job.running:
                job.cancel()
        self.pool.waitForDone(30_000)
        return True

