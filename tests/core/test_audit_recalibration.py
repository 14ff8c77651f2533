"""The loop's recalibration on simulated reviews where the truth is known: it reorders when a feature truly
predicts variances, stays at the prior when nothing does, and round-trips through JSON; and the held-out choice
among no change, the error-size model, an order-keeping recalibration and the full one (select_recalibration)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from binaudit.core.audit import (
    MIN_REVIEWS,
    Recalibration,
    apply_recalibration,
    features,
    fit_recalibration,
    logit,
    select_recalibration,
    sigmoid,
)
from binaudit.core.audit.error_sizes import CountEvidence, error_sizes, miscount_logit
from binaudit.core.audit.recalibration import fit_candidate
from binaudit.core.audit.selection import ORDER_KEEPING, forward_chunks, held_out_losses, select_candidate


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
    rec = Recalibration({"pooled_surprisal": 0.25, "rule": -1.0}, -0.5, 120, 14, "recalibrated on 120 reviews", "full")
    again = Recalibration.from_json(rec.to_json())
    assert again == rec and again.candidate == "full"
    assert "120 reviews" in rec.describe() and "rule -1.00" in rec.describe()
    stored_before_the_selection = '{"coefficients": {}, "intercept": -1.0, "note": "n", "positives": 1, "reviewed": 20}'
    assert Recalibration.from_json(stored_before_the_selection).candidate == ""


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


# ---------------------------------------------------------------------------------------------- the held-out choice
def _queue_world(seed: int, strength: float, bins: int = 20_000, flip_below: float | None = None,
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(features, prior logit, truth) with pooled_surprisal = -log(1 - P) of the prior, as the app builds it; the
    truth's logit is the prior's + strength * signal (the signal's effect reversed where the prior is below
    flip_below, when given: a feature whose lesson at the queue's top is wrong further down)."""
    rng = np.random.default_rng(seed)
    prior = rng.normal(-3.5, 1.0, bins)
    x = {"pooled_surprisal": np.logaddexp(0.0, prior), "signal": rng.normal(size=bins), "noise": rng.normal(size=bins)}
    effect = strength * x["signal"]
    if flip_below is not None:
        effect = np.where(prior < flip_below, -effect, effect)
    return x, prior, rng.random(bins) < sigmoid(prior + effect)


def _reviews(prior: np.ndarray, queue: int, sample: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reviewed rows in review order, which of them are random-sample reviews, the unreviewed rows): the queue's
    top `queue` bins by prior, then a random sample's bins not reviewed yet."""
    top = np.argsort(-prior)[:queue]
    drawn = np.random.default_rng(seed).choice(prior.size, sample, replace=False)
    rows = np.concatenate([top, np.setdiff1d(drawn, top)])
    return rows, np.isin(rows, drawn) & ~np.isin(rows, top), np.setdiff1d(np.arange(prior.size), rows)


def _keeps_order(p: np.ndarray, prior: np.ndarray) -> bool:
    return bool(np.all(np.diff(p[np.argsort(prior, kind="stable")]) >= -1e-12))


def test_a_truly_predictive_feature_confirmed_by_a_random_sample_is_chosen_and_finds_more() -> None:
    for seed in range(3):
        x, prior, truth = _queue_world(10 + seed, strength=2.0)
        rows, in_sample, rest = _reviews(prior, 600, 400, seed)
        rec, sel = select_recalibration(_rows(x, rows), truth[rows], prior[rows], in_sample)
        assert sel.chosen == rec.candidate == "full" and sel.sample_reviews == int(in_sample.sum())
        assert sel.losses["full"] < sel.losses["monotone"] and sel.sample_losses["full"] < sel.sample_losses["monotone"]
        assert "random sample's" in rec.note and "and reordered:" in rec.note
        new = apply_recalibration(rec, _rows(x, rest), prior[rest])
        assert _found_in_top(new, truth[rest], 500) > 1.5 * _found_in_top(prior[rest], truth[rest], 500)


def test_without_a_random_sample_the_queue_top_alone_cannot_reorder() -> None:
    """The same worlds, no sample: the queue's reviews favour the feature, but the order is kept and the note says
    what would let it reorder."""
    for seed in range(3):
        x, prior, truth = _queue_world(10 + seed, strength=2.0)
        top = np.argsort(-prior)[:600]
        rec, sel = select_recalibration(_rows(x, top), truth[top], prior[top])
        assert sel.chosen in ORDER_KEEPING and sel.losses["full"] < sel.losses[sel.chosen]
        assert "only a reviewed random sample can test" in rec.note
        assert _keeps_order(apply_recalibration(rec, x, prior), prior)


