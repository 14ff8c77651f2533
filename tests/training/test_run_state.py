"""training.run_state: the progress stream folded into a run's state without Qt, and past runs replayed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from training.run_state import CANCELLED, CRASHED, FAILED, FINISHED, RUNNING, RunState, format_duration, replay


def test_run_state_imports_no_qt() -> None:
    code = "import sys, training.run_state; sys.exit('PySide6' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_read_line_tells_events_from_plain_output() -> None:
    run = RunState("baselines", "")
    assert run.title == "baselines"
    event = run.read_line('{"event": "started", "run_id": 3, "kind": "baselines", "device": "cpu"}')
    assert event is not None and event["run_id"] == 3 and "[stream] started run 3" in run.tail[-1]
    assert run.read_line("overall  0.41") is None and run.output == ["overall  0.41"]
    assert run.read_line("   ") is None and run.output == ["overall  0.41"]
    assert run.read_line("{not json") is None and run.output[-1] == "{not json"


def test_exit_outcome_and_finish_once() -> None:
    run = RunState("resnet", "t")
    assert run.exit_outcome(1, False, False) == (CRASHED, "the training process exited with code 1 without a final event")
    assert run.exit_outcome(0, True, True) == (CANCELLED, "stopped before it could save a checkpoint")
    assert RunState("baselines", "b").exit_outcome(0, False, False) == (FINISHED, "done")
    assert "killed" in RunState("baselines", "b").exit_outcome(0, True, False)[1]
    run.handle({"event": "failed", "reason": "bad stage", "run_id": 4})
    assert run.exit_outcome(1, False, False) == (FAILED, "")
    assert run.finish(FAILED) and not run.finish(CRASHED, "late")
    assert run.state == FAILED and run.reason == "bad stage" and not run.active
    assert run.status_text() == "failed: bad stage"
    assert [format_duration(s) for s in (None, 5, 75, 3725)] == ["\u2013", "5s", "1m 15s", "1h 02m"]


def test_replay_reads_the_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-9"
    run_dir.mkdir()
    rows = [{"epoch": 1, "train_loss": 1.2, "val_acc": 0.3}, {"epoch": 2, "train_loss": 0.9, "val_acc": 0.45}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "report.md").write_text("# Run 9\nval accuracy 45%\n")
    row = {"id": 9, "kind": "resnet", "run_dir": str(run_dir), "model_id": 12, "status": "finished",
           "config": {"epochs": 3}, "metrics": {"accuracy": 0.5, "rmse": 0.8, "split": "test"},
           "started_at": "2024-05-01T10:00:00+00:00", "finished_at": "2024-05-01T10:02:00+00:00"}
    run = replay(row)
    assert (run.title, run.run_id, run.model_id, run.total_epochs) == ("ResNet run", 9, 12, 3)
    assert [e["epoch"] for e in run.epochs] == [1, 2] and run.position == 2.0
    assert run.state == FINISHED and run.elapsed() == 120.0 and run.fraction() == 1.0
    assert run.status_text() == "finished: model #12, test accuracy 50.0%, RMSE 0.800"
    assert list(run.tail) == ["# Run 9", "val accuracy 45%"]
    gone = replay({"id": 10, "kind": "svm", "status": "running", "pid": 2 ** 22 + 12345})
    assert gone.state == CRASHED and "gone" in gone.reason
    still = replay({"id": 11, "kind": "svm", "status": "running"})
    assert still.state == RUNNING and still.active
