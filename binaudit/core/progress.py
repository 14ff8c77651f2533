"""The progress and cancel callbacks shared by the CLI (tqdm) and the GUI (Qt signals)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def progress_bar(description: str, unit: str = "it") -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar driven by the (done, total) callbacks that the core and ml functions take."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # its monitor thread is not needed here and would make import workers spawn, not fork
    bar = tqdm(desc=description, unit=unit, dynamic_ncols=True, file=sys.stderr)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
