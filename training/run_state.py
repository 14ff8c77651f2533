"""A training run as a viewer follows it: the JSON-lines stream (training.stream) folded into plain state.

RunState folds the stream's events (docs/TRAINING.md) into what a progress view draws: epochs, batch
losses, LR finder points, progress and ETA, the final outcome, the last lines of output. It knows
nothing of processes or Qt: the GUI feeds it the lines of a `python -m training` subprocess and
re-emits each change as a signal, and replay() rebuilds a past run from its runs row and run directory.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

STARTING, RUNNING, FINISHED, FAILED, CANCELLED, CRASHED = (
    "starting", "running", "finished", "failed", "cancelled", "crashed")
FINAL_EVENTS = (FINISHED, FAILED, CANCELLED)
TAIL_LINES = 40
TITLES = {"resnet": "ResNet run", "svm": "SVM run", "finetune": "Fine-tune run", "lr-find": "Learning-rate range test"}


class RunState:
    """What is known of one run from its events; handle() each event, finish() once at the end."""

    def __init__(self, command: str, title: str):
        self.command, self.title = command, title or command
        self.state = STARTING
        self.events: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.batch_losses: list[tuple[float, float]] = []   # (fractional epoch, loss)
        self.lr_points: list[tuple[float, float]] = []
        self.lr_suggestion: float | None = None
        self.lr_plot: str | None = None
        self.started: dict[str, Any] = {}
        self.final: dict[str, Any] | None = None
        self.run_id: int | None = None
        self.run_dir: str | None = None
        self.model_id: int | None = None
        self.pid: int | None = None
        self.total_epochs = 0
        self.stage = ""
        self.stage_done = 0
        self.stage_total = 0
        self.position = 0.0            # epochs done, fractional (batch events)
        self.reason = ""
        self.start_time = time.time()
        self.end_time: float | None = None
        self.output: list[str] = []    # non-JSON stdout lines (the baselines table)
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)  # last lines of stdout and stderr together

    # ------------------------------------------------------------------ events
    def handle(self, event: dict[str, Any]) -> None:
        """Fold one stream event into the state (unknown events are kept but otherwise ignored)."""
        kind = event.get("event")
        self.events.append(event)
        if kind == "started":
            self._started(event)
        elif kind == "progress":
            self.stage = str(event.get("stage", ""))
            self.stage_done, self.stage_total = int(event.get("done") or 0), int(event.get("total") or 0)
        elif kind == "batch":
            self._batch(event)
        elif kind == "epoch":
            self.epochs.append(event)
            self.position = float(event.get("epoch", len(self.epochs)))
        elif kind == "lr_finder":
            if event.get("suggestion") is not None:
                self.lr_suggestion, self.lr_plot = float(event["suggestion"]), event.get("plot")
            elif event.get("lr") is not None and event.get("loss") is not None:
                self.lr_points.append((float(event["lr"]), float(event["loss"])))
        elif kind in FINAL_EVENTS:
            self._final(event)

    def _started(self, event: dict[str, Any]) -> None:
        self.started = event
        self.state = RUNNING
        self.run_id, self.run_dir = event.get("run_id"), event.get("run_dir")
        self.total_epochs = int(event.get("epochs") or 0)
        self.pid = event.get("pid") or self.pid
        self.start_time = float(event.get("time") or self.start_time)

    def _batch(self, event: dict[str, Any]) -> None:
        batches = max(1, int(event.get("batches") or 1))
        self.position = int(event.get("epoch", 1)) - 1 + int(event.get("batch", 0)) / batches
        if event.get("loss") is not None:
            self.batch_losses.append((self.position, float(event["loss"])))
        of = f"/{self.total_epochs}" if self.total_epochs else ""
        self.stage = f"epoch {event.get('epoch')}{of}, batch"
        self.stage_done, self.stage_total = int(event.get("batch", 0)), batches

    def _final(self, event: dict[str, Any]) -> None:
        self.final = event
        self.state = str(event["event"])  # the process may take a moment to exit; finish() follows
        self.reason = str(event.get("reason") or "")
        self.run_id = event.get("run_id", self.run_id)
        self.run_dir = event.get("run_dir", self.run_dir)
        self.model_id = event.get("model_id")
        metrics = event.get("metrics") or {}
        if event["event"] == FINISHED and self.command == "lr-find":
            self.lr_suggestion = metrics.get("suggestion", self.lr_suggestion)
            self.lr_plot = metrics.get("plot", self.lr_plot)

    def read_line(self, line: str) -> dict[str, Any] | None:
        """One line of the run's stdout: an event is noted in the tail and returned (for handle());
        plain text (the baselines table) is kept as output and None is returned, as for a blank line."""
        if not line.strip():
            return None
        event = None
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
        if isinstance(event, dict) and "event" in event:
            if event["event"] == "started":
                self.tail.append(f"[stream] started run {event.get('run_id')} ({event.get('kind')}, "
                                 f"{event.get('recipe')}, device {event.get('device')})")
            elif event["event"] in FINAL_EVENTS:
                self.tail.append(f"[stream] {event['event']}: {event.get('reason') or ''}")
            return event
        self.output.append(line)
        self.tail.append(line)
        return None

    def finish(self, state: str, reason: str = "") -> bool:
        """The run is over: FINISHED/FAILED/CANCELLED from the final event, or CRASHED. False if it was already."""
        if self.end_time is not None:
            return False
        self.state, self.end_time = state, time.time()
        if reason:
            self.reason = reason
        return True

    def exit_outcome(self, code: int, crashed: bool, cancel_requested: bool) -> tuple[str, str]:
        """(state, reason) of a run whose process exited with `code` (crashed: ended by a signal)."""
        if self.final is not None:
            return str(self.final["event"]), ""
        if cancel_requested:
            return CANCELLED, "stopped before it could save a checkpoint"
        if self.command == "baselines" and not crashed and code == 0:
            return FINISHED, "done"
        how = "was killed (ended by a signal or crashed)" if crashed else f"exited with code {code}"
        return CRASHED, f"the training process {how} without a final event"

    # ------------------------------------------------------------------ derived
    @property
    def active(self) -> bool:
        return self.end_time is None

    def elapsed(self) -> float:
        return (self.end_time or time.time()) - self.start_time

    def fraction(self) -> float | None:
        """How far the run is (0..1): epochs for ResNet runs, else the current stage's share; None if unknown."""
        if self.state == FINISHED:
            return 1.0
        if self.total_epochs > 0 and (self.epochs or self.batch_losses):
            return min(1.0, self.position / self.total_epochs)
        if self.stage_total > 0:
            return min(1.0, self.stage_done / self.stage_total)
        return None

    def eta_seconds(self) -> float | None:
        """Seconds left, extrapolated from the epochs so far (ResNet runs only; None before the first batch)."""
        if not self.active or self.total_epochs <= 0 or self.position <= 0:
            return None
        first = next((e for e in self.events if e.get("event") in ("batch", "epoch")), None)
        if first is None:
            return None
        spent = time.time() - float(first.get("time") or self.start_time)
        per_epoch = spent / max(self.position - _position_of(first), 1e-6)
        return max(0.0, (self.total_epochs - self.position) * per_epoch)

    def status_text(self) -> str:
        """One line for the runs panel and the dialog's header."""
        if self.state == STARTING:
            return "starting\u2026"
        if self.state == RUNNING:
            parts = []
            if self.stage:
                parts.append(f"{self.stage} {self.stage_done}/{self.stage_total}" if self.stage_total else self.stage)
            if self.epochs:
                last = self.epochs[-1]
                parts.append(f"val acc {_pct(last.get('val_acc'))}")
            return "running: " + " \u00b7 ".join(parts) if parts else "running"
        if self.state == FINISHED:
            m = (self.final or {}).get("metrics") or {}
            if self.command == "lr-find":
                return f"finished: suggested lr {self.lr_suggestion:.2g}" if self.lr_suggestion else "finished"
            if "accuracy" in m:
                return (f"finished: model #{self.model_id}, {m.get('split', 'test')} accuracy "
                        f"{_pct(m.get('accuracy'))}, RMSE {_num(m.get('rmse'))}")
            return "finished"
        return f"{self.state}: {self.reason}" if self.reason else self.state

    def tail_text(self, lines: int = 15) -> str:
        return "\n".join(list(self.tail)[-lines:])


