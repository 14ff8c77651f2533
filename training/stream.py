"""The progress stream (one JSON object per line on stdout), stderr logging, and clean stop on signals."""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import threading
import time
from typing import Any, TextIO

log = logging.getLogger("training")

EXIT_FINISHED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3


def setup_logging(verbose: bool = False) -> None:
    """Human logging goes to stderr so stdout stays a clean JSON-lines stream."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s training: %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def _clean(value: Any) -> Any:
    """JSON-safe values: NaN/inf become null, numpy scalars and arrays become Python ones."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class Stream:
    """Writes events as JSON lines; silent on non-zero DDP ranks so only rank 0 speaks."""

    def __init__(self, out: TextIO | None = None, enabled: bool = True):
        self.out = out or sys.stdout
        self.enabled = enabled
        self._lock = threading.Lock()
        self._last_progress: dict[str, float] = {}

    def emit(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **_clean(fields)}
        line = json.dumps(record, separators=(",", ":"), allow_nan=False)
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def progress(self, stage: str, done: int, total: int, every_s: float = 0.25) -> None:
        """A {"event": "progress"} line for preparation work, at most every every_s seconds (and at the end)."""
        now = time.monotonic()
        if done < total and now - self._last_progress.get(stage, 0.0) < every_s:
            return
        self._last_progress[stage] = now
        self.emit("progress", stage=stage, done=done, total=total)


class StopFlag:
    """Set by SIGINT/SIGTERM; the training loop checks it after every batch and stops cleanly."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signal_name is not None

    def request(self, reason: str) -> None:
        if self.signal_name is None:
            self.signal_name = reason

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C means now
        self.request(name)
        log.info("%s received: stopping after this batch and saving a checkpoint", name)

    def install(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class TrainingFailed(Exception):
    """A run cannot go on; the message is the "reason" of the failed event, meant for the user."""


class Stopped(Exception):
    """Raised inside non-epoch work (feature extraction, folds) when a stop signal arrived."""
