"""The score columns the review queues sort by, derived from the index's columns (the rules: core.queues).

A mixin of BrowseIndex: per model, whether it disagrees with the record and its p(recorded); the
variance pool's weights (fitted on the validation split at load) and P(variance); the metadata rule
and the audit queue's sort key; the label-issue score; and the Mismatch cell with its tooltip.
`rows` is anything that indexes the columns (all rows by default).

The latest queue update (the audit loop, core.audit.loop) recalibrates P(variance) on the auditors' verified
reviews: `apply_queue_update` puts it in force, and the audit queue, its Mismatch cells and `binaudit queue`
all read the recalibrated value (`base_variance_probability` is the models' pool before it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from binaudit.core import abid, queues, variance
from binaudit.core.audit.error_sizes import CountEvidence, on_and_within
from binaudit.core.audit.recalibration import MIN_REVIEWS, Recalibration, features, sigmoid
from binaudit.core.browse.columns import IMAGE_STATUSES, SPLITS, ModelColumns
from binaudit.core.kinds import MODEL_KINDS


@dataclass(frozen=True)
class AppliedUpdate:
    """The queue update whose recalibration of P(variance) is in force (a row of the store's queue_updates)."""

    id: int
    at: str
    user: str
    recalibration: Recalibration

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AppliedUpdate:
        return cls(int(row["id"]), str(row["at"]), str(row["user"]), Recalibration.from_json(row["recalibration"]))

    def describe(self) -> str:
        """One line naming the update: its number, who ran it and when, what it was fitted on and what it learnt."""
        return f"queue update #{self.id} ({self.user}, {self.at[:16].replace('T', ' ')}; {self.recalibration.describe()})"


class ScoreColumns:
    """The derived score columns; the host class holds the columns named below."""

    recorded: np.ndarray
    status: np.ndarray
    sku_sum: np.ndarray
    split: np.ndarray
    models: dict[str, ModelColumns]
    pool: variance.PoolFit
    _score_cache: dict[str, np.ndarray]
    _sort_cache: dict[tuple[str, bool], np.ndarray]
    queue_update: AppliedUpdate | None = None  # the recalibration in force (None: the models' own P(variance))

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
        """Each active model's probability vectors, NaN rows where it did not score or scored a bin whose record
        it trained on (no bin is judged by a model that learned its record). Cached."""
        return {kind: self._whole("pool_probs:" + kind, partial(self._judging_probs, kind))
                for kind in self.model_kinds() if self.models[kind].probs.shape[1]}

    def _judging_probs(self, kind: str) -> np.ndarray:
        """The model's stored probabilities with its in-sample rows blanked (NaN)."""
        m = self.models[kind]
        if m.in_sample is None or not m.in_sample.any():
            return m.probs
        probs = m.probs.copy()
        probs[m.in_sample] = np.nan
        return probs

    def model_p_recorded(self, rows: Any = slice(None)) -> dict[str, np.ndarray]:
        """Each active model's probability of the recorded count on the pool's common range, at these rows."""
        out = {}
        for kind, probs in self._pool_probs().items():
            p = variance.aligned(np.atleast_2d(probs[rows]), self.pool.classes)
            out[kind] = variance.at_recorded(p, np.atleast_1d(self.recorded[rows]))
        return out

    def _pooled(self) -> None:
        """Pool the active models once: the pooled p(recorded) and class probabilities of every row."""
        p_variance, probs = variance.combine(self._pool_probs(), self.recorded, self.pool)
        self._score_cache["pooled_recorded"] = 1.0 - p_variance
        self._score_cache["pooled_probs"] = probs

    def pooled_p_recorded(self, rows: Any = slice(None)) -> np.ndarray:
        """The pooled probability of the recorded count (float64; NaN = not scored or no count)."""
        if "pooled_recorded" not in self._score_cache:
            self._pooled()
        return self._score_cache["pooled_recorded"][rows]

    def base_variance_probability(self, rows: Any = slice(None)) -> np.ndarray:
        """P(variance) from the models alone, 1 - the pooled p(recorded) (float64, NaN = unscored): the prior
        the queue updates recalibrate."""
        return 1.0 - self.pooled_p_recorded(rows)

    def _pooled_probs(self) -> np.ndarray:
        """The pooled class probabilities of every row (NaN rows: not scored)."""
        if "pooled_probs" not in self._score_cache:
            self._pooled()
        return self._score_cache["pooled_probs"]

    def recalibration_features(self) -> dict[str, np.ndarray]:
        """The recalibration's per-row features (core.audit.recalibration.features) of every row. Cached."""
        names = ["recal:" + n for n in ("pooled_surprisal", "recorded", "rule")]
        if not all(n in self._score_cache for n in names):
            x = features(self.recorded, self._pooled_probs(), self._pool_probs(), self.metadata_rule())
            self._score_cache.update({"recal:" + name: column for name, column in x.items()})
        return {k[len("recal:"):]: v for k, v in self._score_cache.items() if k.startswith("recal:")}

    def base_variance_logit(self, rows: Any = slice(None)) -> np.ndarray:
        """logit of the models' P(variance), log(1 - p) - log p of the pooled p(recorded), unclipped (so
        records the pool finds near-impossible keep their order): the offset the queue updates fit around."""
        p = self.pooled_p_recorded(rows)
        with np.errstate(divide="ignore"):
            return np.log1p(-p) - np.log(p)

    def _variance_logit(self, update: AppliedUpdate | None = None) -> np.ndarray:
        """logit P(variance) under a queue update (default: the one in force): logit P + intercept + sum
        coefficient x feature."""
        update = update or self.queue_update
        z = self.base_variance_logit()
        if update is None:
            return z
        return update.recalibration.fitted.logits(self.recalibration_features(), z, self.count_evidence())

    def count_evidence(self, rows: Any = slice(None)) -> CountEvidence:
        """The pooled class probabilities and recorded counts of these rows: what the error-size recalibration
        reads (core.audit.error_sizes.miscount_logit)."""
        return CountEvidence(self._pooled_probs()[rows], self.recorded[rows])

    def _recalibrated(self) -> np.ndarray:
        """P(variance) under the queue update in force (float64), the models' own without one."""
        if self.queue_update is None:
            return self.base_variance_probability()
        return sigmoid(self._whole("variance_logit", self._variance_logit))

    def queue_update_logits(self, row: Mapping[str, Any]) -> np.ndarray:
        """logit P(variance) of every row under a queue update not yet in force; reads only the model and record
        columns, so a worker thread may compute it while the GUI thread uses the index."""
        return self._variance_logit(AppliedUpdate.from_row(row))

    def apply_queue_update(self, row: Mapping[str, Any] | None, logits: np.ndarray | None = None) -> None:
        """Put a queue update (a queue_updates row; None: none) in force; the audit queue's scores follow
        (`logits`: queue_update_logits(row), computed beforehand; else computed when first needed)."""
        self.queue_update = None if row is None else AppliedUpdate.from_row(row)
        for name in ("variance", "variance64", "variance_logit", "audit_key"):
            self._score_cache.pop(name, None)
        if row is not None and logits is not None:
            self._score_cache["variance_logit"] = logits
        for key in [k for k in self._sort_cache if k[0] == queues.AUDIT_QUEUE.sort_key]:
            del self._sort_cache[key]

    def variance_probability(self, rows: Any = slice(None)) -> np.ndarray:
        """The models' part of the audit queue's order: P(variance), the probability that the record is wrong
        (1 - the pooled p(recorded), recalibrated by the queue update in force; NaN = unscored)."""
        return self._whole("variance", lambda: self._variance64().astype(np.float32))[rows]

    def _variance64(self) -> np.ndarray:
        return self._whole("variance64", self._recalibrated)

    def metadata_rule(self, rows: Any = slice(None)) -> np.ndarray:
        """The rule's part of the audit queue's order: records that contradict themselves."""
        return self.status[rows] == IMAGE_STATUSES.index(abid.STATUS_INCONSISTENT)

    def mismatch_score(self) -> np.ndarray:
        """The audit queue's sort key (NaN = not in the queue): metadata-rule rows first, then P(variance), as the
        surprisal -log p(recorded) (the same order, without float32 rounding P(variance) near 1 into ties)."""
        return self._whole("audit_key", lambda: queues.audit_key(self._audit_surprisal(), self.metadata_rule(),
                                                                 self.left_out_anywhere()))

    def audit_key_under(self, row: Mapping[str, Any]) -> np.ndarray:
        """The audit queue's sort key of every row as it would be under this queue update (nothing changes)."""
        surprisal = np.logaddexp(0.0, self._variance_logit(AppliedUpdate.from_row(row)))
        return queues.audit_key(surprisal, self.metadata_rule(), self.left_out_anywhere())

    def _audit_surprisal(self) -> np.ndarray:
        """-log(1 - P(variance)): the models' -log p(recorded), or its recalibrated value under a queue update."""
        if self.queue_update is None:
            return variance.surprisal(self.pooled_p_recorded())
        return np.logaddexp(0.0, self._whole("variance_logit", self._variance_logit))

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
        parts = [queues.ModelPart(f"{self.models[k].name} ({k})", float(v[0]), self.pool.weights.get(k, 0.0),
                                  left_out=bool(self.models[k].judged_in_sample(pos)))
                 for k, v in p_recorded.items()]
        text = queues.explain_mismatch(parts, float(self.pooled_p_recorded()[pos]), int(self.recorded[pos]),
                                       self.pool, self.rule_reason(pos))
        return text + self._in_sample_line(pos) + self._update_line(pos)

    def left_out_anywhere(self) -> np.ndarray:
        """Rows some active model scored but may not judge, having trained on their records. Cached."""
        return self._whole("left_out", self._any_in_sample)

    def _any_in_sample(self) -> np.ndarray:
        out = np.zeros(self._count(slice(None)), bool)
        for kind in self.model_kinds():
            out |= self.models[kind].judged_in_sample()
        return out

    def _in_sample_line(self, pos: int) -> str:
        """Which active models are left out of this row's pool because they trained on its record."""
        names = [self.models[k].name for k in self.model_kinds() if self.models[k].judged_in_sample(pos)]
        if not names:
            return ""
        return (f"\nLeft out here: {', '.join(names)} trained on this bin's record (training split, no cross-fitted "
                "predictions); a model that learned a record cannot judge it. Retrain with --cross-fit 2 to "
                "have fold models score the training bins.")

    def _update_line(self, pos: int) -> str:
        """The tooltip's last line when a queue update is in force: it names the update and what it did here."""
        update = self.queue_update
        before, after = float(self.base_variance_probability(pos)), float(self._variance64()[pos])
        if np.isnan(before):
            return ""
        if update is None or update.recalibration.reviewed < MIN_REVIEWS:
            return ("\nNot yet checked against reviews: the percentage is the models' 1 - P(count = record), which "
                    "overstates the chance a record is wrong when the models count few bins right; the order is "
                    "what counts. Review some bins and update the queue (Ctrl+U) to make it a probability.")
        return (f"\nRecalibrated by {update.describe()}: P(variance) {100 * before:.1f}% from the models, "
                f"{100 * after:.1f}% after the auditors' reviews (shown, and the queue's order)."
                + self._sizes_line(pos, update.recalibration.error_sizes))

    def _sizes_line(self, pos: int, sizes: tuple[float, ...]) -> str:
        """Under the error sizes: how much of the pooled count distribution lies within the corrections' usual
        sizes of the record, against on it (why this bin moved)."""
        if not sizes:
            return ""
        evidence = self.count_evidence(slice(pos, pos + 1))
        if not np.isfinite(evidence.probs).all():
            return ""
        top = evidence.probs.shape[1] - 1
        usual = [k for k, share in enumerate(sizes, start=1) if share >= 0.1] or [1]
        r, widest = int(self.recorded[pos]), max(usual)
        said = f"\nThe corrections so far are off by {', '.join(map(str, usual))}"
        if r - widest >= top:
            return (f"{said}; the models cannot tell {r - widest}-{r + widest} apart (all read as '{top} or more'), "
                    "so this record gets the base rate of the reviewed bins.")
        on, off = on_and_within(evidence, usual)
        return f"{said}: the models put {100 * off:.0f}% within that of the record and {100 * on:.0f}% on it."

    def issue_score(self, rows: Any = slice(None)) -> np.ndarray:
        """The label-issue queue's score: the highest label-issue score of the active models (NaN = none)."""
        return self._whole("issue", self._highest_label_issue)[rows]

    def _highest_label_issue(self) -> np.ndarray:
        score = np.full(self._count(slice(None)), np.nan, np.float32)
        for kind in self.model_kinds():
            m = self.models[kind]
            score = np.fmax(score, np.where(m.judged_in_sample(), np.float32(np.nan), m.label_issue))
        return score
