"""Where the window's docks go: beside the photo, closed until the user opens them, as wide as they were left.

The photo is the auditor's work, so a dock never opens by itself and never takes the photo's height: the
docks sit on the right (the bin view keeps the full height of the window) and the first time one opens
it takes a bounded share of the width. After that, QMainWindow.saveState/restoreState (kept in QSettings
by common.settings) brings back which docks are open, where, and how big.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

from binaudit.gui.common import settings

DOCK_SHARE = 0.22  # of the window's width, the first time a dock opens (1280 px: 282 px, the photo keeps 55%)
DOCK_MIN_W, DOCK_MAX_W = 280, 480


class DockLayout:
    """Adds the docks (hidden) and sizes each one the first time it opens; a restored state wins."""

    def __init__(self, window: QMainWindow):
        self.window = window
        self._sized: set[str] = set()
        self._state: QByteArray | None = None  # the restored state, until the first workspace is in place

    def add(self, dock: QDockWidget, area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> None:
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.window.addDockWidget(area, dock)
        dock.hide()
        dock.visibilityChanged.connect(lambda visible, d=dock: visible and self._first_open(d))

    def restored(self) -> None:
        """The window's saved state is back: every dock keeps the size and place it had when the window closed."""
        self._sized.update(dock.objectName() for dock in self.window.findChildren(QDockWidget))
        state = settings.get(settings.STATE)
        self._state = state if isinstance(state, QByteArray) else None

    def settle(self) -> None:
        """The first workspace is in the middle: restore the docks' widths once more. QMainWindow restored them
        around a placeholder, and swapping in the workspace gave it only its minimum and the docks the rest."""
        state, self._state = self._state, None
        if state is not None:  # once the workspace is laid out
            QTimer.singleShot(0, lambda: self.window.restoreState(state))

    def _first_open(self, dock: QDockWidget) -> None:
        """Open for the first time: a bounded share of the width (docked left/right) or of the height."""
        if dock.objectName() in self._sized or dock.isFloating():
            return
        self._sized.add(dock.objectName())
        area = self.window.dockWidgetArea(dock)
        if area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea):
            width = min(DOCK_MAX_W, max(DOCK_MIN_W, int(self.window.width() * DOCK_SHARE)))
            self.window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)
        else:
            self.window.resizeDocks([dock], [int(self.window.height() * DOCK_SHARE)], Qt.Orientation.Vertical)
