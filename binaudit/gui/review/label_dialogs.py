"""The labelling questions, keyboard-driven: why a photo is uncountable, a typed count, whose label stands."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from binaudit.core import labels as L
from binaudit.gui.common.formatting import local_time
from binaudit.gui.review.labeling import KEEP_MINE, TAKE_THEIRS, Conflict
from binaudit.gui.review.photo_view import PhotoView

GAP = 12  # between the photo and a dialog beside it


def beside_photo(dialog: QWidget, parent: QWidget | None) -> None:
    """Move a label dialog next to the bin's photo (right, else left, below, above), on screen, never over it."""
    photos = [p for p in (parent.findChildren(PhotoView) if parent is not None else []) if p.isVisible()]
    if not photos:
        return
    photo = photos[0]
    area = QRect(photo.mapToGlobal(QPoint(0, 0)), photo.size())
    screen = (photo.screen() or dialog.screen()).availableGeometry()
    dialog.adjustSize()
    frame = dialog.frameGeometry().size().expandedTo(dialog.size())
    w, h = frame.width(), frame.height()
    top = min(max(area.top(), screen.top()), screen.bottom() - h)
    left = min(max(area.left(), screen.left()), screen.right() - w)
    for x, y in ((area.right() + GAP, top), (area.left() - GAP - w, top),
                 (left, area.bottom() + GAP), (left, area.top() - GAP - h)):
        if screen.contains(QRect(x, y, w, h)):
            dialog.move(x, y)
            return
    dialog.move(max(screen.left(), area.left() - GAP - w), top)  # no room anywhere: over the list, not the photo


class ReasonDialog(QDialog):
    """Why the photo cannot be counted: press 1-5 (or arrows and Enter); Esc cancels."""

    def __init__(self, image_id: str, parent: QWidget | None = None, question: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Uncountable")
        self.reason: str | None = None
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


def ask_reason(parent: QWidget | None, image_id: str, question: str | None = None) -> str | None:
    dialog = ReasonDialog(image_id, parent, question)
    beside_photo(dialog, parent)
    return dialog.reason if dialog.exec() == QDialog.DialogCode.Accepted else None


class CountDialog(QDialog):
    """Type any count (10 or more, too) and press Enter."""

    def __init__(self, image_id: str, initial: int, parent: QWidget | None = None, question: str | None = None):
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


def ask_count(parent: QWidget | None, image_id: str, initial: int, question: str | None = None) -> int | None:
    dialog = CountDialog(image_id, initial, parent, question)
    beside_photo(dialog, parent)
    return dialog.spin.value() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_conflict(parent: QWidget | None, conflict: Conflict) -> str:
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
    beside_photo(box, parent)
    box.exec()
    return KEEP_MINE if box.clickedButton() is keep else TAKE_THEIRS
