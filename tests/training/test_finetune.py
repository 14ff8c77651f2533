"""`python -m training finetune`: a registered ResNet or SVM trained further on the verified labels, through a
real subprocess on synthetic bins. The new model names its parent, learns the verified counts (it predicts a
count the reviewers corrected to more often than its parent), carries its parent's out-of-fold predictions for
the training photos, leaves out unreviewed photos those do not cover, and a bad parent or a cancel leaves no
model behind."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from binaudit.core.store import Store
from binaudit.core.synth import generate_dataset
from binaudit.ml.crossfit import load_cross_fit
from binaudit.ml.modelfiles import load_registered, registered_path
from binaudit.ml.preprocess import decode_image
from binaudit.ml.scoring import score_images
from tests.support.workspaces import SMALL_SVM, TINY_RESNET, build_trained_workspace, private_copy
from tests.training.support import final, parse_stream, start_training

MACHINE = ["--threads", "1", "--workers", "0"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic bins with a tiny ResNet (2-fold cross-fitted) and a small SVM (2 folds), scored and active."""
    root = tmp_path_factory.mktemp("finetune")
    generate_dataset(root / "bins", 120, seed=5, mismatch_rate=0.1, image_scale=0.3, max_count=5)
    return build_trained_workspace(root / "ws", root / "bins", resnet=[*TINY_RESNET, "--cross-fit", "2"],
                                   svm=SMALL_SVM)


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Path:
    return private_copy(built, tmp_path / "ws")


def _model_of(store: Store, kind: str) -> int:
    return next(m["id"] for m in store.list_models(kind))


def _finetune(ws: Path, *args: str, timeout: float = 300) -> tuple[int, list[dict[str, Any]], str]:
    """python -m training finetune --db WS ARGS as a subprocess: (exit code, events, stderr)."""
    proc = start_training(["finetune", "--db", str(ws), *MACHINE, *args])
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, parse_stream(out), err


def _train_ids(run_dir: str) -> list[str]:
    return json.loads((Path(run_dir) / "labels.json").read_text())["train"]["ids"]


def _rarest_prediction(store: Store, model_id: int) -> int:
    """The count 1-4 the model predicts least often for the photos it scored itself."""
    seen = Counter(p["predicted"] for p in store.predictions(model_id) if p["source"] == "model")
    return min(range(1, 5), key=lambda c: (seen[c], c))


def _correct_training(store: Store, target: int, every: int = 2) -> set[str]:
    """A reviewer verifies every `every`-th training photo as holding `target` items; returns those photos."""
    chosen = {i for n, (i, _, _) in enumerate(store.training_labels(split="train")) if n % every == 0}
    for image_id in sorted(chosen):
        recorded = store.effective_label(image_id).count
        status = "confirmed" if recorded == target else "corrected"
        store.record_label(image_id, user="reviewer", status=status, count=target)
    return chosen


def _share_predicting(model: Any, store: Store, ids: list[str], count: int) -> float:
    """The share of these photos the model (run on the photos themselves) says hold `count` items."""
    paths = {r["image_id"]: r["path"] for r in store.query("SELECT image_id, path FROM images")}
    predicted = model.predict([decode_image(paths[i]) for i in ids])
    return float(np.mean(np.asarray(predicted) == count))


def _check_child(store: Store, parent_id: int, done: dict[str, Any]) -> dict[str, Any]:
    """The new model is registered with its parent named, and its out-of-fold file is the parent's for the
    photos it trained on; returns its record."""
    child = store.get_model(done["model_id"])
    assert child is not None and child["kind"] == store.get_model(parent_id)["kind"] and not child["active"]
    assert child["manifest"]["parent"]["model_id"] == parent_id
    assert store.get_run(done["run_id"])["config"]["finetune"]["parent_model_id"] == parent_id
    mine = load_cross_fit(child["manifest"], registered_path(store, child).parent)
    parent = store.get_model(parent_id)
    theirs = load_cross_fit(parent["manifest"], registered_path(store, parent).parent)
    train = _train_ids(done["run_dir"])
    assert set(mine) == set(train) & set(theirs) and all(np.allclose(mine[i], theirs[i]) for i in mine)
    unreviewed = [i for i in train if store.effective_label(i).status not in ("confirmed", "corrected")]
    assert set(unreviewed) <= set(mine)  # no unreviewed training photo is judged by a model that learned it
    return child


