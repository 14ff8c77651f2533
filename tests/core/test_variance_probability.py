"""core.variance: one P(variance) from several models, pooled with weights fitted on validation records.

Simulated bins: true counts, records with planted variances, and models that see the true count through
noise (an informative one, a weaker one, a random one, an over-confident one); then the real store path:
stored probability vectors read by the browse index and pooled at load.
"""

from __future__ import annotations

import numpy as np
import pytest

from binaudit.core import variance as V
from binaudit.core.browse import BrowseIndex
from binaudit.core.store import PredictionRow, Store

K = 6


def _bins(n: int, seed: int, k: int = K, rate: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True counts, recorded counts (a `rate` of them off by 1-2 items) and the planted mask."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    planted = rng.random(n) < rate
    shift = rng.choice([-2, -1, 1, 2], n)
    recorded = np.where(planted, np.clip(true + shift, 0, k - 1), true)
    planted &= recorded != true
    return true, recorded, planted


def _model(true: np.ndarray, sharpness: float, noise: float, seed: int, k: int = K) -> np.ndarray:
    """A model that sees the true count through noise: softmax(-sharpness |j - true| + noise)."""
    rng = np.random.default_rng(seed)
    logits = -sharpness * np.abs(np.arange(k)[None, :] - true[:, None]) + rng.normal(0, noise, (true.size, k))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _random(n: int, seed: int, k: int = K) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(k), n)


def _auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Probability that a planted variance outranks a right record (ties count half)."""
    ranks = np.argsort(np.argsort(score, kind="stable"), kind="stable").astype(np.float64) + 1
    pos = positive.sum()
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * (~positive).sum()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_random_model_gets_no_weight_and_the_ranking_is_the_informative_models(seed: int) -> None:
    n = 4000
    true, recorded, planted = _bins(n, seed)
    probs = {"resnet": _model(true, 1.0, 0.5, seed + 10), "svm": _random(n, seed + 20)}
    validation = np.arange(n) < n // 3
    fit = V.fit_pool(probs, recorded, validation)
    print(f"\nseed {seed}: {fit.describe()}")
    assert fit.records == n // 3 and fit.weights["svm"] == 0.0 and fit.weights["resnet"] > 0.5
    combined, _ = V.combine(probs, recorded, fit)
    alone, _ = V.combine(probs, recorded, V.PoolFit({"resnet": fit.weights["resnet"], "svm": 0.0}, K, 0, "alone"))
    test = ~validation
    top = int(0.1 * test.sum())

    def first(score: np.ndarray) -> set[int]:
        return set(np.argsort(-score[test], kind="stable")[:top].tolist())

    overlap = len(first(combined) & first(alone)) / top
    corr = np.corrcoef(np.argsort(np.argsort(combined[test])), np.argsort(np.argsort(alone[test])))[0, 1]
    print(f"top-10% overlap with the informative model alone {overlap:.3f}, rank correlation {corr:.4f}")
    assert overlap > 0.9 and corr > 0.98
    raw = V.variance_probability(probs["resnet"], recorded)
    assert abs(_auc(combined[test], planted[test]) - _auc(raw[test], planted[test])) < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_pool_ranks_planted_variances_at_least_as_well_as_the_better_model(seed: int) -> None:
    n = 6000
    true, recorded, planted = _bins(n, seed)
    probs = {"resnet": _model(true, 1.0, 0.8, seed + 10), "svm": _model(true, 0.6, 0.8, seed + 20)}
    validation = np.arange(n) < n // 3
    fit = V.fit_pool(probs, recorded, validation)
    test = ~validation
    combined, _ = V.combine(probs, recorded, fit)
    single = {kind: _auc(V.variance_probability(p, recorded)[test], planted[test]) for kind, p in probs.items()}
    mean_abs = np.mean([(p * np.abs(np.arange(K) - recorded[:, None])).sum(axis=1) for p in probs.values()], axis=0)
    pooled_auc = _auc(combined[test], planted[test])
    print(f"\nseed {seed}: {fit.describe()}; AUC pooled {pooled_auc:.3f}, resnet {single['resnet']:.3f}, "
          f"svm {single['svm']:.3f}, previous mean |k - recorded| {_auc(mean_abs[test], planted[test]):.3f}")
    assert all(w > 0 for w in fit.weights.values()) and fit.weights["resnet"] > fit.weights["svm"]
    assert pooled_auc >= max(single.values())


def test_weights_undo_an_over_confident_model() -> None:
    """The weights' sum is a temperature: a model three times too sharp is weighted about 1/3."""
    n = 6000
    true, recorded, _ = _bins(n, 3)
    calibrated = _model(true, 1.0, 0.0, 4)
    sharp = calibrated ** 3 / (calibrated ** 3).sum(axis=1, keepdims=True)
    rng = np.random.default_rng(5)
    record_of = np.array([rng.choice(K, p=row) for row in calibrated])  # records drawn from the calibrated model
    fit = V.fit_pool({"resnet": sharp, "svm": _random(n, 6)}, record_of, np.ones(n, bool))
    assert fit.weights["resnet"] == pytest.approx(1 / 3, abs=0.05) and fit.weights["svm"] < 0.05
    assert recorded.size == n


