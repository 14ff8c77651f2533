"""The Export menu: audit results (CSV/JSON), corrected ABID metadata, an image folder per count.

Each export asks for a file or a parent folder, then runs binaudit.core.export in a worker with a
progress dialog that can cancel it. The core writes atomically (temporary sibling, one rename).
Folder exports replace their target folder as a whole, so the app only ever writes into a folder
named for the export (never the folder the user picked) and asks before replacing an earlier export.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QProgressDialog, QWidget

from binaudit.core import export as core_export
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.common import workers
from binaudit.gui.common.errors import show_error
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.data.export_options import ExportOptions, ExportOptionsDialog

FOLDER_EXPORTS = {"metadata": ("corrected-metadata", {"metadata"}),
                  "folders": ("images-by-count", {"train", "val", "test"})}
TITLES = {"csv": "Export audit results (CSV)", "json": "Export audit results (JSON)",
          "metadata": "Export corrected ABID metadata", "folders": "Export an image folder per count"}


def folder_target(parent: Path, workspace_name: str, kind: str) -> tuple[Path, bool]:
    """(target folder, whether it holds an earlier export of this kind to replace) inside `parent`.

    A same-named folder that does not look like our export is never touched: a numbered name is used.
    """
    suffix, allowed = FOLDER_EXPORTS[kind]
    base = parent / f"{workspace_name}-{suffix}"
    target, n = base, 1
    while target.exists():
        entries = {p.name for p in target.iterdir()} if target.is_dir() else {"?"}
        if entries <= allowed:
            return target, True
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    return target, False


def run_export(db_path: str, kind: str, out: str, progress: Callable[[int, int], None],
               cancel: Callable[[], bool], options: ExportOptions | None = None) -> int:
    """One export on its own read-only connection; returns how many rows/files it wrote."""
    with Store.open(db_path, readonly=True) as store:
        if kind in ("csv", "json"):
            o = options or ExportOptions()
            return core_export.export_audit_results(store, Path(out), fmt=kind, reviewed_only=o.reviewed_only,
                                                    image_ids=o.image_ids, columns=o.columns)
        if kind == "metadata":
            return core_export.export_corrected_metadata(store, Path(out), progress=progress, cancel=cancel)
        return core_export.export_image_folders(store, Path(out), progress=progress, cancel=cancel)


class ExportJob(workers.Job):
    """One export in a worker; finished(count) / failed(message) / cancelled()."""

    def __init__(self, db_path: str, kind: str, out: Path, parent: QObject | None = None,
                 options: ExportOptions | None = None):
        super().__init__(parent)
        self.db_path, self.kind, self.out, self.options = db_path, kind, Path(out), options

    def work(self, progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> int:
        return int(run_export(self.db_path, self.kind, str(self.out), progress, cancel, self.options))


def report_text(kind: str, n: int, out: Path, options: ExportOptions | None) -> str:
    """What an export wrote: how many rows or files, where, and (results) which rows and columns."""
    noun = {"csv": "rows", "json": "rows", "metadata": "corrected metadata files", "folders": "photos"}[kind]
    detail = f" ({options.describe()})" if options is not None and kind in ("csv", "json") else ""
    return f"Wrote {n:,} {noun}{detail} to {out}"


class ExportMenu(QObject):
    """The Export menu's commands: choose(kind) asks where, export(kind, out) runs an ExportJob.

    `parent` owns the dialogs; message(text, ms) is for the status bar.
    """

    message = Signal(str, int)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.dialog_parent = parent
        self.session: WorkspaceSession | None = None
        self.job: ExportJob | None = None
        self.shown_ids: Callable[[], list[str]] | None = None  # the list as shown (set by the window)
        self.last_report = ""

    def set_session(self, session: WorkspaceSession | None) -> None:
        """The workspace to export from (None: no workspace open)."""
        self.session = session

    def choose(self, kind: str) -> ExportJob | None:
        """Ask where to (a file, or a parent folder for folder exports), then export."""
        if self.session is None:
            return None
        options = self._ask_options(kind) if kind in ("csv", "json") else None
        if kind in ("csv", "json") and options is None:
            return None
        out = self._ask_target(kind, self.session.workspace)
        return None if out is None else self.export(kind, out, options)

    def _ask_options(self, kind: str) -> ExportOptions | None:
        """Which images and columns (None when the user cancels)."""
        shown = self.shown_ids() if self.shown_ids is not None else []
        dialog = ExportOptionsDialog(TITLES[kind], len(shown), self.dialog_parent)
        try:
            return dialog.options(shown) if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()

    def _ask_target(self, kind: str, ws: Workspace) -> Path | None:
        """The file or folder to write, or None when the user cancels."""
        start = ws.exports_dir if ws.exports_dir.exists() else ws.root
        parent = self.dialog_parent
        if kind in ("csv", "json"):
            path, _ = QFileDialog.getSaveFileName(parent, TITLES[kind], str(start / f"audit-results.{kind}"),
                                                  f"{kind.upper()} (*.{kind})")
            if not path:
                return None
            return Path(path) if Path(path).suffix.lower() == f".{kind}" else Path(path + f".{kind}")
        folder = QFileDialog.getExistingDirectory(parent, TITLES[kind] + ": choose where", str(start))
        if not folder:
            return None
        out, earlier = folder_target(Path(folder), ws.root.name, kind)
        if earlier and QMessageBox.question(
                parent, TITLES[kind], f"Replace the earlier export in {out}?") != QMessageBox.StandardButton.Yes:
            return None
        return out

    def export(self, kind: str, out: Path, options: ExportOptions | None = None) -> ExportJob | None:
        """Run one export to `out` in the background with a cancellable progress dialog."""
        if self.session is None:
            return None
        if self.job is not None and self.job.running:
            show_error(self.dialog_parent, "Export", "An export is already running.")
            return None
        job = ExportJob(str(self.session.workspace.db_path), kind, out, self, options)
        self.job = job
        dialog = QProgressDialog(f"{TITLES[kind]}\u2026", "Cancel", 0, 0, self.dialog_parent)
        dialog.setWindowTitle("Export")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.canceled.connect(job.cancel)
        job.progress.connect(lambda d, t: (dialog.setMaximum(t), dialog.setValue(d)))
        job.finished.connect(lambda n: (dialog.reset(), self._report(report_text(kind, n, out, options), out)))
        job.cancelled.connect(lambda: (dialog.reset(), self.message.emit("Export cancelled; nothing was written.", 8000)))
        job.failed.connect(lambda msg: (dialog.reset(), show_error(self.dialog_parent, "Export",
                                                                   f"The export failed: {msg}")))
        job.start()
        return job

    def _report(self, text: str, out: Path) -> None:
        """Say what was written: in the status bar and in a box (not modal) that can open its folder."""
        self.last_report = text
        self.message.emit(text, 15000)
        box = QMessageBox(QMessageBox.Icon.Information, "Export finished", text, QMessageBox.StandardButton.Ok,
                          self.dialog_parent)
        folder = box.addButton("Open Folder", QMessageBox.ButtonRole.ActionRole)
        folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(out if out.is_dir() else out.parent))))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self.report_box = box
