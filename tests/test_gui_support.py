"""Shared helpers of the GUI tests: modal-dialog answering and waiting for the label writer.

The workspace with real trained models (`scored_store`) is a fixture in tests/conftest.py.
"""

from __future__ import annotations

import time
from typing import Any, Callable



_pending_answers: list[dict[str, bool]] = []


def cancel_pending_answers() -> None:
    """Stop every answer_modal still waiting (called after each test, so none answers the next test's dialogs)."""
    for token in _pending_answers:
        token["active"] = False
    _pending_answers.clear()


def answer_modal(handler: Callable[[Any], None], timeout: float = 5.0, kind: Any = None) -> None:
    """Call handler(dialog) once a modal dialog (of `kind`, default any QDialog) is open.

    Schedule it before the key that opens the dialog (the key press returns only when it closes).
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QProgressDialog

    deadline = time.monotonic() + timeout
    token = {"active": True}
    _pending_answers.append(token)

    def poll() -> None:
        if not token["active"]:
            return
        dialog = QApplication.activeModalWidget()
        wanted = isinstance(dialog, kind or QDialog) and not isinstance(dialog, QProgressDialog)
        if dialog is not None and dialog.isVisible() and wanted:
            token["active"] = False
            handler(dialog)
        elif time.monotonic() < deadline:
            QTimer.singleShot(10, poll)

    QTimer.singleShot(10, poll)


def wait_idle(qtbot: Any, window: Any, timeout: int = 5000) -> None:
    """Until the label writer has finished and its results have been handled (and pending events ran)."""
    qtbot.wait(5)
    qtbot.waitUntil(lambda: window.controller is not None and not window.controller.busy, timeout=timeout)
