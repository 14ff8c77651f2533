"""Ranking maths on hand-made probability vectors with known answers."""

import math

import numpy as np
import pytest

from binaudit.core.ranking import class_thresholds, expected_counts, label_issue_scores, mismatch_scores


def test_expected_counts():
    probs = np.array([[0, 0, 1.0], [0.5, 0, 0.5], [0.2, 0.3, 0.5]])
    assert np.allclose(expected_counts(probs), [2.0, 1.0, 1.3])


def test_mismatch_known_values():
    probs = np.array([
        [0.0, 0.0, 1.0, 0.0],   # sure it is 2, recorded 2
        [0.0, 0.0, 1.0, 0.0],   # sure it is 2, recorded 0
        [0.5, 0.5, 0.0, 0.0],   # 0 or 1, recorded 1
        [0.0, 0.0, 0.0, 1.0],   # recorded 7: above the classes, read as the top class ("3 or more")
        [0.25, 0.25, 0.25, 0.25],  # recorded unknown
    ])
    out = mismatch_scores(probs, np.array([2, 0, 1, 7, np.nan]))
    assert np.allclose(out["p_differs"][:4], [0.0, 1.0, 0.5, 0.0])
    assert np.allclose(out["expected_abs_diff"][:4], [0.0, 2.0, 0.5, 0.0])
    assert np.allclose(out["score"][:4], out["expected_abs_diff"][:4])
    assert math.isnan(out["score"][4]) and math.isnan(out["p_differs"][4])


def test_mismatch_is_count_aware():
    sure5 = np.array([[0, 0, 0, 0, 0, 1.0]])
    sure3 = np.array([[0, 0, 0, 1.0, 0, 0]])
    far = mismatch_scores(sure5, np.array([2]))["score"][0]
    near = mismatch_scores(sure3, np.array([2]))["score"][0]
    assert far == pytest.approx(3.0) and near == pytest.approx(1.0) and far > near


def test_thresholds_are_mean_self_confidence():
    probs = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    t = class_thresholds(probs, np.array([0, 0, 1]))
    assert np.allclose(t, [0.7, 0.7])
    t2 = class_thresholds(probs, np.array([0, 0, 0]))
    assert np.allclose(t2, [(0.8 + 0.6 + 0.3) / 3, 1.0])  # no photo labelled 1


def test_label_issue_flags_the_confidently_wrong_label():
    probs = np.array([
        [0.9, 0.1, 0.0],
        [0.8, 0.2, 0.0],
        [0.1, 0.9, 0.0],
        [0.0, 0.1, 0.9],
        [0.0, 0.95, 0.05],  # labelled 2, the model is sure it is 1
    ])
    given = np.array([0, 0, 1, 2, 2])
    out = label_issue_scores(probs, given)
    assert out["is_issue"].tolist() == [False, False, False, False, True]
    assert out["suggested"][4] == 1
    assert int(np.argmax(out["score"])) == 4
    assert np.allclose(out["thresholds"], [0.85, 0.9, 0.475])  # mean p_j of the photos labelled j
    # score = 1 - (p_g / t_g) / sum_j (p_j / t_j); row 2: 1 - (0.9 / 0.9) / (0.1 / 0.85 + 0.9 / 0.9) = 2 / 19
    assert np.allclose(out["score"], [0.094972, 0.191011, 2 / 19, 0.055394, 0.909320], atol=1e-6)


def test_label_issue_adjusts_for_hard_classes():
    # Class 1 is hard: its own photos reach only 0.4. A photo labelled 1 at p1=0.35 is typical for
    # class 1; a photo labelled 0 at p0=0.35 is unusual for easy class 0, so it ranks as the bigger issue.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4], [0.65, 0.35], [0.35, 0.65]])
    given = np.array([0, 0, 1, 1, 1, 0])
    out = label_issue_scores(probs, given)
    assert out["score"][5] > out["score"][4]
    assert out["is_issue"][5] and not out["is_issue"][4]


def test_label_issue_above_the_classes_and_missing_labels():
    probs = np.array([[0.1, 0.9], [0.9, 0.1], [0.5, 0.5]])
    out = label_issue_scores(probs, np.array([9, 9, np.nan]), thresholds=np.array([0.5, 0.5]))
    # 9 items on a 0-1 model is judged as its top class: fine where the model says 1, an issue where it says 0
    assert out["score"][0] == pytest.approx(0.1) and not out["is_issue"][0]
    assert out["score"][1] == pytest.approx(0.9) and out["is_issue"][1]
    assert math.isnan(out["score"][2]) and not out["is_issue"][2]


def test_shape_errors():
    with pytest.raises(ValueError):
        mismatch_scores(np.ones(3), np.ones(3))
    with pytest.raises(ValueError):
        label_issue_scores(np.ones((2, 3)) / 3, np.array([0]))
