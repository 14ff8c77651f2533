"""Start the desktop app: `binaudit`, `binaudit gui [WORKSPACE]`, `binaudit demo`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from binaudit import __version__
from binaudit.core.workspace import Workspace, demo_workspace
from binaudit.gui.common import settings, workers
from binaudit.gui.common.errors import install_excepthook
from binaudit.gui.common.resources import icon, style_sheet


def application(argv: list[str] | None = None) -> QApplication:
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


def initial_workspace(workspace: Workspace | None) -> Workspace | None:
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


def check_in_background(window: Any, check: Callable[[], bool]) -> workers.Task:
    """Run check() in a worker while the window is already up; reload the workspace when it changed it."""
    bar = window.statusBar()
    bar.showMessage("Checking the workspace for changes in the background\u2026")

    def done(changed: bool) -> None:
        if changed:
            window.reload()
        bar.showMessage("The workspace was updated." if changed else "The workspace is up to date.", 6000)

    return workers.start(check, on_done=done, owner=window,
                         on_error=lambda exc: bar.showMessage(f"Checking the workspace failed: {exc}", 15000))


def run_app(workspace: Workspace | None, background: Callable[[], bool] | None = None) -> int:
    """Open the main window (on `workspace`, see initial_workspace) and run until it closes.

    background: work that must not delay the window (`binaudit demo` rescanning its workspace), run once it shows.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = application()
    install_excepthook()
    from binaudit.gui.shell.main_window import MainWindow

    window = MainWindow(initial_workspace(workspace))
    window.show()
    if background is not None:
        check_in_background(window, background)
    return int(app.exec())