def _position_of(event: dict[str, Any]) -> float:
    """The fractional epoch a batch or epoch event marks."""
    if event.get("event") == "batch":
        return int(event.get("epoch", 1)) - 1 + int(event.get("batch", 0)) / max(1, int(event.get("batches") or 1))
    return float(event.get("epoch", 1))


def _pct(v: Any) -> str:
    return "\u2013" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * float(v):.1f}%"


def _num(v: Any) -> str:
    return "\u2013" if v is None else f"{float(v):.3f}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


# ---------------------------------------------------------------------- past runs
def replay(run: dict[str, Any]) -> RunState:
    """A finished (or abandoned) run from the store, with its epochs read back from metrics.jsonl."""
    command = str(run.get("kind") or "run")
    state = RunState(command, TITLES.get(command, "Run"))
    state.run_id, state.run_dir, state.model_id = run["id"], run.get("run_dir"), run.get("model_id")
    config = _mapping(run.get("config"))
    run_dir = Path(run["run_dir"]) if run.get("run_dir") else None
    rows = _metrics_rows(run_dir)
    state.total_epochs = max([int(r.get("epoch", 0)) for r in rows] + [int(config.get("epochs") or 0)])
    for row in rows:
        state.handle({"event": "epoch", **row})
    plot = run_dir / "lr_finder.png" if run_dir is not None else None
    if plot is not None and plot.is_file():
        state.lr_plot = str(plot)
    _replay_outcome(state, run)
    report = run_dir / "report.md" if run_dir is not None else None
    if report is not None and report.is_file():
        state.tail.extend(report.read_text(errors="replace").splitlines()[:TAIL_LINES])
    if str(run.get("status") or "") == "running" and run.get("pid") and not _alive(int(run["pid"])):
        state.state, state.end_time = CRASHED, time.time()
        state.reason = "the training process is gone without a final event"
    return state


