"""The Queue quality dock: holds the open workspace's QueueQualityPanel; View > Queue Quality toggles it."""

from __future__ import annotations

from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QDockWidget, QWidget

from binaudit.gui.audit.panel import QueueQualityPanel
from binaudit.gui.common.session import WorkspaceSession


class QueueQualityDock(QDockWidget):
    """Beside the photo like Charts, closed until asked; its panel refreshes in `pool` (one thread)."""

    def __init__(self, pool: QThreadPool, parent: QWidget | None = None):
        super().__init__("Queue Quality", parent)
        self.setObjectName("queueQualityDock")
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        toggle = self.toggleViewAction()
        toggle.setText("&Queue Quality")
        toggle.setShortcut("Ctrl+Shift+Q")
        toggle.setStatusTip("How good the audit queue is: variances found against random review, the inventory's "
                            "record accuracy from a random sample, variances left")
        self.pool = pool
        self.panel: QueueQualityPanel | None = None

    def set_session(self, session: WorkspaceSession | None) -> None:
        """Show the queue of this workspace (None: the workspace is closing)."""
        if self.panel is not None:
            self.setWidget(QWidget())
            self.panel.deleteLater()
            self.panel = None
        if session is not None:
            self.panel = QueueQualityPanel(session, self.pool)
            self.setWidget(self.panel)

    def refresh_soon(self) -> None:
        """Labels or the queue changed: recompute the report (now when shown, else when it next opens)."""
        if self.panel is not None:
            self.panel.refresh_soon()
