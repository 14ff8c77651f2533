"""The score columns the review queues sort by, derived from the index's columns (the rules: core.queues).

A mixin of BrowseIndex: per model, whether it disagrees with the record and its p(recorded); the
variance pool's weights (fitted on the validation split at load) and P(variance); the metadata rule
and the audit queue's sort key; the label-issue score; and the Mismatch cell with its tooltip.
`rows` is anything that indexes the columns (all rows by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from binaudit.core import abid, queues, variance
from binaudit.core.browse.columns import IMAGE_STATUSES, SPLITS, ModelColumns
from binaudit.core.kinds import MODEL_KINDS


class ScoreColumns:
    """The derived score columns; the host class holds the columns named below."""

    recorded: np.ndarray
    status: np.ndarray
    sku_sum: np.ndarray
    split: np.ndarray
    models: dict[str, ModelColumns]
    pool: variance.PoolFit
    _score_cache: dict[str, np.ndarray]

    def _whole(self, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """A score column of every row, computed once: the model and record columns do not change after loading
        (a relabel changes only label columns). Callers must not modify it."""
        column = self._score_cache.get(name)
        if column is None:
            column = self._score_cache[name] = compute()
        return column

    def _count(self, rows: Any) -> int:
        """How many rows an index (a slice, positions or a mask) selects."""
        return int(np.asarray(self.recorded[rows]).size)

    def model_kinds(self) -> list[str]:
        """Kinds with an active model, in display order."""
        return [k for k in MODEL_KINDS if self.models.get(k) and self.models[k].active]

    def disagrees(self, kind: str, rows: Any = slice(None)) -> np.ndarray:
        """True where the model's predicted count differs from the recorded count, at these rows.

        A recorded count above the model's largest class is compared as that class (a 0-5 model
        predicting 5 for a recorded 7 agrees as far as it can tell).
        """
        return self._whole(f"disagrees:{kind}", lambda: self._disagreeing(self.models[kind]))[rows]

    def _disagreeing(self, m: ModelColumns) -> np.ndarray:
        target = np.clip(self.recorded, min(m.classes), max(m.classes)) if m.classes else self.recorded
        return (self.recorded >= 0) & (m.predicted >= 0) & (m.predicted != target)

    def mismatch_flags(self) -> np.ndarray:
        """True where any active model's predicted count disagrees with the recorded count."""
        flags = np.zeros(self.recorded.shape, np.bool_)  # one per row
        for kind in self.model_kinds():
            flags |= self.disagrees(kind)
        return flags

    def fit_pool(self) -> None:
        """Fit the variance pool's weights on the validation rows' recorded counts (core.variance); done at load."""
        validation = self.split == SPLITS.index("val")
        self.pool = variance.fit_pool(self._pool_probs(), self.recorded, validation)
        self._score_cache.clear()

    def _pool_probs(self) -> dict[str, np.ndarray]:
        """Each active model's probability vectors (NaN rows where it did not score)."""
        return {kind: self.models[kind].probs for kind in self.model_kinds() if self.models[kind].probs.shape[1]}

    def model_p_recorded(self, rows: Any = slice(None)) -> dict[str, np.ndarray]:
        """Each active model's probability of the recorded count on the pool's common range, at these rows."""
        out = {}
        for kind, probs in self._pool_probs().items():
            p = variance.aligned(np.atleast_2d(probs[rows]), self.pool.classes)
            out[kind] = variance.at_recorded(p, np.atleast_1d(self.recorded[rows]))
        return out

    def pooled_p_recorded(self, rows: Any = slice(None)) -> np.ndarray:
        """The pooled probability of the recorded count (float64; NaN = not scored or no count)."""
        return self._whole("pooled_recorded", lambda: 1.0 - variance.combine(
            self._pool_probs(), self.recorded, self.pool)[0])[rows]

    def variance_probability(self, rows: Any = slice(None)) -> np.ndarray:
        """The models' part of the audit queue's order: P(variance) = 1 - the pooled p(recorded) (NaN = unscored)."""
        return self._whole("variance", lambda: (1.0 - self.pooled_p_recorded()).astype(np.float32))[rows]

    def metadata_rule(self, rows: Any = slice(None)) -> np.ndarray:
        """The rule's part of the audit queue's order: records that contradict themselves."""
        return self.status[rows] == IMAGE_STATUSES.index(abid.STATUS_INCONSISTENT)

    def mismatch_score(self) -> np.ndarray:
        """The audit queue's sort key (NaN = not in the queue): metadata-rule rows first, then P(variance), as the
        surprisal -log p(recorded) (the same order, without float32 rounding P(variance) near 1 into ties)."""
        return self._whole("audit_key", lambda: queues.audit_key(variance.surprisal(self.pooled_p_recorded()),
                                                                 self.metadata_rule()))

    def queue_score(self, key: str, rows: Any = slice(None)) -> np.ndarray:
        """The score a queue's column shows at these rows: P(variance) ("mismatch", the rule is marked beside
        it) or the label-issue score ("issue")."""
        if key == queues.AUDIT_QUEUE.sort_key:
            return self.variance_probability(rows)
        if key == queues.LABEL_ISSUE_QUEUE.sort_key:
            return self.issue_score(rows)
        raise ValueError(f"no queue sorts by {key!r}")

    def rule_reason(self, pos: int) -> str | None:
        """Why the metadata rule flags this record, or None."""
        if not self.metadata_rule(pos):
            return None
        return queues.rule_reason(int(self.sku_sum[pos]), int(self.recorded[pos]))

    def mismatch_cell(self, pos: int) -> str:
        """The Mismatch column at a row: P(variance) in percent, marked where the metadata rule flags the record."""
        return queues.mismatch_cell(float(self.variance_probability()[pos]), bool(self.metadata_rule(pos)))

    def mismatch_tooltip(self, pos: int) -> str:
        """What the Mismatch cell is made of: each model's p(recorded) and weight, the pooled value and the rule."""
        p_recorded = self.model_p_recorded([pos])
        parts = [queues.ModelPart(f"{self.models[k].name} ({k})", float(v[0]), self.pool.weights.get(k, 0.0))
                 for k, v in p_recorded.items()]
        return queues.explain_mismatch(parts, float(self.pooled_p_recorded()[pos]), int(self.recorded[pos]),
                                       self.pool, self.rule_reason(pos))

    def issue_score(self, rows: Any = slice(None)) -> np.ndarray:
        """The label-issue queue's score: the highest label-issue score of the active models (NaN = none)."""
        return self._whole("issue", self._highest_label_issue)[rows]

    def _highest_label_issue(self) -> np.ndarray:
        score = np.full(self._count(slice(None)), np.nan, np.float32)
        for kind in self.model_kinds():
            score = np.fmax(score, self.models[kind].label_issue)
        return score