def test_a_lesson_that_reverses_below_the_queue_top_does_not_reorder_with_a_random_sample() -> None:
    """At the top a feature predicts variances, below it the opposite: the queue's own reviews, forward-chained,
    prefer full, and full fitted on them would find fewer variances in the unreviewed bins; with the random
    sample's reviews (mostly from below) in the evidence the order is kept."""
    for seed in range(3):
        x, prior, truth = _queue_world(20 + seed, strength=1.5, flip_below=-1.7)
        rows, in_sample, rest = _reviews(prior, 600, 400, seed)
        queue = rows[~in_sample]
        assert prior[queue].min() > -1.7  # the queue's reviews all lie above the flip
        on_queue = {c: v.mean() for c, v in held_out_losses(_rows(x, queue), truth[queue], prior[queue]).items()}
        assert on_queue["full"] < on_queue["monotone"], "the queue's own reviews favour the feature"
        full = fit_candidate("full", _rows(x, queue), truth[queue], prior[queue])
        reordered = full.logits(_rows(x, rest), prior[rest])
        assert _found_in_top(reordered, truth[rest], 500) < _found_in_top(prior[rest], truth[rest], 500)
        rec, sel = select_recalibration(_rows(x, rows), truth[rows], prior[rows], in_sample)
        assert sel.chosen in ORDER_KEEPING and _keeps_order(apply_recalibration(rec, x, prior), prior)


def test_useless_features_never_reorder() -> None:
    chosen = []
    for seed in range(12):
        x, prior, truth = _queue_world(40 + seed, strength=0.0, bins=8000)
        rows, in_sample, _ = _reviews(prior, 400, 300, seed)
        rec, sel = select_recalibration(_rows(x, rows), truth[rows], prior[rows], in_sample)
        chosen.append(sel.chosen)
        assert _keeps_order(apply_recalibration(rec, x, prior), prior)
    assert set(chosen) <= set(ORDER_KEEPING), chosen


def test_an_over_confident_prior_is_recalibrated_by_the_order_keeping_candidate() -> None:
    """Models that say 70% of the bins are wrong where 8% are (the real slice's shape): monotone is chosen, the
    next 1,000 bins' expected variances come near the truth, and the queue's order is untouched."""
    for seed in range(3):
        rng = np.random.default_rng(60 + seed)
        prior = rng.normal(1.0, 1.0, 20_000)
        x = {"pooled_surprisal": np.logaddexp(0.0, prior), "noise": rng.normal(size=prior.size)}
        truth = rng.random(prior.size) < sigmoid(0.5 * prior - 3.0)
        top = np.argsort(-prior)
        rec, sel = select_recalibration(_rows(x, top[:1000]), truth[top[:1000]], prior[top[:1000]])
        assert sel.chosen == rec.candidate == "monotone" and "noise" not in rec.coefficients
        assert sel.losses["monotone"] < 0.5 * sel.losses["identity"]
        after = top[1000:2000]
        expected = apply_recalibration(rec, _rows(x, after), prior[after]).sum()
        assert sigmoid(prior[after]).sum() > 3 * truth[after].sum()
        assert expected == pytest.approx(truth[after].sum(), rel=0.3)
        assert _keeps_order(apply_recalibration(rec, x, prior), prior)


def test_the_order_keeping_slope_stops_where_the_order_would_turn() -> None:
    """Reviews where the prior is backwards (truth falls as P rises): the free slope on pooled_surprisal would go
    below -1 and reverse the order; the monotone candidate stops at -1 and only shifts."""
    rng = np.random.default_rng(7)
    prior = rng.normal(1.0, 2.0, 3000)
    x = {"pooled_surprisal": np.logaddexp(0.0, prior)}
    truth = rng.random(prior.size) < sigmoid(-prior - 1.0)
    free = fit_candidate("full", x, truth, prior)
    assert free.coefficients["pooled_surprisal"] < -1.2
    monotone = fit_candidate("monotone", x, truth, prior)
    assert monotone.coefficients == {"pooled_surprisal": -1.0}
    p = sigmoid(prior + monotone.intercept - x["pooled_surprisal"])
    assert _keeps_order(p, prior)


def test_forward_chunks_hold_out_each_chunk_after_the_first() -> None:
    assert forward_chunks(100) == [(20, 40), (40, 60), (60, 80), (80, 100)]
    assert forward_chunks(25) == [(12, 25)] and forward_chunks(MIN_REVIEWS * 2 - 1) == []
    assert forward_chunks(1000, folds=3) == [(333, 667), (667, 1000)]


