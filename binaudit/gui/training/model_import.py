"""File > Import Model...: register a model file exported elsewhere (`binaudit models export`, e.g. trained on
a GPU server), then offer to activate it, which scores every photo with it.

The import is the one `binaudit models import FILE` runs (binaudit.ml.modelpack.import_model: the same
checks as the registry's own, the same file twice not duplicated), in a background Job on its own store
connection; torch loads there, never on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.common import workers
from binaudit.gui.common.errors import show_error

FILE_FILTER = "binaudit model files (*.zip);;All files (*)"


def import_model_file(workspace: Workspace, file: Path) -> dict[str, Any]:
    """Register the model in `file` in the workspace; what was imported (id, kind, created, active, path)."""
    from binaudit.ml.modelpack import import_model  # torch: in the worker only

    with Store.open(workspace.db_path) as store:
        result = import_model(store, workspace.models_dir, Path(file))
        record = store.get_model(result.model_id) or {}
    return {"model_id": result.model_id, "kind": result.kind, "created": result.created,
            "active": bool(record.get("active")), "path": str(result.path), "file": str(file)}


class ModelImportJob(workers.Job):
    """One model import; finished(dict from import_model_file) / failed(message)."""

    def __init__(self, workspace: Workspace, file: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.workspace, self.file = workspace, Path(file)

    def work(self, progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> dict[str, Any]:
        return import_model_file(self.workspace, self.file)

    def describe_error(self, exc: BaseException) -> str:
        return " ".join(str(exc).split()) or type(exc).__name__


def imported_text(result: dict[str, Any]) -> str:
    """What the import did, in one sentence."""
    name = Path(result["file"]).name
    if result["created"]:
        return f"Imported {name} as model #{result['model_id']} ({result['kind']})."
    return f"{name} is already registered here as model #{result['model_id']} ({result['kind']}); nothing was imported."


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    """A Yes/No question (Yes first)."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


class ModelImporter(QObject):
    """The Import Model command: choose() asks for a file, import_file(path) runs the job, then offers
    activation through `activate(model_id)` (the Training menu's: score every photo, then switch).

    message(text, ms) is for the status bar; imported(result dict) after every successful import.
    """

    message = Signal(str, int)
    imported = Signal(object)

    def __init__(self, activate: Callable[[int], Any], parent: QWidget,
                 ask: Callable[[QWidget, str, str], bool] = ask_yes_no):
        super().__init__(parent)
        self.dialog_parent, self.activate, self.ask = parent, activate, ask
        self.workspace: Workspace | None = None
        self.job: ModelImportJob | None = None

    def set_workspace(self, workspace: Workspace | None) -> None:
        self.workspace = workspace

    def choose(self) -> ModelImportJob | None:
        """Ask for a model file, then import it."""
        if self.workspace is None:
            return None
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Import model file", str(Path.home()), FILE_FILTER)
        return self.import_file(Path(path)) if path else None

    def import_file(self, file: Path) -> ModelImportJob | None:
        """Import one model file in the background; the question about activating it follows."""
        if self.workspace is None:
            return None
        if self.job is not None and self.job.running:
            show_error(self.dialog_parent, "Import model", "A model is already being imported.")
            return None
        job = self.job = ModelImportJob(self.workspace, file, self)
        job.finished.connect(lambda result: self._done(result, job))
        job.failed.connect(lambda msg: show_error(self.dialog_parent, "Import model", f"Nothing was imported: {msg}"))
        self.message.emit(f"Importing {Path(file).name}\u2026", 0)
        job.start()
        return job

    def _done(self, result: dict[str, Any], job: ModelImportJob) -> None:
        said = imported_text(result)
        self.message.emit(said, 12000)
        self.imported.emit(result)
        if result["active"] or self.workspace != job.workspace:  # active already, or its workspace was closed
            return
        question = (f"{said}\n\nActivate model #{result['model_id']} now? It scores every photo first "
                    "(in the background), then the review queues use it.")
        if self.ask(self.dialog_parent, "Import model", question):
            self.activate(int(result["model_id"]))
