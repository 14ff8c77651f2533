"""The Charts dock: holds the open workspace's ChartsPanel (none without a workspace); View > Charts toggles it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QWidget

from binaudit.gui.charts.panel import ChartsPanel
from binaudit.gui.common.session import WorkspaceSession


class ChartsDock(QDockWidget):
    """subsetRequested(title, image ids) when a chart asks the browser to list some bins."""

    subsetRequested = Signal(str, list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Charts", parent)
        self.setObjectName("chartsDock")
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        toggle = self.toggleViewAction()
        toggle.setText("&Charts")
        toggle.setShortcut("Ctrl+Shift+C")
        toggle.setStatusTip("Confusion matrix, per-class accuracy and count distributions of the active models")
        self.panel: ChartsPanel | None = None
        self.blind = False

    def set_blind(self, blind: bool) -> None:
        """Blind review on or off: the charts show only the decided bins while it is on."""
        self.blind = blind
        if self.panel is not None:
            self.panel.set_blind(blind)

    def set_session(self, session: WorkspaceSession | None) -> None:
        """Show the charts of this workspace (None: the workspace is closing)."""
        if self.panel is not None:
            self.setWidget(QWidget())
            self.panel.deleteLater()
            self.panel = None
        if session is not None:
            self.panel = ChartsPanel(session)
            self.panel.blind = self.blind
            self.panel.subsetRequested.connect(self.subsetRequested)
            self.setWidget(self.panel)
