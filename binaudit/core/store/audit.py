"""The audit loop's tables: random-sample audits (the sampled bins marked), reviews in order, queue updates.

A review is an image whose standing decision is a verified count (confirmed or corrected); it is a
variance when the verified count differs from the recorded one. Uncountable and excluded photos are
not reviews of the record, and a reset (how an undone first decision is written) undoes the review.
A review's place in the order is the first event of its standing decision (after the image's last reset).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from binaudit.core import labels as L
from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.store.database import StoreBase, utc_now

DEFAULT_STRATA = 4
_USABLE = ",".join(f"'{s}'" for s in IMAGE_USABLE_STATUSES)
# Images a random sample draws from: a usable photo with a recorded count.
_ELIGIBLE = (f"SELECT image_id FROM images WHERE status IN ({_USABLE}) AND path IS NOT NULL "
             "AND recorded_count IS NOT NULL ORDER BY image_id")
_REVIEWS = f"""
WITH last_reset AS (
    SELECT image_id, max(id) AS reset_id FROM label_events WHERE status = '{L.RESET}' GROUP BY image_id),
start AS (
    SELECT e.image_id, min(e.id) AS first_id FROM label_events e LEFT JOIN last_reset r USING (image_id)
    WHERE e.id > coalesce(r.reset_id, 0) GROUP BY e.image_id)
SELECT i.image_id, s.first_id, e.at, e.user, i.recorded_count, i.effective_count, i.label_status,
    (SELECT max(b.sample_id) FROM audit_sample_bins b WHERE b.image_id = i.image_id) AS sample_id,
    EXISTS (SELECT 1 FROM audit_sample_bins b JOIN audit_samples a ON a.id = b.sample_id
            WHERE b.image_id = i.image_id AND a.last_event_id < s.first_id) AS sample_review
FROM images i JOIN start s USING (image_id) JOIN label_events e ON e.id = s.first_id
WHERE i.label_status IN ('{L.CONFIRMED}', '{L.CORRECTED}') AND i.recorded_count IS NOT NULL
    AND i.effective_count IS NOT NULL
ORDER BY s.first_id
"""


@dataclass(frozen=True)
class Review:
    """One reviewed image: its recorded and verified counts, and whether a sample asked for the review."""

    image_id: str
    event_id: int        # first event of the standing decision: the review's place in the order
    at: str
    user: str
    recorded: int
    verified: int
    status: str          # confirmed or corrected
    variance: bool       # the verified count differs from the recorded count
    sample_id: int | None  # the latest random sample holding the image
    sample_review: bool  # decided after a sample holding the image was drawn (a sample review, not the queue's)


@dataclass(frozen=True)
class SampleBin:
    """One bin of a random sample, with its stratum's population size and draws (for the unbiased estimate)."""

    sample_id: int
    image_id: str
    draw_order: int      # review the sample in this order: any prefix is a random sample of each stratum
    stratum: int         # 0..strata-1 by score, low to high; `strata` for unscored bins; 0 for a simple sample
    stratum_size: int    # bins of the population in the stratum (N_h)
    stratum_drawn: int   # bins drawn from it (n_h)


def score_strata(scores: np.ndarray, strata: int) -> np.ndarray:
    """Stratum of each bin: equal-count groups by score rank (ties by position), low scores first; NaN scores
    (unscored bins) get their own stratum `strata`."""
    out = np.full(scores.shape[0], strata, np.int64)
    scored = np.nonzero(np.isfinite(scores))[0]
    order = scored[np.argsort(scores[scored], kind="stable")]
    for h, part in enumerate(np.array_split(order, strata)):
        out[part] = h
    return out


def proportional_allocation(sizes: np.ndarray, n: int) -> np.ndarray:
    """Draws per stratum proportional to its size (largest remainders), at least one from each non-empty
    stratum when n allows, never more than a stratum holds."""
    sizes = np.asarray(sizes, np.int64)
    exact = n * sizes / max(int(sizes.sum()), 1)
    take = np.floor(exact).astype(np.int64)
    for h in np.argsort(-(exact - take), kind="stable")[:n - int(take.sum())]:
        take[h] += 1
    while True:
        empty = np.nonzero((take == 0) & (sizes > 0))[0]
        if empty.size == 0 or (sizes > 0).sum() > n:
            break
        take[empty[0]] += 1
        take[int(np.argmax(np.where(take > 1, take, -1)))] -= 1
    return np.minimum(take, sizes)


def draw_sample(n_population: int, size: int, rng: np.random.Generator,
                strata: np.ndarray | None = None) -> list[tuple[int, int, int, int]]:
    """(position, stratum, stratum size, stratum draws) of each drawn bin, in a random review order:
    without replacement, simple or stratified (proportional allocation)."""
    labels = np.zeros(n_population, np.int64) if strata is None else np.asarray(strata, np.int64)
    sizes = np.bincount(labels, minlength=int(labels.max(initial=0)) + 1)
    take = np.array([size]) if strata is None else proportional_allocation(sizes, size)
    chosen: list[tuple[int, int, int, int]] = []
    for h, n_h in enumerate(take.tolist()):
        members = np.nonzero(labels == h)[0]
        chosen += [(int(p), h, int(sizes[h]), int(n_h)) for p in rng.choice(members, n_h, replace=False)]
    return [chosen[i] for i in rng.permutation(len(chosen))]


