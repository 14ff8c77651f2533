"""SVM probabilities from a multinomial map of the decision values fitted on held-out data: the old softmax over
vote-dominated margin scores gave every image nearly the same flat vector; the calibrated map spreads confidence
by image, is calibrated on held-out data, survives the npz round trip, and old files keep their old maths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from binaudit.core.calibration import expected_calibration_error, fit_temperature, nll
from binaudit.core.store import Store
from binaudit.ml.modelfiles import load_registered
from binaudit.ml.scoring import score_images
from binaudit.ml.svm import FeatureSpec, TorchSVM, fit_svm
from binaudit.ml.svm_calibration import fit_decision_calibrator
from tests.training.support import db_of, final, run_in_process

torch.set_num_threads(1)


def blobs(n: int, sep: float, seed: int, k: int = 6, d: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Class c shifted by sep * c along 4 of d noisy dimensions: sep 0.3 is weak (about real-photo
    accuracy), 3.0 nearly separable."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, d)) + sep * y[:, None] * (np.arange(d) < 4)
    return X.astype(np.float32), y


def _models(sep: float) -> tuple[TorchSVM, np.ndarray, np.ndarray, np.ndarray]:
    """An SVM calibrated on val; (svm, test X, test y, the old method's test probabilities)."""
    X, y = blobs(300, sep, 0)
    Xv, yv = blobs(300, sep, 1)
    Xt, yt = blobs(600, sep, 2)
    svm = TorchSVM.from_pipeline(fit_svm(X, y, C=10, n_components=12))
    old = svm.margin_probabilities(Xt, fit_temperature(svm.margin_probabilities(Xv), yv))
    svm.calibrate(Xv, yv)
    return svm, Xt, yt, old


def test_weak_svm_old_probabilities_are_flat_and_the_calibrated_ones_are_not() -> None:
    svm, Xt, yt, old = _models(0.3)
    new = svm.predict_proba(Xt)
    assert old.max(1).max() - old.max(1).min() < 0.12  # the root cause: one pattern for every image
    assert new.max(1).std() > 2 * old.max(1).std()
    assert new.max(1).max() > old.max(1).max() + 0.1
    assert nll(new, yt) < nll(old, yt) - 0.05  # and the spread is information, not noise
    assert expected_calibration_error(new, yt) < 0.06


def test_separable_svm_is_confident_and_calibrated() -> None:
    svm, Xt, yt, old = _models(3.0)
    new = svm.predict_proba(Xt)
    assert new.max(1).mean() > 0.9 and np.mean(new.max(1) > 0.95) > 0.5
    assert expected_calibration_error(new, yt) < 0.05
    assert nll(new, yt) < nll(old, yt) / 2
    assert svm.temperature == 1.0 and svm.calibration_info["n"] == 300


def test_calibrator_round_trips_and_old_files_keep_their_maths(tmp_path: Path) -> None:
    svm, Xt, _, _ = _models(1.0)
    path = tmp_path / "svm.npz"
    svm.save_npz(path, FeatureSpec(size=8))
    back, _ = TorchSVM.load_npz(path)
    assert back.calibrator is not None
    assert np.allclose(back.predict_proba(Xt), svm.predict_proba(Xt))
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    svm.calibrator, svm.temperature = None, 2.5  # a file written before the calibrator existed
    svm.save_npz(tmp_path / "old.npz")
    old, _ = TorchSVM.load_npz(tmp_path / "old.npz")
    assert old.calibrator is None
    assert np.allclose(old.predict_proba(Xt), old.margin_probabilities(Xt, 2.5))


def test_absent_classes_and_grouped_folds() -> None:
    rng = np.random.default_rng(0)
    dec = rng.normal(size=(90, 15))
    target = rng.integers(0, 4, 90)  # classes 4 and 5 never seen in the held-out set
    groups = np.repeat(np.arange(30), 3)
    cal, info = fit_decision_calibrator(dec, target, 6, groups=groups)
    probs = cal.probabilities(dec)
    assert probs.shape == (90, 6) and np.allclose(probs.sum(1), 1.0)
    assert 0 < probs[:, 4:].max() < 0.05 and set(info["cv_nll"]) and info["l2"] in (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
    with pytest.raises(ValueError, match="no held-out images"):
        fit_decision_calibrator(np.zeros((0, 15)), np.zeros(0, dtype=int), 6)


def test_svm_run_reports_ece_and_scores_calibrated_vectors(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["svm", "--db", db_of(synth_store), "--size", "12", "--pca", "10",
                                           "--folds", "2", "--threads", "1"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    metrics = done["metrics"]
    assert {"ece", "ece_uncalibrated", "val_ece", "calibration"} <= set(metrics)
    report = json.loads((Path(done["run_dir"]) / "report.json").read_text())
    assert report["calibration"]["fitted_on"] == "val" and "test_ece_margin_temperature" in report["calibration"]
    model = load_registered(synth_store, done["model_id"])
    assert model.svm.calibrator is not None
    score_images(synth_store, done["model_id"], device="cpu", num_workers=0)
    probs = np.array([p["probs"] for p in synth_store.predictions(done["model_id"])])
    assert probs.shape[1] == 6 and np.allclose(probs.sum(1), 1.0)
