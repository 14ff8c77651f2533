"""ResNet runs end to end on synthetic bins: a real subprocess run that registers a model, clean stop on
SIGTERM and resume, resume after SIGKILL, the stream's shape, and the failures a user can cause."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from binaudit.core.store import Store
from tests.training.support import TINY, db_of, final, parse_stream, start_training

EPOCH_KEYS = {"event", "time", "epoch", "stage", "input_size", "train_loss", "train_acc", "val_loss", "val_acc",
              "val_rmse", "lr", "seconds"}


def _metrics_rows(run_dir: str) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def test_subprocess_run_registers_an_inactive_model(synth_store: Store) -> None:
    proc = start_training(["resnet", "--db", db_of(synth_store), *TINY])
    out, err = proc.communicate(timeout=300)
    events = parse_stream(out)
    assert proc.returncode == 0, err[-2000:]
    assert events[0]["event"] == "started" and events[0]["recipe"] == "tiny"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and set(epochs[0]) == EPOCH_KEYS
    batches = [e for e in events if e["event"] == "batch"]
    assert batches and batches[-1]["batch"] == batches[-1]["batches"]
    done = final(events)
    assert done["event"] == "finished" and done["model_id"]
    model = synth_store.get_model(done["model_id"])
    assert model["kind"] == "resnet" and not model["active"] and model["run_id"] == done["run_id"]
    assert model["label_snapshot"] == synth_store.label_snapshot()
    run = synth_store.get_run(done["run_id"])
    assert run["status"] == "finished" and run["model_id"] == done["model_id"]
    run_dir = Path(done["run_dir"])
    for name in ("config.json", "metrics.csv", "metrics.jsonl", "checkpoint.pt", "report.json", "report.md",
                 "curves.png", "confusion.png"):
        assert (run_dir / name).is_file(), name
    report = json.loads((run_dir / "report.json").read_text())
    assert {"accuracy", "rmse", "per_class", "confusion"} <= set(report["test"])
    assert set(report["test"]["per_class"]) == {str(c) for c in range(6)}
    assert "training" in err  # human logging goes to stderr, not into the stream


def _stop_when(proc, predicate, sig: int) -> list[dict]:
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if predicate(events[-1]):
            proc.send_signal(sig)
            break
    out, _ = proc.communicate(timeout=300)
    return events + parse_stream(out)


def test_sigterm_stops_cleanly_and_resume_matches_an_uninterrupted_run(synth_store: Store, train) -> None:
    code, straight = train(["resnet", "--db", db_of(synth_store), *TINY])
    assert code == 0
    proc = start_training(["resnet", "--db", db_of(synth_store), *TINY])
    events = _stop_when(proc, lambda e: e["event"] == "batch" and e["epoch"] == 1 and e["batch"] == 2,
                        signal.SIGTERM)
    assert proc.returncode == 3
    stopped = final(events)
    assert stopped["event"] == "cancelled" and stopped["resume"]
    assert synth_store.get_run(stopped["run_id"])["status"] == "cancelled"
    assert (Path(stopped["run_dir"]) / "checkpoint.pt").is_file()
    code, resumed = train(["resnet", "--resume", stopped["run_dir"], "--db", db_of(synth_store)])
    assert code == 0 and final(resumed)["event"] == "finished"
    assert resumed[0]["resumed"] is True
    first_batch = next(e for e in resumed if e["event"] == "batch")
    assert first_batch["epoch"] == 1 and first_batch["batch"] > 2  # continued mid-epoch
    # same seed, same data order and flips: the interrupted run ends where the straight one did
    a = _metrics_rows(final(straight)["run_dir"])
    b = _metrics_rows(stopped["run_dir"])
    assert [r["epoch"] for r in b] == [1, 2]
    for ra, rb in zip(a, b):
        assert abs(ra["train_loss"] - rb["train_loss"]) < 1e-4 and ra["val_acc"] == rb["val_acc"]


def test_resume_after_sigkill(synth_store: Store, train) -> None:
    proc = start_training(["resnet", "--db", db_of(synth_store), *TINY, "--epochs", "3"])
    events = _stop_when(proc, lambda e: e["event"] == "epoch" and e["epoch"] == 1, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    run_dir = events[0]["run_dir"]
    assert not any(e["event"] in ("finished", "cancelled") for e in events)
    code, resumed = train(["resume", run_dir, "--threads", "1"])
    assert code == 0
    assert [e["epoch"] for e in resumed if e["event"] == "epoch"] == [2, 3]
    assert [r["epoch"] for r in _metrics_rows(run_dir)] == [1, 2, 3]
    assert synth_store.get_model(final(resumed)["model_id"])["run_id"] == events[0]["run_id"]


def test_failures_end_the_stream_with_a_reason(tmp_path: Path, synth_store: Store, train) -> None:
    empty = Store.open(tmp_path / "empty" / "workspace.db")
    empty.close()
    code, events = train(["resnet", "--db", str(tmp_path / "empty"), *TINY])
    assert code == 1 and final(events)["event"] == "failed" and "no labelled images" in final(events)["reason"]
    for image_id, _, _ in synth_store.training_labels():
        synth_store.record_label(image_id, user="t", status="corrected", count=2)
    code, events = train(["resnet", "--db", db_of(synth_store), *TINY])
    assert code == 1 and "only one class" in final(events)["reason"]
    assert not synth_store.list_runs()  # refused before a run was recorded
    code, events = train(["resnet", "--db", db_of(synth_store), *TINY, "--stages", "bad"])
    assert code == 2 and final(events)["event"] == "failed"


def test_progressive_stages_and_lr_finder_in_one_run(synth_store: Store, train) -> None:
    code, events = train(["resnet", "--db", db_of(synth_store), *TINY, "--find-lr",
                                           "--stages", "24:1:head,32:1:diff", "--schedule", "sgdr", "--tta"])
    assert code == 0, final(events)
    points = [e for e in events if e["event"] == "lr_finder"]
    assert len(points) > 5 and points[-1]["suggestion"] is not None
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [(e["stage"], e["input_size"]) for e in epochs] == [(1, 24), (2, 32)]
    run_dir = Path(final(events)["run_dir"])
    assert (run_dir / "lr_finder.png").stat().st_size > 1000
    assert "accuracy_no_tta" in final(events)["metrics"]


def test_unreadable_photo_and_out_of_memory_fail_with_a_reason(tmp_path: Path, synth_dataset: Path, train,
                                                                monkeypatch) -> None:
    import shutil

    import torch

    import training.resnet_train as rt
    from binaudit.core.importer import import_dataset
    copy = tmp_path / "bins"
    shutil.copytree(synth_dataset, copy)
    with Store.open(tmp_path / "ws" / "workspace.db") as store:
        import_dataset(store, copy)
        bad_id, bad_path, _ = store.training_labels("train")[0]
    Path(bad_path).write_bytes(b"\xff\xd8\xff not really a jpeg")
    code, events = train(["resnet", "--db", str(tmp_path / "ws"), *TINY])
    assert code == 1 and bad_id in final(events)["reason"] and "--skip-bad-images" in final(events)["reason"]

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    monkeypatch.setattr(rt, "train_one_epoch", out_of_memory)
    code, events = train(["resnet", "--db", str(tmp_path / "ws"), *TINY, "--skip-bad-images"])
    reason = final(events)["reason"]
    assert code == 1 and reason.startswith("out of memory") and "--batch-size" in reason
