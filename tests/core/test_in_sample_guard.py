"""No bin is judged by a model that learned its record: a model trained here without cross-fitted predictions
(the tiny ResNet of the scored workspace) is left out of the pool, the audit queue and the label-issue queue on
the training split's bins; the SVM, whose training bins are all out-of-fold, still judges them."""

from __future__ import annotations

import numpy as np

from binaudit.core.browse import BrowseIndex
from binaudit.core.browse.columns import SPLITS
from binaudit.core.store import Store


def test_a_model_that_learned_the_training_records_does_not_judge_them(scored_store: Store) -> None:
    resnet, svm = scored_store.active_model("resnet"), scored_store.active_model("svm")
    assert resnet["run_id"] is not None and not (resnet["manifest"] or {}).get("cross_fit")  # learned its records
    assert (svm["manifest"] or {}).get("cross_fit")
    index = BrowseIndex.load(scored_store)
    train = index.split == SPLITS.index("train")
    scored_by_resnet = np.isfinite(index.models["resnet"].probs).all(axis=1)
    in_sample = index.models["resnet"].judged_in_sample()
    assert in_sample.any() and np.array_equal(in_sample, train & scored_by_resnet)
    assert not index.models["svm"].judged_in_sample().any()

    p_resnet = index.model_p_recorded()["resnet"]
    assert np.isnan(p_resnet[in_sample]).all() and np.isfinite(p_resnet[~train & scored_by_resnet]).any()
    # on the training bins the pool is the SVM's alone: P(variance) there is what the SVM by itself gives
    svm_only = BrowseIndex.load(scored_store)
    svm_only.models["resnet"].probs[:] = np.nan
    svm_only.fit_pool()
    rows = np.flatnonzero(in_sample & (index.recorded >= 0))
    if svm_only.pool.weights.get("svm", 0) == index.pool.weights.get("svm", 0):
        np.testing.assert_allclose(index.base_variance_probability(rows), svm_only.base_variance_probability(rows))
    row = int(rows[0])
    assert "Left out here" in index.mismatch_tooltip(row) and "Left out here" not in index.mismatch_tooltip(
        int(np.flatnonzero(~train & scored_by_resnet & (index.recorded >= 0))[0]))
    issue = index.issue_score()
    only_resnet = index.models["resnet"].label_issue > np.nan_to_num(index.models["svm"].label_issue, nan=-1)
    assert not np.any(issue[in_sample & only_resnet] == index.models["resnet"].label_issue[in_sample & only_resnet])


def test_without_any_model_that_may_judge_them_the_training_bins_leave_the_queue(scored_store: Store) -> None:
    scored_store.db.conn.execute("UPDATE models SET active = 0 WHERE kind = 'svm'")
    index = BrowseIndex.load(scored_store)
    in_sample = index.models["resnet"].judged_in_sample()
    assert in_sample.any()
    assert np.isnan(index.base_variance_probability()[in_sample]).all()
    assert np.isnan(index.mismatch_score()[in_sample & (index.metadata_rule() == 0)]).all()
    assert np.isfinite(index.base_variance_probability()[~in_sample & (index.recorded >= 0)]).any()
    # a self-contradicting record among them still leads the queue, by the rule alone
    rule_alone = in_sample & index.metadata_rule() & (index.recorded >= 0)
    assert rule_alone.any()
    queue = index.queue_order()
    first = queue[: int(np.count_nonzero(index.metadata_rule()[queue]))]
    assert set(np.flatnonzero(rule_alone)) <= set(first.tolist())
    assert "by the rule alone" in index.mismatch_tooltip(int(np.flatnonzero(rule_alone)[0]))
