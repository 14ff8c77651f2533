"""Import a dataset folder in a worker thread, with a progress dialog that can cancel it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

from binaudit.core.importer import ImportSummary, import_dataset
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.common import workers


class ImportJob(workers.Job):
    """One import; finished(summary), cancelled() or failed(message) arrives on the GUI thread."""

    def __init__(self, dataset: Path, workspace: Workspace, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.dataset, self.workspace = Path(dataset), workspace

    def work(self, progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> ImportSummary:
        self.workspace.ensure()
        with Store.open(self.workspace.db_path) as store:
            return import_dataset(store, self.dataset, progress=progress, cancel=cancel)

    def describe_error(self, exc: BaseException) -> str:
        return str(exc) or type(exc).__name__


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