def test_p_variance_falls_as_a_models_p_recorded_rises() -> None:
    rng = np.random.default_rng(7)
    n = 500
    recorded = rng.integers(0, K, n)
    a, b = _random(n, 8), _random(n, 9)
    fit = V.PoolFit({"resnet": 0.8, "svm": 0.5}, K, 0, "given")
    before, _ = V.combine({"resnet": a, "svm": b}, recorded, fit)
    raised = a.copy()
    rows = np.arange(n)
    raised[rows, recorded] = np.minimum(1.0, a[rows, recorded] * 1.5)  # more on the record, the rest scaled down
    others = 1 - a[rows, recorded]
    scale = (1 - raised[rows, recorded]) / others
    raised *= scale[:, None]
    raised[rows, recorded] = np.minimum(1.0, a[rows, recorded] * 1.5)
    after, _ = V.combine({"resnet": raised, "svm": b}, recorded, fit)
    assert np.allclose(raised.sum(axis=1), 1) and np.all(after < before)
    order = np.argsort(V.at_recorded(a, recorded))
    assert np.all(np.diff(V.variance_probability(a, recorded)[order]) <= 1e-12)  # one model: 1 - p(recorded)


def test_models_with_different_class_counts_align_on_the_common_range() -> None:
    n = 3000
    true, recorded, _ = _bins(n, 11, k=13)
    wide = _model(true, 1.0, 0.5, 12, k=13)
    narrow = _model(np.minimum(true, 5), 1.0, 0.5, 13, k=6)
    fit = V.fit_pool({"resnet": wide, "svm": narrow}, recorded, np.ones(n, bool))
    assert fit.classes == 6 and all(w > 0.3 for w in fit.weights.values())
    folded = V.aligned(wide, 6)
    assert np.allclose(folded[:, 5], wide[:, 5:].sum(axis=1)) and np.allclose(folded.sum(axis=1), 1)
    p_variance, pooled = V.combine({"resnet": wide, "svm": narrow}, np.full(n, 17), fit)
    assert np.allclose(p_variance, 1 - pooled[:, 5])  # 17 items recorded: judged against "5 or more"
    useless = V.fit_pool({"resnet": wide, "svm": _random(n, 14)}, recorded, np.ones(n, bool))
    assert useless.weights["svm"] == 0.0 and useless.classes == 13  # a useless narrow model does not narrow the pool
    p_variance, _ = V.combine({"resnet": wide, "svm": _random(n, 14)}, recorded, useless)
    above = recorded > 5
    assert above.any() and np.nanmax(np.abs(p_variance - V.variance_probability(
        V.pooled(V.log_probs(wide, 13)[None], np.array([useless.weights["resnet"]])), recorded))) < 1e-12


