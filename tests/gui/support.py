"""Helpers of the GUI tests (not collected): the real window on a workspace, key presses that wait for the
label writer, modal-dialog answering, waiting for conditions.

The workspaces with real trained models are fixtures: `scored_store` in tests/conftest.py, `trained_store`
in tests/gui/conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QProgressDialog

from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.browse.thumbnails import ImageLoader
from binaudit.gui.common import settings
from binaudit.gui.shell.main_window import MainWindow

AUDITOR = "tester"

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
    """Until the label writer has finished and its results have been handled (and pending events ran).

    A typed 1 still waiting for a second digit is recorded first, as when its pause ends (so `key("1")`
    stays one decision of 1 without waiting the pause)."""
    qtbot.wait(5)
    if window.workbench is not None:
        window.workbench.decisions.flush()
    qtbot.waitUntil(lambda: window.controller is not None and not window.controller.busy, timeout=timeout)


def wait_for(qtbot: Any, condition: Callable[[], bool], timeout: int = 60_000) -> None:
    qtbot.waitUntil(condition, timeout=timeout)


def window_for_test(qtbot: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    """A fixture body: the open window, then its training processes stopped and the window closed."""
    w = open_window(qtbot, store, monkeypatch)
    yield w
    w.training.shutdown(ask=False)
    w.close()


def open_window(qtbot: Any, store: Store, monkeypatch: pytest.MonkeyPatch, processes: bool = False) -> MainWindow:
    """The real window on the workspace, shown and loaded (photos decoded in threads unless processes)."""
    monkeypatch.setattr(ImageLoader, "use_processes", processes)
    settings.put(settings.AUDITOR, AUDITOR)
    w = MainWindow(Workspace(store.path.parent), detect_device=False, poll_ms=0)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    w.activateWindow()
    qtbot.waitUntil(lambda: w.session is not None and w.session.loaded and w.bin_view.image_id != "", timeout=10000)
    return w


def key(qtbot: Any, w: MainWindow, k: Any, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Press a key where the auditor's focus is (the list), then wait for the write to finish."""
    target = w.browser.grid if w.browser.grid_mode else w.browser.table
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)  # focus returns after a dialog closes
    qtbot.keyClick(target, k, mods)
    wait_idle(qtbot, w)