@pytest.mark.parametrize("kind", ["resnet", "svm"])
def test_finetune_learns_the_verified_counts_and_keeps_the_parents_out_of_fold(ws: Path, kind: str) -> None:
    with Store.open(ws / "workspace.db") as store:
        parent_id = _model_of(store, kind)
        target = _rarest_prediction(store, parent_id)
        verified = _correct_training(store, target)
    code, events, err = _finetune(ws, "--model", str(parent_id), "--epochs", "2")
    done = final(events)
    assert code == 0 and done["event"] == "finished", err[-2000:]
    assert events[0]["event"] == "started" and events[0]["kind"] == "finetune"
    assert events[0]["parent_model_id"] == parent_id
    assert "val" in err and "not trained on" in err and f"model {parent_id}'s out-of-fold predictions" in err
    with Store.open(ws / "workspace.db") as store:
        child = _check_child(store, parent_id, done)
        assert child["manifest"]["parent"]["verified_train"] == len(verified)
        assert child["manifest"]["parent"]["verified_weight"] == 3.0
        train = _train_ids(done["run_dir"])
        photos = [i for i in store.image_splits() if i not in set(train)]
        before = _share_predicting(load_registered(store, parent_id), store, photos, target)
        after = _share_predicting(load_registered(store, child["id"]), store, photos, target)
        assert after > before, (target, before, after)
        summary = score_images(store, child["id"], device="cpu", num_workers=0)
        rows = {r["image_id"]: r for r in store.predictions(child["id"])}
        covered = child["manifest"]["cross_fit"]["images"]
        assert summary.cross_fitted == covered and covered >= len(train) - len(verified)
        assert sum(rows[i]["source"] == "oof" for i in train) == covered
        assert all(rows[i]["source"] == "model" for i in photos if i in rows)


def test_a_heavier_weight_fits_the_verified_photos_more_closely(ws: Path) -> None:
    """A soft-margin SVM (small C) that a few corrections cannot sway at weight 1 follows them at weight 3."""
    assert _in_process_svm(ws, ["--C", "0.3", "--folds", "2"]) == 0
    with Store.open(ws / "workspace.db") as store:
        parent_id = store.list_models("svm")[-1]["id"]
        score_images(store, parent_id, device="cpu", num_workers=0)
        target = _rarest_prediction(store, parent_id)
        verified = _correct_training(store, target, every=10)
    shares = []
    for weight in ("1", "3"):
        code, events, err = _finetune(ws, "--model", str(parent_id), "--verified-weight", weight)
        assert code == 0, err[-2000:]
        with Store.open(ws / "workspace.db") as store:
            shares.append(_share_predicting(load_registered(store, final(events)["model_id"]), store,
                                            sorted(verified), target))
    assert shares[1] > shares[0], shares


def test_unreviewed_photos_without_the_parents_out_of_fold_are_left_out(ws: Path) -> None:
    """Photos excluded when the parent trained, back in now, were never cross-fitted: the fine-tune must not
    learn their records, so the new model scores them as photos it never saw."""
    with Store.open(ws / "workspace.db") as store:
        back = [i for i, _, _ in store.training_labels(split="train")][:6]
        for image_id in back:
            store.record_label(image_id, user="reviewer", status="excluded", reason="test")
    assert _in_process_svm(ws, ["--folds", "2"]) == 0
    with Store.open(ws / "workspace.db") as store:
        parent_id = store.list_models("svm")[-1]["id"]
        for image_id in back:
            store.record_label(image_id, user="reviewer", status="reset")
    code, events, err = _finetune(ws, "--model", str(parent_id))
    done = final(events)
    assert code == 0, err[-2000:]
    assert "6 unreviewed training photos" in err
    assert not set(back) & set(_train_ids(done["run_dir"]))
    with Store.open(ws / "workspace.db") as store:
        assert _check_child(store, parent_id, done)["manifest"]["parent"]["left_out"] == 6


