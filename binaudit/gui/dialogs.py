"""Small dialogs, all keyboard-driven: uncountable reason, count entry, conflicts, auditor name, about, keys."""

from __future__ import annotations

import html
import platform
from typing import Optional

import PySide6
from PySide6.QtCore import QEvent, QObject, Qt, qVersion
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QInputDialog, QLabel, QListWidget, QListWidgetItem,
                               QMessageBox, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget, QHeaderView)

from binaudit import __version__
from binaudit.core import labels as L
from binaudit.core.store import SQLITE_VERSION
from binaudit.gui.browse_model import local_time
from binaudit.gui.labeling import KEEP_MINE, TAKE_THEIRS, Conflict
from binaudit.gui.tables import read_only_table


class ReasonDialog(QDialog):
    """Why the photo cannot be counted: press 1-5 (or arrows and Enter); Esc cancels."""

    def __init__(self, image_id: str, parent: Optional[QWidget] = None, question: Optional[str] = None):
        super().__init__(parent)
        self.setWindowTitle("Uncountable")
        self.reason: Optional[str] = None
        self.list = QListWidget()
        self.list.setSpacing(2)
        font = self.list.font()
        font.setPointSizeF(font.pointSizeF() + 2)
        self.list.setFont(font)
        for i, reason in enumerate(L.UNCOUNTABLE_REASONS, start=1):
            self.list.addItem(QListWidgetItem(f"  {i}    {reason.capitalize()}"))
        self.list.setCurrentRow(0)
        rows = self.list.count()
        self.list.setFixedHeight(rows * (self.list.sizeHintForRow(0) + 4) + 2 * self.list.frameWidth() + 4)
        self.list.itemActivated.connect(lambda item: self._choose(self.list.row(item)))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(question or f"Why can bin <b>{html.escape(image_id)}</b> not be counted?"))
        layout.addWidget(self.list)
        layout.addWidget(QLabel("<small>Press 1\u20135, or choose and press Enter. Esc cancels.</small>"))
        self.list.installEventFilter(self)
        self.list.setFocus()
        self.setMinimumWidth(340)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.list and event.type() == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
                self._choose(key - Qt.Key.Key_1)
                return True
        return super().eventFilter(watched, event)

    def _choose(self, index: int) -> None:
        if 0 <= index < len(L.UNCOUNTABLE_REASONS):
            self.reason = L.UNCOUNTABLE_REASONS[index]
            self.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            self._choose(key - Qt.Key.Key_1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._choose(self.list.currentRow())
        else:
            super().keyPressEvent(event)


def ask_reason(parent: Optional[QWidget], image_id: str, question: Optional[str] = None) -> Optional[str]:
    dialog = ReasonDialog(image_id, parent, question)
    return dialog.reason if dialog.exec() == QDialog.DialogCode.Accepted else None


class CountDialog(QDialog):
    """Type any count (10 or more, too) and press Enter."""

    def __init__(self, image_id: str, initial: int, parent: Optional[QWidget] = None, question: Optional[str] = None):
        super().__init__(parent)
        self.setWindowTitle("Enter count")
        self.spin = QSpinBox()
        self.spin.setRange(0, 10_000)
        self.spin.setValue(max(0, initial))
        self.spin.selectAll()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(question or f"How many items are in bin <b>{html.escape(image_id)}</b>?"))
        layout.addWidget(self.spin)
        layout.addWidget(buttons)
        self.spin.setFocus()


def ask_count(parent: Optional[QWidget], image_id: str, initial: int, question: Optional[str] = None) -> Optional[int]:
    dialog = CountDialog(image_id, initial, parent, question)
    return dialog.spin.value() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_conflict(parent: Optional[QWidget], conflict: Conflict) -> str:
    """Someone else changed the image: keep my change (replace theirs) or take theirs. Default: theirs."""
    theirs = conflict.theirs
    what = {"label": "your decision", "undo": "your undo", "redo": "your redo"}[conflict.operation]
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Label changed by someone else")
    box.setText(f"Bin <b>{html.escape(conflict.image_id)}</b> was changed by <b>{html.escape(theirs.user or 'someone')}</b>"
                f" at {local_time(theirs.at)} while you were looking at it.")
    box.setInformativeText(f"Their label: <b>{html.escape(theirs.describe())}</b><br>"
                           f"{what.capitalize()}: <b>{html.escape(conflict.mine.describe())}</b><br><br>"
                           "Nothing has been overwritten. Which label should stand?")
    keep = box.addButton(f"Keep mine ({conflict.mine.describe()})", QMessageBox.ButtonRole.AcceptRole)
    take = box.addButton(f"Use theirs ({theirs.describe()})", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(take)
    box.setEscapeButton(take)
    box.exec()
    return KEEP_MINE if box.clickedButton() is keep else TAKE_THEIRS


def ask_auditor_name(parent: Optional[QWidget], default: str) -> Optional[str]:
    name, ok = QInputDialog.getText(parent, "Auditor name",
                                    "Your name is stored with every label you make\n(asked once; change it in File > Auditor name).",
                                    text=default)
    name = name.strip()
    return name if ok and name else None


def about(parent: Optional[QWidget]) -> None:
    QMessageBox.about(parent, "About binaudit", (
        f"<h3>binaudit {__version__}</h3>"
        "<p>Inventory reconciliation on warehouse bin photos: audit recorded counts against ResNet and "
        "SVM counting models, clean the labels, retrain.</p>"
        f"<p>SQLite {SQLITE_VERSION}<br>Qt {qVersion()} (PySide6 {PySide6.__version__})<br>"
        f"Python {platform.python_version()}</p>"))


KEYS = (
    ("0 \u2013 9", "Set the count and go to the next image"),
    ("N", "Enter a count (10 or more)"),
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
    ("Shift+X / Shift+U / Shift+N", "Exclude / uncountable / set count of the selected rows (one undo step)"),
    ("Ctrl+B", "Blind review (hide predictions)"),
    ("Ctrl+G", "Table / thumbnail grid"),
    ("Ctrl+F", "Search; Esc returns to the list"),
    ("F5", "Reload the workspace"),
)


def shortcuts(parent: Optional[QWidget]) -> None:
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

    def __init__(self, parent: Optional[QWidget] = None):
        self.parent = parent

    def _back(self) -> None:
        """Give the keyboard back to the main window after a dialog (some platforms leave it nowhere)."""
        if self.parent is not None:
            self.parent.activateWindow()

    def reason(self, image_id: str) -> Optional[str]:
        try:
            return ask_reason(self.parent, image_id)
        finally:
            self._back()

    def count(self, image_id: str, initial: int) -> Optional[int]:
        try:
            return ask_count(self.parent, image_id, initial)
        finally:
            self._back()

    def bulk_reason(self, n: int) -> Optional[str]:
        try:
            return ask_reason(self.parent, "", f"Why can the <b>{n}</b> selected bins not be counted?")
        finally:
            self._back()

    def bulk_count(self, n: int, initial: int) -> Optional[int]:
        try:
            return ask_count(self.parent, "", initial, f"How many items are in each of the <b>{n}</b> selected bins?")
        finally:
            self._back()

    def conflict(self, conflict: Conflict) -> str:
        try:
            return ask_conflict(self.parent, conflict)
        finally:
            self._back()

    def auditor(self, default: str) -> Optional[str]:
        try:
            return ask_auditor_name(self.parent, default)
        finally:
            self._back()

    def import_target(self, dataset_name: str, workspace_name: str) -> Optional[str]:
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