def test_held_out_losses_never_see_the_reviews_they_test() -> None:
    """A chunk's loss depends only on the reviews before it and its own labels: changing a later chunk's labels
    leaves every earlier chunk's losses as they were."""
    x, prior, truth = _queue_world(5, strength=1.0, bins=3000)
    top = np.argsort(-prior)[:500]
    a = held_out_losses(_rows(x, top), truth[top], prior[top])
    flipped = truth[top].copy()
    flipped[400:] = ~flipped[400:]
    b = held_out_losses(_rows(x, top), flipped, prior[top])
    for candidate in a:
        assert a[candidate].size == 400
        np.testing.assert_array_equal(a[candidate][:300], b[candidate][:300])
        assert not np.array_equal(a[candidate][300:], b[candidate][300:])


def test_the_one_standard_error_rule_prefers_the_simpler_candidate() -> None:
    rng = np.random.default_rng(0)
    base = rng.exponential(0.3, 400)
    tiny_gain = {"identity": base + 0.5, "monotone": base, "full": base - 0.002 + rng.normal(0, 0.05, 400)}
    assert select_candidate(tiny_gain).chosen == "monotone"
    clear_gain = {"identity": base + 0.5, "monotone": base, "full": base - 0.05}
    kept = select_candidate(clear_gain)
    assert kept.chosen == "monotone" and "none yet" in kept.reason
    sample_agrees = {"identity": base + 0.3, "monotone": base, "full": base - 0.05}
    assert select_candidate(clear_gain, sample_agrees).chosen == "full"
    sample_disagrees = {"identity": base + 0.3, "monotone": base, "full": base + 0.05}
    assert select_candidate(clear_gain, sample_disagrees).chosen == "monotone"
    no_gain = {"identity": base, "monotone": base + 0.001, "full": base + 0.01}
    assert select_candidate(no_gain).chosen == "identity"
    assert select_candidate({c: np.zeros(0) for c in tiny_gain}).chosen == "identity"


def test_few_reviews_choose_nothing_and_say_so() -> None:
    x, prior, truth = _queue_world(8, strength=2.0, bins=200)
    rec, sel = select_recalibration(_rows(x, np.arange(MIN_REVIEWS - 1)), truth[:MIN_REVIEWS - 1],
                                    prior[:MIN_REVIEWS - 1])
    assert rec.coefficients == {} and rec.intercept == 0.0 and "too few" in rec.note and sel.chosen == "identity"
    rec, sel = select_recalibration(_rows(x, np.arange(15)), truth[:15], prior[:15])
    assert sel.chosen == "identity" and sel.held_out == 0 and "too few reviews yet to test" in rec.note


# ---------------------------------------------------------------------------------------------- the error sizes
BLUNDERS = 0.08


def _count_world(seed: int, small_miscounts: bool, bins: int = 20_000) -> tuple[CountEvidence, np.ndarray, np.ndarray]:
    """(evidence with the verified counts, prior logit, truly a variance): a 0-5+ model that believes a count near
    the truth, except on 8% of bins where it blunders by 3-5; 8% of records wrong, by 1-2 (small_miscounts) or by
    any amount up to 8."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 9, bins)
    belief = true.copy()
    blunder = rng.random(bins) < BLUNDERS
    belief[blunder] = np.clip(true[blunder] + rng.choice([-5, -4, -3, 3, 4, 5], blunder.sum()), 0, 12)
    classes = np.arange(6)
    z = -1.5 * np.abs(classes[None, :] - np.minimum(belief, 5)[:, None]) + rng.normal(0, 0.5, (bins, 6))
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    off = rng.choice([-2, -1, 1, 2], bins) if small_miscounts else rng.choice([*range(-8, 0), *range(1, 9)], bins)
    recorded = np.where(rng.random(bins) < 0.08, np.maximum(true + off, 0), true)
    prior = logit(1 - probs[np.arange(bins), np.minimum(recorded, 5)])
    return CountEvidence(probs, recorded, true), prior, recorded != true


def test_error_sizes_known_answers() -> None:
    assert error_sizes(np.array([1, -1, 2, 0]), largest=3, prior=3.0) == pytest.approx((0.5, 1 / 3, 1 / 6))
    assert len(error_sizes(np.array([7]), largest=3)) == 7          # a correction further off widens the support
    assert error_sizes(np.array([], dtype=int), largest=4) == pytest.approx((0.25,) * 4)


def test_miscount_logit_known_answers() -> None:
    probs = np.array([[0.1, 0.6, 0.3]] * 3 + [[np.nan] * 3] + [[0.1, 0.6, 0.3]])
    out = miscount_logit(CountEvidence(probs, np.array([1, 0, 5, 1, -1])), (1.0,))
    assert out[0] == pytest.approx(np.log(0.5 * (0.1 + 0.3) / 0.6))
    assert out[1] == pytest.approx(np.log(0.5 * 0.6 / 0.1))       # a count below 0 is impossible
    assert out[2] == pytest.approx(0.0)                            # above the top class: the models cannot tell
    assert np.isnan(out[3]) and np.isnan(out[4])                   # not scored; no record


def test_small_miscounts_teach_the_sizes_and_the_unreviewed_queue_finds_more() -> None:
    """The models blunder on some bins, the records are off by 1-2: the sizes counted from the queue top's
    corrections say so, and their order finds more variances among the unreviewed bins than the models' own."""
    for seed in range(3):
        evidence, prior, truth = _count_world(seed, small_miscounts=True)
        x = features(evidence.recorded, evidence.probs, {})
        top = np.argsort(-prior)[:600]
        rec = fit_recalibration(_rows(x, top), truth[top], prior[top], candidate="sizes", evidence=evidence.rows(top))
        assert rec.candidate == "sizes" and sum(rec.error_sizes[:2]) > 0.85 and "records off by 1:" in rec.describe()
        rest = np.setdiff1d(np.arange(prior.size), top)
        new = apply_recalibration(rec, _rows(x, rest), prior[rest], evidence.rows(rest))
        assert _found_in_top(new, truth[rest], 500) > 1.08 * _found_in_top(prior[rest], truth[rest], 500)