def test_a_parent_without_out_of_fold_predictions_is_said_so(ws: Path) -> None:
    assert _in_process_svm(ws, ["--folds", "0"]) == 0
    with Store.open(ws / "workspace.db") as store:
        parent_id = store.list_models("svm")[-1]["id"]
    code, events, err = _finetune(ws, "--model", str(parent_id))
    assert code == 0, err[-2000:]
    assert "saved without out-of-fold predictions" in err and "scored in-sample" in err
    with Store.open(ws / "workspace.db") as store:
        child = store.get_model(final(events)["model_id"])
        assert "cross_fit" not in child["manifest"]
        assert child["manifest"]["parent"]["out_of_fold"].startswith("none")


def _in_process_svm(ws: Path, extra: list[str]) -> int:
    from training.__main__ import main
    return main(["svm", "--db", str(ws), "--size", "16", "--pca", "10", "--threads", "1", *extra])


def test_a_missing_or_foreign_parent_fails_in_one_line(ws: Path, train) -> None:
    assert _in_process_svm(ws, ["--folds", "0"]) == 0  # a parent whose files live in this copy
    with Store.open(ws / "workspace.db") as store:
        before = len(store.list_models()), len(store.list_runs())
        parent = store.list_models("svm")[-1]
    code, events, _ = _finetune(ws, "--model", "999")
    assert code == 1 and final(events)["reason"] == "model 999 cannot be fine-tuned: no model 999 in this workspace"
    torch.save({"svm": torch.zeros(2, 2)}, Path(parent["path"]))  # a pickle where the npz was
    code, events, _ = _finetune(ws, "--model", str(parent["id"]))
    reason = final(events)["reason"]
    assert code == 1 and "\n" not in reason and "cannot be fine-tuned" in reason and "refusing" in reason
    code, events = train(["finetune", "--db", str(ws), "--model", str(parent["id"]), "--verified-weight", "0.5"])
    assert code == 2 and "--verified-weight" in final(events)["reason"]
    with Store.open(ws / "workspace.db") as store:
        assert (len(store.list_models()), len(store.list_runs())) == before


def test_cancel_registers_nothing_and_the_run_resumes(ws: Path, train) -> None:
    with Store.open(ws / "workspace.db") as store:
        parent_id = _model_of(store, "resnet")
        models = len(store.list_models())
    proc = start_training(["finetune", "--db", str(ws), *MACHINE, "--model", str(parent_id), "--epochs", "3"])
    events = _stop_at_batch(proc, 2)
    stopped = final(events)
    assert proc.returncode == 3 and stopped["event"] == "cancelled" and stopped["model_id"] is None, stopped
    with Store.open(ws / "workspace.db") as store:
        assert store.get_run(stopped["run_id"])["status"] == "cancelled"
        assert len(store.list_models()) == models
    code, resumed = train(["resume", stopped["run_dir"], "--threads", "1"])
    done = final(resumed)
    assert code == 0 and done["event"] == "finished" and resumed[0]["resumed"] is True
    with Store.open(ws / "workspace.db") as store:
        _check_child(store, parent_id, done)


def _stop_at_batch(proc: subprocess.Popen, batch: int) -> list[dict[str, Any]]:
    """SIGTERM the run when its first epoch reaches `batch`; every event it wrote."""
    assert proc.stdout is not None
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "batch" and events[-1]["epoch"] == 1 and events[-1]["batch"] == batch:
            proc.send_signal(signal.SIGTERM)
            break
    out, _ = proc.communicate(timeout=300)
    return events + parse_stream(out)
