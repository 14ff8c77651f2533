"""What every run shares: the workspace and store, the run row and directory, the frozen label sets,
the last word on the stream (finished / failed / cancelled) with the matching run status, and
`guarded_run`, the one wrapper every command's run goes through so that last word is always said."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.core.store import Store, utc_now
from binaudit.core.workspace import Workspace

from .data import LabelSet, check_trainable, label_set_summary, load_label_sets
from .runs import new_run_dir, read_json, write_json
from .stream import EXIT_CANCELLED, EXIT_FAILED, EXIT_FINISHED, StopFlag, Stopped, Stream, TrainingFailed

log = logging.getLogger("training")


@dataclass
class Session:
    """One run: rank 0 holds the store; every rank knows the run dir, the run id and the label sets."""

    workspace: Workspace
    stream: Stream
    store: Store | None = None
    run_id: int | None = None
    run_dir: Path | None = None
    label_snapshot: str | None = None
    sets: dict[str, LabelSet] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    @classmethod
    def open(cls, db: str | Path, stream: Stream, is_main: bool = True) -> Session:
        workspace = Workspace.at(db)
        if not workspace.db_path.exists():
            raise TrainingFailed(f"no workspace database at {workspace.db_path}; import a dataset first")
        store = Store.open(workspace.db_path) if is_main else None
        return cls(workspace=workspace, stream=stream, store=store)

    @property
    def cache_root(self) -> Path:
        return self.workspace.root / "cache"

    def load_labels(self, split: str, max_count: int, or_more: bool) -> None:
        """Freeze the effective labels now: later relabels do not change this run."""
        assert self.store is not None
        self.label_snapshot = self.store.label_snapshot()
        self.sets = load_label_sets(self.store, split, max_count, or_more)

    def start_run(self, kind: str, name: str, config: dict[str, Any]) -> None:
        """Create the runs row and the run directory; write config.json and labels.json."""
        assert self.store is not None
        self.run_id = self.store.create_run(kind, config)
        self.run_dir = new_run_dir(self.workspace.runs_dir, kind, name, self.run_id)
        self.store.update_run(self.run_id, run_dir=str(self.run_dir), label_snapshot=self.label_snapshot)
        write_json(self.run_dir / "config.json", {"kind": kind, "db": str(self.workspace.db_path),
                                                  "run_id": self.run_id, "label_snapshot": self.label_snapshot,
                                                  "config": config})
        write_json(self.run_dir / "labels.json", {k: {"ids": s.ids, "paths": s.paths, "labels": s.labels.tolist()}
                                                  for k, s in self.sets.items()})

    def begin_run(self, kind: str, name: str, config: dict[str, Any], split: str, max_count: int,
                  or_more: bool) -> None:
        """Freeze the labels, check there is something to train on, then start the run (row, directory, files)."""
        self.load_labels(split, max_count, or_more)
        check_trainable(self.sets, max_count + 1)
        self.start_run(kind, name, config)

    def resume_run(self, run_dir: Path) -> dict[str, Any]:
        """Reload a run directory's config and frozen labels; returns the saved config dict."""
        self.run_dir = Path(run_dir).resolve()
        saved = read_json(self.run_dir / "config.json")
        self.run_id, self.label_snapshot = saved["run_id"], saved["label_snapshot"]
        labels = read_json(self.run_dir / "labels.json")
        self.sets = {k: LabelSet(v["ids"], v["paths"], np.asarray(v["labels"], dtype=np.int64))
                     for k, v in labels.items()}
        if self.store is not None:
            self.store.update_run(self.run_id, status="running", reason=None, finished_at=None)
        return saved

    def summary(self, num_classes: int) -> dict[str, Any]:
        return label_set_summary(self.sets, num_classes)

    def emit_started(self, kind: str, recipe: str, config: dict[str, Any], num_classes: int, *, device: str,
                     resumed: bool = False, epochs: int = 0, world_size: int = 1, **extra: Any) -> None:
        """The stream's first event: what runs (kind, recipe, config), on which images, where and how long."""
        self.stream.emit("started", kind=kind, run_id=self.run_id, run_dir=str(self.run_dir), recipe=recipe,
                         config=config, resumed=resumed, epochs=epochs, classes=list(range(num_classes)),
                         images=self.summary(num_classes), label_snapshot=self.label_snapshot,
                         world_size=world_size, device=device, **extra)

    # ------------------------------------------------------------------ the last event
    def _finish_row(self, status: str, **fields: Any) -> None:
        if self.store is not None and self.run_id is not None:
            self.store.update_run(self.run_id, status=status, finished_at=utc_now(), **fields)

    def finished(self, model_id: int | None, metrics: dict[str, Any], reason: str = "") -> int:
        self._finish_row("finished", model_id=model_id, metrics=metrics)
        self.stream.emit("finished", reason=reason or "done", model_id=model_id, run_id=self.run_id,
                         run_dir=str(self.run_dir) if self.run_dir else None, metrics=metrics,
                         seconds=round(time.time() - self.started, 2))
        return EXIT_FINISHED

    def cancelled(self, reason: str, metrics: dict[str, Any] | None = None) -> int:
        self._finish_row("cancelled", reason=reason)
        self.stream.emit("cancelled", reason=reason, model_id=None, run_id=self.run_id,
                         run_dir=str(self.run_dir) if self.run_dir else None, metrics=metrics or {},
                         resume=f"python -m training resume {self.run_dir}" if self.run_dir else None)
        return EXIT_CANCELLED

    def failed(self, reason: str) -> int:
        try:
            self._finish_row("failed", reason=reason)
        except Exception:  # the store itself may be what failed
            log.debug("could not record the failure in the store", exc_info=True)
        self.stream.emit("failed", reason=reason, model_id=None, run_id=self.run_id,
                         run_dir=str(self.run_dir) if self.run_dir else None, metrics={})
        return EXIT_FAILED

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