def _metrics_rows(run_dir: Path | None) -> list[dict[str, Any]]:
    """The per-epoch rows of a run directory's metrics.jsonl ([] when missing or unreadable)."""
    if run_dir is None or not (run_dir / "metrics.jsonl").is_file():
        return []
    try:
        return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def _replay_outcome(state: RunState, run: dict[str, Any]) -> None:
    """Status, final metrics, reason and times of a past run from its runs row."""
    metrics = _mapping(run.get("metrics"))
    status = str(run.get("status") or "")
    state.final = {"event": status, "metrics": metrics, "model_id": run.get("model_id"),
                   "reason": run.get("reason") or ""}
    if state.command == "lr-find":
        state.lr_suggestion = metrics.get("suggestion")
    state.state = status if status in FINAL_EVENTS else (RUNNING if status == "running" else status or FAILED)
    state.reason = str(run.get("reason") or "")
    state.start_time = _timestamp(run.get("started_at")) or state.start_time
    state.end_time = None if status == "running" else (_timestamp(run.get("finished_at")) or state.start_time)


def _mapping(value: Any) -> dict[str, Any]:
    """A runs-row JSON field that should be an object ({} when it is missing or is not one)."""
    return value if isinstance(value, dict) else {}


def _timestamp(iso: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(iso)).timestamp() if iso else None
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