def test_records_wrong_by_any_amount_keep_the_order() -> None:
    """The same models, records off by anything up to 8: there the sizes' order would find fewer variances, and
    the held-out reviews do not choose it."""
    for seed in range(3):
        evidence, prior, truth = _count_world(seed, small_miscounts=False)
        x = features(evidence.recorded, evidence.probs, {})
        top = np.argsort(-prior)[:1000]
        rest = np.setdiff1d(np.arange(prior.size), top)
        sizes = fit_recalibration(_rows(x, top), truth[top], prior[top], candidate="sizes", evidence=evidence.rows(top))
        reordered = apply_recalibration(sizes, _rows(x, rest), prior[rest], evidence.rows(rest))
        assert _found_in_top(reordered, truth[rest], 500) < _found_in_top(prior[rest], truth[rest], 500)
        rec, sel = select_recalibration(_rows(x, top), truth[top], prior[top], evidence=evidence.rows(top))
        assert sel.chosen in ORDER_KEEPING and _keeps_order(apply_recalibration(rec, x, prior, evidence), prior)


def test_the_sizes_are_chosen_when_they_clearly_predict_better_and_a_sample_can_veto_them() -> None:
    rng = np.random.default_rng(1)
    base = rng.exponential(0.3, 400)
    clear = {"identity": base + 0.5, "monotone": base, "sizes": base - 0.05, "full": base - 0.05}
    chosen = select_candidate(clear)
    assert chosen.chosen == "sizes" and "than the order-keeping recalibration" in chosen.reason
    within_noise = {**clear, "sizes": base + rng.normal(0, 0.05, 400), "full": base + 0.1}
    assert select_candidate(within_noise).chosen == "monotone"
    full_best = {**clear, "full": base - 0.2}   # full refused without a sample: the best of the rest stands
    assert select_candidate(full_best).chosen == "sizes"
    sample = {"identity": base + 0.3, "monotone": base, "sizes": base + 0.05, "full": base + 0.05}
    vetoed = select_candidate(clear, sample)
    assert vetoed.chosen == "monotone" and "disagree" in vetoed.reason and vetoed.sample_reviews == 400
    assert select_candidate(clear, {**sample, "sizes": base - 0.01}).chosen == "sizes"


def test_the_sizes_need_the_counts_they_read() -> None:
    evidence, prior, truth = _count_world(9, small_miscounts=True, bins=2000)
    x = features(evidence.recorded, evidence.probs, {})
    assert "sizes" not in held_out_losses(x, truth, prior)        # no evidence: not a candidate
    rec = fit_recalibration(x, truth, prior, candidate="sizes", evidence=evidence)
    assert rec.error_sizes and Recalibration.from_json(rec.to_json()) == rec
    with pytest.raises(ValueError, match="class probabilities"):
        apply_recalibration(rec, x, prior)
    with pytest.raises(ValueError, match="verified counts"):
        fit_candidate("sizes", x, truth, prior, evidence=replace(evidence, verified=None))
