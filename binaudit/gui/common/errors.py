"""Errors reach the user as dialogs with a plain message; tracebacks go to the log, never to the screen."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from binaudit.core.store import StoreError

log = logging.getLogger("binaudit.gui")
_installed_previous: Callable[..., None] | None = None
_showing = False


def user_message(exc: BaseException) -> str:
    """The sentence to show for an exception: its own message for expected errors, a generic one otherwise."""
    if isinstance(exc, (StoreError, OSError, ValueError, KeyError, PermissionError)):
        text = str(exc).strip("'\"") or type(exc).__name__
        return text
    return f"Something went wrong ({type(exc).__name__}: {exc}). Your saved labels are not affected."


def show_error(parent: QWidget | None, title: str, text: str, details: str | None = None) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def _hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    global _showing
    if issubclass(kind, KeyboardInterrupt):
        QApplication.quit()
        return
    details = "".join(traceback.format_exception(kind, exc, tb))
    log.error("unhandled exception\n%s", details)
    print(details, file=sys.stderr)
    if _showing or QApplication.instance() is None:
        return
    _showing = True
    try:
        show_error(QApplication.activeWindow(), "binaudit", user_message(exc), details)
    finally:
        _showing = False


def install_excepthook() -> None:
    """Show unexpected exceptions (including those raised in Qt slots) in a dialog instead of a traceback."""
    global _installed_previous
    if _installed_previous is None:
        _installed_previous = sys.excepthook
        sys.excepthook = _hook
