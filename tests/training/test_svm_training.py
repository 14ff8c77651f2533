"""SVM runs: features, fit, calibrated probabilities, out-of-fold probabilities in the store, registration;
the baselines table; the LR range test as its own command."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from binaudit.core.store import Store
from binaudit.ml.modelfiles import load_registered
from binaudit.ml.scoring import score_images
from tests.training.support import db_of, final, run_in_process


def test_svm_run_registers_a_model_and_stores_out_of_fold_probabilities(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["svm", "--db", db_of(synth_store), "--size", "16", "--pca", "20",
                                           "--folds", "3", "--threads", "1"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    assert events[0]["event"] == "started" and events[0]["kind"] == "svm"
    assert any(e["event"] == "progress" and e["stage"] == "out-of-fold" for e in events)
    model = synth_store.get_model(done["model_id"])
    assert model["kind"] == "svm" and not model["active"]
    _check_metrics_are_the_models_own(synth_store, done)
    run_id, oof = synth_store.latest_oof()
    assert run_id == done["run_id"]
    labelled = {i for i, _, c in synth_store.training_labels() if c <= 5}
    assert {r["image_id"] for r in oof} == labelled
    probs = np.array([r["probs"] for r in oof])
    assert probs.shape[1] == 6 and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    svm = load_registered(synth_store, done["model_id"])  # the registered file loads and predicts
    assert svm.kind == "svm" and svm.input_size == 16
    assert (Path(done["run_dir"]) / "report.md").is_file()


def _check_metrics_are_the_models_own(store: Store, done: dict) -> None:
    """The reported test figures are the registered model's predictions on the test split (counts 0-5)."""
    splits = store.image_splits()
    labels = {i: c for i, _, c in store.training_labels() if splits[i] == "test" and c <= 5}
    score_images(store, done["model_id"], device="cpu", num_workers=0, image_ids=list(labels))
    predicted = {p["image_id"]: p["predicted"] for p in store.predictions(done["model_id"], list(labels))}
    y = np.array([labels[i] for i in labels])
    p = np.array([predicted[i] for i in labels])
    assert done["metrics"]["n"] == len(labels) > 0
    assert done["metrics"]["accuracy"] == pytest.approx(float((p == y).mean()))
    assert done["metrics"]["rmse"] == pytest.approx(float(np.sqrt(((p - y) ** 2).mean())))


def test_baselines_print_the_per_class_table(synth_store: Store, capsys) -> None:
    from training.__main__ import main
    code = main(["baselines", "--db", db_of(synth_store), "--size", "12", "--hog-size", "32", "--pca", "10",
                 "--methods", "logreg:pixels,tree:pixels,svc-rbf:pca,svc-rbf:hog,nusvc:pca",
                 "--eval-split", "val", "--threads", "1"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    header = next(i for i, line in enumerate(out) if line.startswith("count"))
    assert out[header].split()[1:] == ["logreg:pixels", "tree:pixels", "svc-rbf:pca", "svc-rbf:hog", "nusvc:pca"]
    rows = [line.split()[0] for line in out[header + 1:]]
    assert rows == ["0", "1", "2", "3", "4", "5", "overall"]
    # each method's overall accuracy is its per-class accuracies weighted by the val split's class counts
    splits = synth_store.image_splits()
    support = Counter(c for i, _, c in synth_store.training_labels() if splits[i] == "val" and c <= 5)
    n = sum(support.values())
    assert f"({n} images" in out[header - 1]
    table = {line.split()[0]: line.split()[1:] for line in out[header + 1:header + 8]}
    for col in range(5):
        assert [table[str(c)][col] == "-" for c in range(6)] == [support[c] == 0 for c in range(6)]
        correct = sum(round(float(table[str(c)][col]) * support[c]) for c in support)
        assert float(table["overall"][col]) == pytest.approx(correct / n, abs=0.005)


def test_lr_find_command(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["lr-find", "--db", db_of(synth_store), "--recipe", "tiny",
                                           "--num-iter", "15", "--threads", "1"])
    done = final(events)
    assert code == 0 and done["event"] == "finished"
    points = [e for e in events if e["event"] == "lr_finder"]
    assert len(points) >= 5 and all(p["lr"] > 0 for p in points)
    assert points == sorted(points, key=lambda p: p["lr"])
    assert Path(done["metrics"]["plot"]).stat().st_size > 1000
