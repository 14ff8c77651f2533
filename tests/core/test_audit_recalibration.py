"""The loop's recalibration on simulated reviews where the truth is known: it reorders when a feature truly
predicts variances, stays at the prior when nothing does, and round-trips through JSON."""

from __future__ import annotations

import numpy as np
import pytest

from binaudit.core.audit import (
    MIN_REVIEWS,
    Recalibration,
    apply_recalibration,
    features,
    fit_recalibration,
    logit,
    sigmoid,
)


def _world(seed: int, strength: float, bins: int = 20_000) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(features, prior logit, truly a variance) where the truth's logit is the prior's + strength * signal."""
    rng = np.random.default_rng(seed)
    prior = rng.normal(-3.5, 1.0, bins)
    x = {"signal": rng.normal(size=bins), "noise": rng.normal(size=bins)}
    truth = rng.random(bins) < sigmoid(prior + strength * x["signal"])
    return x, prior, truth


def _rows(x: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {name: column[rows] for name, column in x.items()}


def _found_in_top(score: np.ndarray, truth: np.ndarray, k: int) -> int:
    return int(truth[np.argsort(-score)[:k]].sum())


def test_a_predictive_feature_reorders_the_unreviewed_bins() -> None:
    """Reviews of the queue's top teach the fit the signal; the unreviewed bins' top 500 then holds more variances."""
    x, prior, truth = _world(1, strength=2.0)
    reviewed = np.argsort(-prior)[:600]                        # the queue top-first, as an auditor reviews it
    rec = fit_recalibration(_rows(x, reviewed), truth[reviewed], prior[reviewed])
    assert rec.reviewed == 600 and rec.positives == int(truth[reviewed].sum())
    assert 1.4 <= rec.coefficients["signal"] <= 2.6 and abs(rec.coefficients["noise"]) < 0.4
    rest = np.setdiff1d(np.arange(prior.size), reviewed)
    new = apply_recalibration(rec, _rows(x, rest), prior[rest])
    assert _found_in_top(new, truth[rest], 500) > 1.5 * _found_in_top(prior[rest], truth[rest], 500)


def _fits_without_signal(reviews: int, l2: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Over 20 worlds where no feature predicts anything, fits on the queue top: (largest |coefficient|,
    correlation of the new logit with the prior)."""
    largest, kept = [], []
    for seed in range(20):
        x, prior, truth = _world(100 + seed, strength=0.0, bins=5000)
        top = np.argsort(-prior)[:reviews]
        kw = {} if l2 is None else {"l2": l2}
        rec = fit_recalibration(_rows(x, top), truth[top], prior[top], **kw)
        largest.append(max(abs(v) for v in rec.coefficients.values()))
        kept.append(np.corrcoef(logit(apply_recalibration(rec, x, prior)), prior)[0, 1])
    return np.array(largest), np.array(kept)


def test_a_useless_feature_and_few_reviews_stay_at_the_prior() -> None:
    """40 reviews, no signal: coefficients near 0 and the order kept; unpenalised, the same fits would wander."""
    largest, kept = _fits_without_signal(40)
    assert np.median(largest) < 0.25 and np.median(kept) > 0.95 and kept.min() > 0.8
    loose, _ = _fits_without_signal(40, l2=1e-6)
    assert np.median(loose) > 0.35


def test_the_prior_is_an_offset_a_constant_miscalibration_moves_the_intercept() -> None:
    """Models that overstate P(variance) by a constant logit: the fit learns the shift, not the features."""
    rng = np.random.default_rng(3)
    prior = rng.normal(-2.0, 1.0, 5000)
    x = {"noise": rng.normal(size=5000)}
    truth = rng.random(5000) < sigmoid(prior - 1.5)
    rec = fit_recalibration(x, truth, prior)
    assert rec.intercept == pytest.approx(-1.5, abs=0.25) and abs(rec.coefficients["noise"]) < 0.15


def test_too_few_reviews_change_nothing() -> None:
    x, prior, truth = _world(4, strength=2.0, bins=100)
    rec = fit_recalibration(_rows(x, np.arange(MIN_REVIEWS - 1)), truth[:MIN_REVIEWS - 1], prior[:MIN_REVIEWS - 1])
    assert rec.coefficients == {} and rec.intercept == 0.0 and "too few" in rec.note
    assert apply_recalibration(rec, x, prior) == pytest.approx(sigmoid(prior))


def test_unscored_bins_are_left_out_of_the_fit_and_stay_unscored() -> None:
    x, prior, truth = _world(5, strength=1.0, bins=400)
    prior[:50] = np.nan
    rec = fit_recalibration(x, truth, prior)
    assert rec.reviewed == 350
    assert np.isnan(apply_recalibration(rec, x, prior)[:50]).all()


def test_json_round_trip_and_description() -> None:
    rec = Recalibration({"pooled_surprisal": 0.25, "rule": -1.0}, -0.5, 120, 14, "recalibrated on 120 reviews")
    again = Recalibration.from_json(rec.to_json())
    assert again == rec
    assert "120 reviews" in rec.describe() and "rule -1.00" in rec.describe()


def test_features_from_class_probabilities_known_answers() -> None:
    recorded = np.array([1, 0, 5])
    svm = np.array([[0.1, 0.8, 0.1], [0.5, 0.25, 0.25], [np.nan, np.nan, np.nan]])
    cnn = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.2, 0.2, 0.6]])
    pooled = np.array([[0.05, 0.9, 0.05], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    f = features(recorded, pooled, {"svm": svm, "cnn": cnn}, rule=np.array([False, False, True]))
    assert set(f) == {"pooled_surprisal", "recorded", "rule", "surprisal:svm", "count_gap:svm", "surprisal:cnn",
                      "count_gap:cnn"}
    assert f["pooled_surprisal"] == pytest.approx(-np.log([0.9, 0.8, 0.8]))   # record 5 read as the top class
    assert f["surprisal:svm"] == pytest.approx([-np.log(0.8), -np.log(0.5), -np.log(0.8)])  # unscored: pooled's
    assert f["surprisal:cnn"][1] == pytest.approx(0.0)
    assert f["count_gap:cnn"] == pytest.approx(np.log1p([0.5, 0.0, abs(1.4 - 2)]))
    assert f["count_gap:svm"][2] == pytest.approx(f["count_gap:cnn"][2])       # unscored: the other models' mean
    assert f["recorded"] == pytest.approx(np.log1p([1, 0, 5])) and f["rule"].tolist() == [0.0, 0.0, 1.0]
    without_pool = features(recorded, None, {"cnn": cnn})
    assert without_pool["pooled_surprisal"] == pytest.approx(f["surprisal:cnn"])
