"""The page the window shows without a workspace: the app's name and a button per way to start."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


def welcome_page(actions: Sequence[QAction]) -> QWidget:
    """A centred title, a hint, and one button per action (a disabled one says how to enable it)."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addStretch(1)
    title = QLabel("binaudit", alignment=Qt.AlignmentFlag.AlignCenter)
    title.setObjectName("welcomeTitle")
    layout.addWidget(title)
    layout.addWidget(QLabel("Open a workspace, import a dataset folder, or drop a folder here.",
                            alignment=Qt.AlignmentFlag.AlignCenter))
    for action in actions:
        button = QPushButton(action.icon(), action.text().replace("&", ""))
        button.clicked.connect(action.trigger)
        button.setFixedWidth(260)
        button.setEnabled(action.isEnabled())
        button.setToolTip(action.toolTip() if action.isEnabled() else "Build it with `binaudit demo`")
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addStretch(2)
    return page
