"""The progress and cancel callbacks shared by the CLI (tqdm) and the GUI (Qt signals)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

ProgressCallback = Callable[[int, int], None]
CancelCallback = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside long work when the user asked to stop."""


def check_cancel(cancel: CancelCallback | None) -> None:
    """Raise Cancelled if the cancel callback says so."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def report(progress: ProgressCallback | None, done: int, total: int) -> None:
    """Call the progress callback if there is one."""
    if progress is not None:
        progress(done, total)


PLAIN_STEPS = 4  # a non-terminal gets a line at each quarter (and the last one), not a redrawn bar
PLAIN_MIN_SECONDS = 30.0  # ... and one at least this often while a step takes long


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


@contextmanager
def progress_bar(description: str, unit: str = "it",
                 stream: TextIO | None = None) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar driven by the (done, total) callbacks that the core and ml functions take.

    On a stream that is not a terminal (a log file, a pipe, CI) a redrawn bar floods the output with
    carriage returns: there it writes a few plain lines instead (see plain_progress).
    """
    stream = stream if stream is not None else sys.stderr
    if not is_terminal(stream):
        with plain_progress(description, unit, stream) as plain_update:
            yield plain_update
        return
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # its monitor thread is not needed here and would make import workers spawn, not fork
    bar = tqdm(desc=description, unit=unit, dynamic_ncols=True, file=stream)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


@dataclass
class _PlainState:
    """What plain_progress remembers between updates: the last quarter and time printed, the last counts seen."""

    at: float
    step: int = -1
    done: int = 0
    total: int = 0
    printed: tuple[int, int] = (-1, -1)


@contextmanager
def plain_progress(description: str, unit: str, stream: TextIO,
                   clock: Callable[[], float] = time.monotonic) -> Iterator[Callable[[int, int], None]]:
    """Progress as whole lines ("import: 2,500 / 10,013 files (25%)") at each quarter, at most every
    PLAIN_MIN_SECONDS otherwise, and once at the end: a handful of lines however many updates come."""
    state = _PlainState(at=clock())

    def say(done: int, total: int) -> None:
        pct = f" ({100 * done // total}%)" if total else ""
        stream.write(f"{description}: {done:,} / {total:,} {unit}{pct}\n" if total else f"{description}: {done:,} {unit}\n")
        stream.flush()
        state.printed, state.at = (done, total), clock()

    def update(done: int, total: int) -> None:
        state.done, state.total = done, total
        step = PLAIN_STEPS * done // total if total > 0 else 0
        if step > state.step or clock() - state.at >= PLAIN_MIN_SECONDS:
            state.step = max(step, state.step)
            say(done, total)

    try:
        yield update
    finally:
        if state.printed != (state.done, state.total) and (state.done or state.total):
            say(state.done, state.total)
