"""Import a dataset folder in a worker thread, with a progress dialog that can cancel it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from binaudit.core.importer import ImportSummary, import_dataset
from binaudit.core.progress import Cancelled
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui import workers


class ImportJob(QObject):
    """One import; finished(summary), cancelled() or failed(message) arrives on the GUI thread."""

    progress = Signal(int, int)
    finished = Signal(object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, dataset: Path, workspace: Workspace, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.dataset, self.workspace = Path(dataset), workspace
        self._cancel = threading.Event()
        self.running = False

    def start(self) -> None:
        self.running = True
        workers.start(self._run, on_done=self._done, on_error=self._error, owner=self)

    def cancel(self) -> None:
        self._cancel.set()

    def _run(self) -> ImportSummary:
        self.workspace.ensure()
        with Store.open(self.workspace.db_path) as store:
            return import_dataset(store, self.dataset, progress=lambda d, t: self.progress.emit(d, t),
                                  cancel=self._cancel.is_set)

    def _done(self, summary: ImportSummary) -> None:
        self.running = False
        self.finished.emit(summary)

    def _error(self, exc: BaseException) -> None:
        self.running = False
        if isinstance(exc, Cancelled):
            self.cancelled.emit()
        else:
            self.failed.emit(str(exc) or type(exc).__name__)


def progress_dialog(job: ImportJob, parent: Optional[QWidget]) -> QProgressDialog:
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
