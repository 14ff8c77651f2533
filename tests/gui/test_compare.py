"""What the Compare window shows: binaudit.core.compare (Qt-free) on hand-made arrays and on real trained models
(the trained-workspace fixture itself checked first); RunMonitor, the Qt face of training.run_state's folding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from binaudit.core import labels as L
from binaudit.core.compare import (
    BROKEN,
    CHANGED,
    FIXED,
    Flip,
    accuracy_and_rmse,
    compare_models,
    confusion_matrix,
    count_distribution,
    label_vs_predicted,
    per_class_accuracy,
    validation_images,
)
from binaudit.core.store import Store


def test_confusion_accuracy_rmse_and_distributions() -> None:
    true = np.array([0, 1, 1, 2, 2, 2, 5])
    pred = np.array([0, 1, 2, 2, 2, 0, 9])  # 9 is outside the classes: left out of the matrix
    cm = confusion_matrix(true, pred, 6)
    assert cm.sum() == 6 and cm[1, 2] == 1 and cm[2, 2] == 2 and cm[2, 0] == 1
    acc = per_class_accuracy(cm)
    assert acc[0] == 1.0 and acc[1] == 0.5 and acc[2] == pytest.approx(2 / 3) and math.isnan(acc[3])
    a, r = accuracy_and_rmse(true[:6], pred[:6])
    assert a == pytest.approx(4 / 6) and r == pytest.approx(math.sqrt((1 + 4) / 6))
    rec, prd = count_distribution(np.array([0, 1, 7, -1]), np.array([5, 5, -1, 2]), 5)
    assert rec.tolist() == [1, 1, 0, 0, 0, 1] and prd.tolist() == [0, 0, 1, 0, 0, 2]
    eff = np.array([7, 3, -1, 2])
    m = label_vs_predicted(eff, np.array([5, 3, 1, -1]), np.array([True, True, True, True]), list(range(6)))
    assert m[5, 5] == 1 and m[3, 3] == 1 and m.sum() == 2  # 7 counts as the top class; unknowns left out
    assert [Flip("a", 2, 1, 2).outcome, Flip("b", 2, 2, 3).outcome, Flip("c", 2, 1, 3).outcome] == [FIXED, BROKEN,
                                                                                                  CHANGED]


def test_trained_workspace_has_a_real_active_svm(trained_store: Store) -> None:
    model = trained_store.active_model("svm")
    assert model is not None and model["kind"] == "svm" and model["run_id"] is not None
    from binaudit.core.abid import IMAGE_USABLE_STATUSES
    assert trained_store.scored_image_ids(model["id"]) == set(trained_store.image_ids(status=IMAGE_USABLE_STATUSES))
    run_id, oof = trained_store.latest_oof()
    assert run_id == model["run_id"] and oof


def test_compare_two_trained_svms_on_the_new_runs_validation_images(trained_store: Store) -> None:
    from binaudit.ml.scoring import score_images
    from training.__main__ import main

    store = trained_store
    old = store.active_model("svm")
    val_ids, source = validation_images(store, old)
    assert "run" in source and set(val_ids) <= set(store.image_ids(split="val"))
    wrong = val_ids[0]  # a curator's correction changes the truth the comparison uses
    store.record_label(wrong, user="t", status=L.CORRECTED, count=0)
    store.record_label(val_ids[1], user="t", status=L.EXCLUDED)
    assert main(["svm", "--db", str(store.path), "--size", "12", "--pca", "6", "--folds", "0", "--threads", "1"]) == 0
    new_id = store.list_models(kind="svm")[-1]["id"]
    score_images(store, new_id, device="cpu", num_workers=0, image_ids=val_ids)
    c = compare_models(store, new_id, old["id"])
    assert val_ids[1] not in c.image_ids  # excluded: not in the new run's val split, nor in the comparison
    truth = dict(zip(c.image_ids, c.labels.tolist()))
    assert truth[wrong] == 0
    new_preds = {p["image_id"]: p["predicted"] for p in store.predictions(new_id, c.image_ids)}
    old_preds = {p["image_id"]: p["predicted"] for p in store.predictions(old["id"], c.image_ids)}
    assert c.new.accuracy == pytest.approx(np.mean([new_preds[i] == truth[i] for i in c.image_ids]))
    assert c.old.accuracy == pytest.approx(np.mean([old_preds[i] == truth[i] for i in c.image_ids]))
    assert {f.image_id for f in c.flips} == {i for i in c.image_ids if new_preds[i] != old_preds[i]}
    assert c.new.confusion.sum() == len(c.image_ids) and np.trace(c.new.confusion) == round(c.new.accuracy * c.new.n)
    assert "validation images" in c.summary()


def test_run_monitor_folds_the_stream(qapp) -> None:
    from binaudit.gui.training.process import RunMonitor
    from training.run_state import CANCELLED, RUNNING

    m = RunMonitor("resnet", "t")
    m.handle({"event": "started", "time": 100.0, "run_id": 7, "epochs": 4, "images": {"train": {"n": 10}}})
    assert m.state == RUNNING and m.run_id == 7 and m.fraction() is None
    m.handle({"event": "progress", "stage": "cache 32px", "done": 5, "total": 10})
    assert m.fraction() == 0.5 and "cache 32px 5/10" in m.status_text()
    m.handle({"event": "batch", "time": 101.0, "epoch": 1, "batch": 1, "batches": 4, "loss": 1.5})
    m.handle({"event": "batch", "time": 102.0, "epoch": 1, "batch": 2, "batches": 4, "loss": 1.4})
    assert m.fraction() == pytest.approx(0.5 / 4) and m.eta_seconds() is not None
    m.handle({"event": "epoch", "epoch": 1, "train_loss": 1.3, "val_acc": 0.4, "val_loss": None})
    assert m.fraction() == 0.25 and "val acc 40.0%" in m.status_text()
    m.handle({"event": "lr_finder", "lr": 0.01, "loss": 1.0})
    m.handle({"event": "cancelled", "reason": "stopped by SIGTERM", "run_id": 7, "model_id": None, "resume": "x"})
    m.finish(CANCELLED)
    assert m.state == CANCELLED and not m.active and m.eta_seconds() is None and "SIGTERM" in m.status_text()
    assert m.batch_losses == [(0.25, 1.5), (0.5, 1.4)] and m.lr_points == [(0.01, 1.0)]