def failure_reason(exc: BaseException) -> str:
    """A message for the user from whatever stopped the run; internal errors also log a traceback."""
    import torch

    from binaudit.ml.resnet import PretrainedWeightsUnavailable
    if isinstance(exc, TrainingFailed):
        return str(exc)
    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return (f"out of memory ({str(exc).splitlines()[0][:200]}); lower --batch-size or --input-size, "
                "or use fewer --workers")
    if isinstance(exc, PretrainedWeightsUnavailable):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory in host RAM; lower --batch-size, --workers or the image size"
    log.error("internal error:\n%s", "".join(traceback.format_exception(exc)))
    return f"internal error: {type(exc).__name__}: {exc}"


def end_with_failure(session: Session | None, stream: Any, exc: BaseException) -> int:
    """End the stream of a run that raised: a `failed` event with the reason (on the run if one started)."""
    reason = failure_reason(exc)
    if session is not None:
        return session.failed(reason)
    stream.emit("failed", reason=reason, model_id=None, run_id=None, metrics={})
    return EXIT_FAILED


@dataclass
class RunScope:
    """What a guarded run holds: its stream and stop flag, its session once opened, and its own clean-ups."""

    stream: Stream = field(default_factory=Stream)
    stop: StopFlag = field(default_factory=StopFlag)
    session: Session | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def open(self, db: str | Path, is_main: bool = True) -> Session:
        """Open the workspace's session; from here on the last word goes on the run row too."""
        self.session = Session.open(db, self.stream, is_main=is_main)
        return self.session


def guarded_run(body: Callable[[RunScope], int]) -> int:
    """Run body with SIGINT/SIGTERM caught and one last word guaranteed on the stream and the run row:
    cancelled on Ctrl-C or a stop inside non-epoch work, failed (with the reason) on any other error.
    The signal handlers, the store and body's clean-ups (in that order) are released whatever happens."""
    scope = RunScope()
    scope.stop.install()
    try:
        return body(scope)
    except (KeyboardInterrupt, Stopped):
        return scope.session.cancelled("interrupted") if scope.session else EXIT_CANCELLED
    except Exception as exc:  # every failure ends the stream with a "failed" event
        return end_with_failure(scope.session, scope.stream, exc)
    finally:
        scope.stop.uninstall()
        if scope.session is not None:
            scope.session.close()
        for cleanup in scope.cleanups:
            cleanup()
