"""Start the desktop app: `binaudit`, `binaudit gui [WORKSPACE]`, `binaudit demo`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QApplication

from binaudit import __version__
from binaudit.core.workspace import Workspace, demo_workspace
from binaudit.gui.common import settings
from binaudit.gui.common.errors import install_excepthook
from binaudit.gui.common.resources import icon, style_sheet


def application(argv: Optional[list[str]] = None) -> QApplication:
    """The QApplication (created once), named and styled."""
    # Decoder threads hand the GIL back within 1 ms instead of 5, so painting never queues behind them.
    sys.setswitchinterval(0.001)
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("binaudit")
    app.setOrganizationName("binaudit")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icon("app"))
    if not app.styleSheet():
        app.setStyleSheet(style_sheet())
    return app  # type: ignore[return-value]


def initial_workspace(workspace: Optional[Workspace]) -> Optional[Workspace]:
    """The given workspace, else the last one opened, else the demo workspace if it exists, else None."""
    if workspace is not None:
        return workspace
    last = settings.get(settings.LAST_WORKSPACE)
    if last:
        candidate = Workspace.at(Path(str(last)))
        if candidate.exists():
            return candidate
    demo = demo_workspace()
    return demo if demo.exists() else None


def run_app(workspace: Optional[Workspace]) -> int:
    """Open the main window (on `workspace`, see initial_workspace) and run until it closes."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = application()
    install_excepthook()
    from binaudit.gui.shell.main_window import MainWindow

    window = MainWindow(initial_workspace(workspace))
    window.show()
    return int(app.exec())
