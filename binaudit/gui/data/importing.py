"""Import a dataset folder in a worker thread, with a progress dialog that can cancel it.

Importer holds the import commands: pick a folder, ask whether it goes into the open workspace or a
new one, run the ImportJob; imported(workspace) says where the bins went (the window opens or reloads it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from binaudit.core.importer import ImportSummary, import_dataset
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace, default_workspace_for_dataset
from binaudit.gui.common import workers
from binaudit.gui.common.errors import show_error


class ImportJob(workers.Job):
    """One import; finished(summary), cancelled() or failed(message) arrives on the GUI thread."""

    def __init__(self, dataset: Path, workspace: Workspace, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset, self.workspace = Path(dataset), workspace

    def work(self, progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> ImportSummary:
        self.workspace.ensure()
        with Store.open(self.workspace.db_path) as store:
            return import_dataset(store, self.dataset, progress=progress, cancel=cancel)

    def describe_error(self, exc: BaseException) -> str:
        return str(exc) or type(exc).__name__


def progress_dialog(job: ImportJob, parent: QWidget | None) -> QProgressDialog:
    """A window-modal progress dialog tied to the job (Cancel cancels it; it closes itself)."""
    dialog = QProgressDialog(f"Importing {job.dataset.name}\u2026", "Cancel", 0, 0, parent)
    dialog.setWindowTitle("Import dataset")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)

    def update(done: int, total: int) -> None:
        dialog.setMaximum(max(total, 1))
        dialog.setValue(min(done, max(total, 1)))
        dialog.setLabelText(f"Importing {job.dataset.name}: {done:,} of {total:,} files")

    job.progress.connect(update)
    dialog.canceled.connect(job.cancel)
    for signal in (job.finished, job.cancelled, job.failed):
        signal.connect(dialog.close)
    return dialog


class TargetPrompt(Protocol):
    """Where an import goes when a workspace is open (shell.dialogs.Prompts answers it)."""

    def import_target(self, dataset_name: str, workspace_name: str) -> str | None: ...


class Importer(QObject):
    """The import commands. `parent` owns the dialogs; message(text, ms) is for the status bar."""

    message = Signal(str, int)
    imported = Signal(object)  # the Workspace the dataset was imported into

    def __init__(self, prompts: TargetPrompt, parent: QWidget):
        super().__init__(parent)
        self.prompts, self.dialog_parent = prompts, parent
        self.job: ImportJob | None = None

    def choose_dataset(self, current: Workspace | None) -> ImportJob | None:
        """Ask for a dataset folder, then import it (see import_folder)."""
        folder = QFileDialog.getExistingDirectory(self.dialog_parent, "Import dataset folder", str(Path.home()))
        return self.import_folder(Path(folder), current) if folder else None

    def import_folder(self, dataset: Path, current: Workspace | None,
                      target: Workspace | None = None) -> ImportJob | None:
        """Import a dataset folder in the background; without a target, asks whether it goes into the open
        workspace (`current`) or a new one of its own."""
        if self.job is not None and self.job.running:
            show_error(self.dialog_parent, "Import dataset", "An import is already running.")
            return None
        if target is None:
            target = default_workspace_for_dataset(dataset)
            if current is not None:
                choice = self.prompts.import_target(dataset.name, current.root.name)
                if choice is None:
                    return None
                if choice == "add":
                    target = current
        job = ImportJob(dataset, target, self)
        self.job = job
        dialog = progress_dialog(job, self.dialog_parent)
        job.finished.connect(lambda summary: self._done(job, summary))
        job.cancelled.connect(lambda: self.message.emit("Import cancelled; the files imported so far are kept.", 8000))
        job.failed.connect(lambda msg: show_error(self.dialog_parent, "Import dataset", f"The import stopped: {msg}"))
        job.start()
        dialog.show()
        return job

    def _done(self, job: ImportJob, summary: ImportSummary) -> None:
        self.message.emit(f"Imported {job.dataset.name}: {summary.describe()}", 12000)
        self.imported.emit(job.workspace)

    def cancel(self) -> None:
        """Stop a running import (the files imported so far are kept)."""
        if self.job is not None and self.job.running:
            self.job.cancel()
