"""binaudit.core.calibration: top-label ECE, temperature scaling fitted on held-out data, per-bin sums."""

from __future__ import annotations

import numpy as np
import pytest

from binaudit.core.calibration import (
    apply_temperature,
    calibration_bins,
    calibration_report,
    ece_from_bins,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
)


def _sampled(n: int, k: int, sharpen: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(true logits); the model reports softmax(sharpen x true logits)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, k))
    truth = softmax(logits)
    labels = np.array([rng.choice(k, p=row) for row in truth])
    return softmax(sharpen * logits), labels


def test_a_calibrated_model_has_a_small_ece_and_keeps_t_near_one() -> None:
    probs, labels = _sampled(6000, 6, 1.0, seed=0)
    assert expected_calibration_error(probs, labels) < 0.03
    assert fit_temperature(probs, labels) == pytest.approx(1.0, abs=0.1)


def test_temperature_fixes_a_deliberately_over_confident_model() -> None:
    val, val_y = _sampled(4000, 6, 3.0, seed=1)
    test, test_y = _sampled(4000, 6, 3.0, seed=2)
    before = expected_calibration_error(test, test_y)
    t = fit_temperature(val, val_y)
    after = expected_calibration_error(apply_temperature(test, t), test_y)
    assert t == pytest.approx(3.0, rel=0.15)  # undoes the sharpening it was given
    assert before > 0.15 and after < 0.04 and after < before / 4
    assert nll(apply_temperature(test, t), test_y) < nll(test, test_y)
    # the argmax (accuracy) never changes under a temperature
    assert np.array_equal(apply_temperature(test, t).argmax(1), test.argmax(1))


def test_fitted_temperature_is_the_nll_minimum() -> None:
    probs, labels = _sampled(800, 4, 0.4, seed=3)  # under-confident: T < 1
    t = fit_temperature(probs, labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(5), 2001))
    best = grid[np.argmin([nll(apply_temperature(probs, g), labels) for g in grid])]
    assert t < 1 and t == pytest.approx(best, rel=0.01)


def test_per_bin_sums_add_up_over_shards() -> None:
    probs, labels = _sampled(1000, 6, 2.0, seed=4)
    whole = calibration_bins(probs, labels)
    halves = calibration_bins(probs[::2], labels[::2]) + calibration_bins(probs[1::2], labels[1::2])
    assert whole.shape == (15, 3) and np.allclose(whole, halves) and whole[:, 0].sum() == 1000
    assert ece_from_bins(halves) == pytest.approx(expected_calibration_error(probs, labels))


def test_ece_by_hand_and_edge_cases() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    # bins: 0.9 x2 (one right: |0.5 - 0.9|), 0.6 (right: 0.4), 0.7 (right: 0.3) -> (2*0.4 + 0.4 + 0.3) / 4
    assert expected_calibration_error(probs, labels) == pytest.approx((0.8 + 0.4 + 0.3) / 4)
    assert np.isnan(expected_calibration_error(np.zeros((0, 3)), np.zeros(0)))
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0)) == 1.0
    # a class given probability 0 stays finite and near 0
    out = apply_temperature(np.array([[0.5, 0.5, 0.0]]), 2.0)
    assert np.all(np.isfinite(out)) and out[0, 2] < 1e-5 and out.sum() == pytest.approx(1.0)


def test_report_before_and_after() -> None:
    probs, labels = _sampled(2000, 6, 3.0, seed=5)
    t = fit_temperature(probs, labels)
    rep = calibration_report(probs, labels, t)
    assert rep["ece"] < rep["ece_before"] and rep["nll"] < rep["nll_before"]
    assert rep["confidence"] < rep["confidence_before"] and rep["n"] == 2000
