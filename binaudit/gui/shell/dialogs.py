"""The window's small dialogs (auditor name, about, keys, import target) and Prompts, every question it asks."""

from __future__ import annotations

import html
import platform

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QInputDialog,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from binaudit import __version__
from binaudit.core.store import SQLITE_VERSION
from binaudit.gui.common import settings
from binaudit.gui.common.tables import read_only_table
from binaudit.gui.review.label_dialogs import ask_conflict, ask_count, ask_reason
from binaudit.gui.review.labeling import Conflict


def ask_auditor_name(parent: QWidget | None, default: str) -> str | None:
    name, ok = QInputDialog.getText(parent, "Auditor name",
                                    "Your name is stored with every label you make\n(asked once; change it in File > Auditor name).",
                                    text=default)
    name = name.strip()
    return name if ok and name else None


def about(parent: QWidget | None) -> None:
    QMessageBox.about(parent, "About binaudit", (
        f"<h3>binaudit {__version__}</h3>"
        "<p>Inventory reconciliation on warehouse bin photos: audit recorded counts against ResNet and "
        "SVM counting models, clean the labels, retrain.</p>"
        f"<p>SQLite {SQLITE_VERSION}<br>Qt {qVersion()} (PySide6 {PySide6.__version__})<br>"
        f"Python {platform.python_version()}</p>"))


KEYS = (
    ("0, 2 \u2013 9", "Set the count and go to the next image"),
    ("1", "Count 1 after a short pause; 1 then a digit within it: 10\u201319 (Enter: 1 at once)"),
    ("N", "Enter any count (20 or more)"),
    ("C / Enter", "Confirm the recorded count"),
    ("U", "Uncountable (then 1\u20135 for the reason)"),
    ("X", "Exclude from training"),
    ("J / K", "Next / previous image"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo (recorded as events)"),
    ("F / A", "Fit photo / actual size"),
    ("+ / \u2212", "Zoom in / out"),
    ("R", "Reset brightness and contrast"),
    ("Ctrl+Shift+A", "Audit queue on/off"),
    ("Ctrl+Shift+L", "Label-issue queue on/off"),
    ("Ctrl+U", "Update the audit queue from the reviews (in the background; also every N decisions)"),
    ("Ctrl+Shift+Q", "Queue quality: found vs random, record accuracy, variances left"),
    ("Shift+X / Shift+U / Shift+N", "Exclude / uncountable / set count of the selected rows (one undo step)"),
    ("Ctrl+B", "Blind review (every count hidden until you have counted the bin)"),
    ("Ctrl+G", "Table / thumbnail grid"),
    ("Ctrl+F", "Search names and ASINs, or type a bin id; Enter / Esc return to the list"),
    ("Ctrl+L", "Go to a bin by its exact id (1 and 00001 differ)"),
    ("F5", "Reload the workspace"),
)


def shortcuts(parent: QWidget | None) -> None:
    dialog = QDialog(parent)
    dialog.setWindowTitle("Keyboard shortcuts")
    table = read_only_table(QTableWidget(len(KEYS), 2), ("Key", "Action"), select_rows=False)
    for r, (key, action) in enumerate(KEYS):
        table.setItem(r, 0, QTableWidgetItem(key))
        table.setItem(r, 1, QTableWidgetItem(action))
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    close = QPushButton("Close")
    close.clicked.connect(dialog.accept)
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    layout.addWidget(close)
    dialog.resize(460, 480)
    dialog.exec()


class Prompts:
    """The questions the window asks, in one replaceable object (scripted tests may swap single methods)."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def _back(self) -> None:
        """Give the keyboard back to the main window after a dialog (some platforms leave it nowhere)."""
        if self.parent is not None:
            self.parent.activateWindow()

    def reason(self, image_id: str) -> str | None:
        try:
            return ask_reason(self.parent, image_id)
        finally:
            self._back()

    def count(self, image_id: str, initial: int) -> int | None:
        try:
            return ask_count(self.parent, image_id, initial)
        finally:
            self._back()

    def bin_id(self) -> str | None:
        """A bin id to go to, exactly as typed but trimmed (None when cancelled)."""
        try:
            text, ok = QInputDialog.getText(self.parent, "Go to bin",
                                            "Bin id (exact: 1 and 00001 are different bins):")
            return text.strip() if ok and text.strip() else None
        finally:
            self._back()

    def bulk_reason(self, n: int) -> str | None:
        try:
            return ask_reason(self.parent, "", f"Why can the <b>{n}</b> selected bins not be counted?")
        finally:
            self._back()

    def bulk_count(self, n: int, initial: int) -> int | None:
        try:
            return ask_count(self.parent, "", initial, f"How many items are in each of the <b>{n}</b> selected bins?")
        finally:
            self._back()

    def conflict(self, conflict: Conflict) -> str:
        try:
            return ask_conflict(self.parent, conflict)
        finally:
            self._back()

    def auditor(self, default: str) -> str | None:
        try:
            return ask_auditor_name(self.parent, default)
        finally:
            self._back()

    def auditor_name(self, ask: bool = False) -> str | None:
        """The auditor's name, asked once and remembered in the settings (ask=True to change it)."""
        name = settings.auditor()
        if name and not ask:
            return name
        name = self.auditor(name or settings.default_auditor_name())
        if name:
            settings.put(settings.AUDITOR, name)
        return name or settings.auditor()

    def import_target(self, dataset_name: str, workspace_name: str) -> str | None:
        """'add' to the open workspace, 'new' workspace for the dataset, or None to cancel."""
        box = QMessageBox(self.parent)
        box.setWindowTitle("Import dataset")
        box.setText(f"Import <b>{html.escape(dataset_name)}</b> into the open workspace "
                    f"<b>{html.escape(workspace_name)}</b>, or into a new workspace of its own?")
        add = box.addButton("Add to Open Workspace", QMessageBox.ButtonRole.AcceptRole)
        new = box.addButton("New Workspace", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(new)
        box.exec()
        return "add" if box.clickedButton() is add else "new" if box.clickedButton() is new else None
