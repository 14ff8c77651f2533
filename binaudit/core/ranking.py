"""Ranking maths for the review queues (pure numpy): count mismatch scores and label-issue scores.

Probabilities are (N, K) arrays over the counts 0..K-1. Missing labels are NaN and give NaN scores.
"""

from __future__ import annotations

import numpy as np


def _as_inputs(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (probs, labels, known mask); labels above the top class are read as the top class.

    A model over 0..K-1 cannot tell 7 items from K-1 (its top class stands for "K-1 or more"), so a
    bin recorded with more items than the model knows is judged against that class, not flagged
    wholesale (a third of the real dataset has more than five items).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be (N, K), got shape {p.shape}")
    lab = np.asarray(labels, dtype=np.float64).reshape(-1)
    if lab.shape[0] != p.shape[0]:
        raise ValueError(f"{p.shape[0]} probability rows but {lab.shape[0]} labels")
    known = np.isfinite(lab)
    lab = np.where(known, np.minimum(lab, p.shape[1] - 1), lab)
    return p, lab, known


def expected_counts(probs: np.ndarray) -> np.ndarray:
    """Expected count sum_k k * p_k per row."""
    p = np.asarray(probs, dtype=np.float64)
    return p @ np.arange(p.shape[1], dtype=np.float64)


def mismatch_scores(probs: np.ndarray, recorded: np.ndarray) -> dict[str, np.ndarray]:
    """How strongly each photo disagrees with its recorded count r.

    p_differs = 1 - p_r (1 when r is outside 0..K-1); expected_abs_diff = sum_k p_k |k - r|, the
    expected size of the variance in items. score = expected_abs_diff: count-aware (being sure the
    bin holds 5 when 2 are recorded ranks above being sure it holds 3), and never below p_differs.
    """
    p, r, known = _as_inputs(probs, recorded)
    n, k = p.shape
    p_differs = np.full(n, np.nan)
    diff = np.full(n, np.nan)
    ri = np.where(known, r, 0).astype(np.int64)
    inside = known & (ri >= 0) & (ri < k)
    p_differs[known] = 1.0
    p_differs[inside] = 1.0 - p[inside, ri[inside]]
    diff[known] = (p[known] * np.abs(np.arange(k)[None, :] - r[known, None])).sum(axis=1)
    return {"p_differs": p_differs, "expected_abs_diff": diff, "score": diff.copy()}


def class_thresholds(probs: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Confident-learning per-class thresholds: mean p_j over photos labelled j (1.0 where none are)."""
    p, g, known = _as_inputs(probs, given)
    k = p.shape[1]
    t = np.ones(k)
    gi = np.where(known, g, -1).astype(np.int64)
    for j in range(k):
        rows = gi == j
        if rows.any():
            t[j] = max(float(p[rows, j].mean()), 1e-12)
    return t


def label_issue_scores(probs: np.ndarray, given_labels: np.ndarray,
                       thresholds: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Confident-learning style label-issue scores (higher = more likely mislabelled).

    Each class's probabilities are divided by its threshold t_j (the mean self-confidence of the
    class) and renormalised, so hard classes are not flagged wholesale; score = 1 - adjusted p(given).
    is_issue follows the confident joint: among the classes j with p_j >= t_j, the most probable one
    is not the given label. suggested is that class (or the adjusted argmax when none passes).
    Labels outside 0..K-1 score 1 and are issues. Pass thresholds to reuse population thresholds.
    """
    p, g, known = _as_inputs(probs, given_labels)
    n, k = p.shape
    t = class_thresholds(p, g) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    adj = p / t[None, :]
    adj = adj / np.maximum(adj.sum(axis=1, keepdims=True), 1e-300)
    gi = np.where(known, g, 0).astype(np.int64)
    inside = known & (gi >= 0) & (gi < k)
    score = np.full(n, np.nan)
    score[known] = 1.0
    score[inside] = 1.0 - adj[inside, gi[inside]]
    above = np.where(p >= t[None, :], p, -np.inf)
    confident = np.where(np.isfinite(above.max(axis=1)), above.argmax(axis=1), adj.argmax(axis=1))
    has_conf = np.isfinite(above.max(axis=1))
    is_issue = known & (~inside | (has_conf & (confident != gi)))
    return {"score": score, "is_issue": is_issue, "suggested": confident, "thresholds": t}