class AuditTables(StoreBase):
    """Random-sample audits, reviews in order, and the queue updates of the audit loop."""

    def eligible_for_sample(self) -> list[str]:
        """Ids a random sample draws from: usable photos with a recorded count, in id order."""
        return [r["image_id"] for r in self.query(_ELIGIBLE)]

    def draw_audit_sample(self, size: int, *, stratified: bool = False, seed: int | None = None, user: str,
                          scores: Mapping[str, float] | None = None, strata: int = DEFAULT_STRATA,
                          note: str | None = None) -> int:
        """Draw a random sample of bins for review, mark them in the store and return the sample's id.

        Stratified samples need `scores` (image id -> P(variance); missing or NaN: unscored, a stratum of
        its own): strata are `strata` equal-count score groups, draws proportional to their sizes.
        Without a seed one is chosen and recorded, so every draw can be repeated.
        """
        if not user or not user.strip():
            raise ValueError("a sample needs the name of the person who drew it")
        if stratified and scores is None:
            raise ValueError("a stratified sample needs the bins' scores (binaudit.core.audit.loop.draw_sample)")
        ids = self.eligible_for_sample()
        if not 1 <= size <= len(ids):
            raise ValueError(f"a sample of {size} cannot be drawn from {len(ids)} bins with a photo and a "
                             "recorded count")
        seed = secrets.randbits(31) if seed is None else int(seed)
        labels = None
        if stratified and scores is not None:
            labels = score_strata(np.array([scores.get(i, np.nan) for i in ids], np.float64), strata)
        drawn = draw_sample(len(ids), size, np.random.default_rng(seed), labels)
        with self.write():
            sample_id = self._insert("audit_samples", {
                "created_at": utc_now(), "created_by": user.strip(), "size": size, "stratified": int(stratified),
                "seed": seed, "population": len(ids), "last_event_id": self._last_event(), "note": note})
            self.db.conn.executemany(
                "INSERT INTO audit_sample_bins (sample_id, image_id, draw_order, stratum, stratum_size, "
                "stratum_drawn) VALUES (?, ?, ?, ?, ?, ?)",
                [(sample_id, ids[p], order, h, n_h_pop, n_h) for order, (p, h, n_h_pop, n_h) in enumerate(drawn)])
        return sample_id

    def _last_event(self) -> int:
        return int(self._scalar("SELECT coalesce(max(id), 0) FROM label_events"))

    def audit_samples(self) -> list[dict[str, Any]]:
        """Every random sample drawn, oldest first (id, created_at, created_by, size, stratified, seed, ...)."""
        return [_sample_row(r) for r in self.query("SELECT * FROM audit_samples ORDER BY id")]

    def audit_sample(self, sample_id: int | None = None) -> dict[str, Any] | None:
        """One sample's row (the latest without an id), or None when there is none."""
        sql = "SELECT * FROM audit_samples " + ("WHERE id = ?" if sample_id is not None else "ORDER BY id DESC LIMIT 1")
        rows = self.query(sql, [sample_id] if sample_id is not None else [])
        return _sample_row(rows[0]) if rows else None

    def audit_sample_bins(self, sample_id: int | None = None) -> list[SampleBin]:
        """The bins of a sample (the latest without an id) in review order; [] when there is no sample."""
        sample = self.audit_sample(sample_id)
        if sample is None:
            return []
        rows = self.query("SELECT * FROM audit_sample_bins WHERE sample_id = ? ORDER BY draw_order", [sample["id"]])
        return [SampleBin(**r) for r in rows]

    def reviews_in_order(self) -> list[Review]:
        """Every standing review of a recorded count (confirmed or corrected), in the order they were first made."""
        return [Review(image_id=r["image_id"], event_id=int(r["first_id"]), at=r["at"], user=r["user"],
                       recorded=int(r["recorded_count"]), verified=int(r["effective_count"]),
                       status=r["label_status"], variance=int(r["effective_count"]) != int(r["recorded_count"]),
                       sample_id=r["sample_id"], sample_review=bool(r["sample_review"]))
                for r in self.query(_REVIEWS)]

    def record_queue_update(self, *, user: str, reviewed: int, positives: int, recalibration: str,
                            note: str | None = None, last_event_id: int | None = None) -> int:
        """Store one update of the queue (its recalibration as JSON); the latest one is the one applied."""
        if not user or not user.strip():
            raise ValueError("a queue update needs the name of the person who ran it")
        with self.write():
            return self._insert("queue_updates", {
                "at": utc_now(), "user": user.strip(), "reviewed": reviewed, "positives": positives,
                "last_event_id": self._last_event() if last_event_id is None else last_event_id,
                "recalibration": recalibration, "note": note})

    def latest_queue_update(self) -> dict[str, Any] | None:
        """The queue update in force (the newest row), or None when the queue was never updated."""
        rows = self.query("SELECT * FROM queue_updates ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    def queue_updates(self) -> list[dict[str, Any]]:
        """Every queue update, oldest first (the history; only the latest is applied)."""
        return self.query("SELECT * FROM queue_updates ORDER BY id")


def _sample_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "stratified": bool(row["stratified"])}
