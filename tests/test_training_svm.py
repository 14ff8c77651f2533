"""SVM runs: features, fit, calibrated probabilities, out-of-fold probabilities in the store, registration;
the baselines table; the LR range test as its own command."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from binaudit.core.store import Store
from binaudit.ml.modelfiles import load_registered
from tests.test_training_support import db_of, final, run_in_process


def test_svm_run_registers_a_model_and_stores_out_of_fold_probabilities(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["svm", "--db", db_of(synth_store), "--size", "16", "--pca", "20",
                                           "--folds", "3", "--threads", "1"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    assert events[0]["event"] == "started" and events[0]["kind"] == "svm"
    assert any(e["event"] == "progress" and e["stage"] == "out-of-fold" for e in events)
    model = synth_store.get_model(done["model_id"])
    assert model["kind"] == "svm" and not model["active"]
    assert 0.0 <= done["metrics"]["accuracy"] <= 1.0 and done["metrics"]["rmse"] >= 0
    run_id, oof = synth_store.latest_oof()
    assert run_id == done["run_id"]
    labelled = {i for i, _, c in synth_store.training_labels() if c <= 5}
    assert {r["image_id"] for r in oof} == labelled
    probs = np.array([r["probs"] for r in oof])
    assert probs.shape[1] == 6 and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    svm = load_registered(synth_store, done["model_id"])  # the registered file loads and predicts
    assert svm.kind == "svm" and svm.input_size == 16
    assert (Path(done["run_dir"]) / "report.md").is_file()


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
    overall = [float(v) for v in out[header + 7].split()[1:]]
    assert all(0.0 <= v <= 1.0 for v in overall)


def test_lr_find_command(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["lr-find", "--db", db_of(synth_store), "--recipe", "tiny",
                                           "--num-iter", "15", "--threads", "1"])
    done = final(events)
    assert code == 0 and done["event"] == "finished"
    points = [e for e in events if e["event"] == "lr_finder"]
    assert len(points) >= 5 and all(p["lr"] > 0 for p in points)
    assert points == sorted(points, key=lambda p: p["lr"])
    assert Path(done["metrics"]["plot"]).stat().st_size > 1000