def test_fallbacks_weight_each_model_1_and_say_why() -> None:
    n = 100
    true, recorded, _ = _bins(n, 15)
    one = V.fit_pool({"resnet": _model(true, 1.0, 0.5, 16)}, recorded, np.ones(n, bool))
    assert one.weights == {"resnet": 1.0} and "one model" in one.note and one.records == 0
    probs = {"resnet": _model(true, 1.0, 0.5, 16), "svm": _random(n, 17)}
    none = V.fit_pool(probs, recorded, np.zeros(n, bool))
    assert none.weights == {"resnet": 1.0, "svm": 1.0} and "too few" in none.note
    partial = {"resnet": probs["resnet"], "svm": np.where(np.arange(n)[:, None] < 50, probs["svm"], np.nan)}
    p_variance, _ = V.combine(partial, recorded, none)
    resnet_only = V.variance_probability(V.aligned(probs["resnet"], K), recorded)
    assert np.allclose(p_variance[50:], resnet_only[50:])  # a model that did not score a row is left out of it
    many = np.random.default_rng(18).integers(0, K, 5000)
    noise = {"resnet": _random(5000, 18), "svm": _random(5000, 19)}
    useless = V.fit_pool(noise, many, np.ones(5000, bool))  # nothing explains the records: keep the queue
    assert useless.weights == {"resnet": 1.0, "svm": 1.0} and "better than chance" in useless.note
    assert np.isfinite(V.combine(noise, many, useless)[0]).all()
    recorded = recorded.copy()
    recorded[0] = -1
    assert np.isnan(V.combine(probs, recorded, none)[0][0])


def test_the_browse_index_pools_stored_probabilities(store: Store) -> None:
    """The store's probability vectors reach the index (irregular lists too) and the pool is fitted at load."""
    n = 300
    true, recorded, planted = _bins(n, 21)
    ids = [f"img{i:04d}" for i in range(n)]
    store.upsert_images([{"image_id": i, "path": None, "recorded_count": int(r), "status": "ok",
                          "split": "val" if j % 2 else "test"} for j, (i, r) in enumerate(zip(ids, recorded))], {})
    informative, noise = _model(true, 1.0, 0.5, 22), _random(n, 23)
    for kind, probs in (("resnet", informative), ("svm", noise)):
        model_id = store.register_model(kind=kind, architecture="t", classes=list(range(K)), path=kind, sha256="0")
        rows = [PredictionRow(i, int(p.argmax()), [round(float(x), 6) for x in p], float(p @ np.arange(K)),
                              float(p.max())) for i, p in zip(ids, probs)]
        if kind == "svm":
            rows[0] = PredictionRow(ids[0], 1, [0.5, 0.5], 0.5, 0.5)  # a short list: padded
        store.write_predictions(model_id, rows)
        store.activate_model(model_id)
    index = BrowseIndex.load(store)
    assert np.allclose(index.models["resnet"].probs, informative, atol=1e-6)
    assert np.allclose(index.models["svm"].probs[1:], noise[1:], atol=1e-6)
    assert np.isnan(index.models["svm"].probs[0, 2:]).all()
    assert index.pool.records == n // 2 and index.pool.weights["svm"] == 0.0 < index.pool.weights["resnet"]
    queue = index.queue_order()
    assert len(queue) == n
    stored_noise = np.where(np.arange(n)[:, None] == 0, np.nan, noise)  # the short list: not a prediction
    expected, _ = V.combine({"resnet": informative, "svm": stored_noise}, recorded, index.pool)
    assert np.allclose(index.variance_probability(), expected, atol=1e-4)
    assert planted[queue[:30]].mean() > 2 * planted.mean()


def test_the_queue_key_keeps_near_certain_variances_apart() -> None:
    """P(variance) in float32 rounds 1 - 1e-9 and 1 - 1e-12 to 1; the surprisal the queue sorts by does not."""
    p_recorded = np.array([1e-12, 1e-9, 0.5, 0.9])
    assert np.float32(1 - p_recorded[0]) == np.float32(1 - p_recorded[1])
    key = V.surprisal(p_recorded)
    assert np.all(np.diff(key) < 0) and np.array_equal(np.argsort(-key), np.argsort(-(1 - p_recorded), kind="stable"))
