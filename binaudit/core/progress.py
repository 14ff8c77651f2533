"""The progress and cancel callbacks shared by the CLI (tqdm) and the GUI (Qt signals)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside long work when the user asked to stop."""


def check_cancel(cancel: Optional[CancelCallback]) -> None:
    """Raise Cancelled if the cancel callback says so."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def report(progress: Optional[ProgressCallback], done: int, total: int) -> None:
    """Call the progress callback if there is one."""
    if progress is not None:
        progress(done, total)
