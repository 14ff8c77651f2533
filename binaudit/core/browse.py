"""The browser's columns for every image, held as numpy arrays: filter and sort 536,000 rows in milliseconds.

Qt-free. `BrowseIndex.load(store)` reads the images table joined with the active ResNet and SVM
predictions in one ordered pass; `select(filter, sort)` answers with an array of row positions;
`refresh(store, ids)` re-reads the label columns of a few images after a relabel.

Positions are indexes into the id-sorted arrays (SQLite's BINARY order of image_id, which is
also the byte order numpy uses for the `ids` array, so ids are found with searchsorted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from binaudit.core import abid
from binaudit.core import labels as L

MODEL_KINDS = ("resnet", "svm")
LABEL_STATUSES = (L.RECORDED, L.CONFIRMED, L.CORRECTED, L.UNCOUNTABLE, L.EXCLUDED, L.RESET)
IMAGE_STATUSES = abid.STATUSES
SPLITS = ("train", "val", "test")
CHUNK = 50_000

# Sort keys understood by select(); each maps to one or two arrays (see _sort_key).
SORT_KEYS = ("id", "recorded", "label", "resnet", "resnet_conf", "svm", "svm_conf", "mismatch", "issue",
             "status", "split", "reviewed_by", "reviewed_at")
_LABEL_KEYS = {"label", "reviewed_by", "reviewed_at"}


@dataclass(frozen=True)
class BrowseFilter:
    """What the browser shows. Empty/None fields do not filter."""

    statuses: frozenset[str] = frozenset()        # image import statuses (ok, inconsistent, ...)
    label_statuses: frozenset[str] = frozenset()  # effective label statuses (recorded, corrected, ...)
    recorded_min: Optional[int] = None
    recorded_max: Optional[int] = None
    predicted: Optional[int] = None
    predicted_by: str = "any"                     # "any" or a model kind
    mismatch_only: bool = False
    reviewed: Optional[bool] = None
    split: Optional[str] = None
    text: str = ""                                # full-text search over SKU names and ASINs (store.search_items)
    scored_only: bool = False                     # the audit queue: only images with a mismatch score

    def is_empty(self) -> bool:
        return self == BrowseFilter()


@dataclass
class ModelColumns:
    """One active model's columns, aligned with the index rows (-1 / NaN where the image is not scored)."""

    model_id: Optional[int]
    name: str
    classes: tuple[int, ...]
    predicted: np.ndarray
    confidence: np.ndarray
    mismatch: np.ndarray
    label_issue: np.ndarray

    @property
    def active(self) -> bool:
        return self.model_id is not None


@dataclass
class QueueProgress:
    total: int
    reviewed: int
    variances: int
    uncountable: int


def _case(column: str, values: Sequence[str], default: int) -> str:
    whens = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values))
    return f"CASE {column} {whens} ELSE {default} END"


@dataclass
class BrowseIndex:
    """Browse columns of all images; see the module docstring."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="S1"))
    recorded: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    effective: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    label_status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    split: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    event_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reviewed_by: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    reviewed_at: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    label_reason: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    users: list[Optional[str]] = field(default_factory=lambda: [None])
    models: dict[str, ModelColumns] = field(default_factory=dict)
    _sort_cache: dict[tuple[str, bool], np.ndarray] = field(default_factory=dict, repr=False)
    _user_codes: dict[Optional[str], int] = field(default_factory=lambda: {None: 0}, repr=False)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, store: Any, progress: Optional[Callable[[int, int], None]] = None,
             cancel: Optional[Callable[[], bool]] = None) -> "BrowseIndex":
        """Read every image's browse columns (and the active models' predictions) in one ordered pass."""
        index = cls()
        active = {kind: store.active_model(kind) for kind in MODEL_KINDS}
        n = int(store.query("SELECT count(*) AS n FROM images")[0]["n"])
        index._allocate(n, active)
        joins, cols, params = [], [], []
        for k, kind in enumerate(MODEL_KINDS):
            model = active[kind]
            if model is None:
                cols.append("-1, NULL, NULL, NULL")
                continue
            joins.append(f"LEFT JOIN predictions p{k} ON p{k}.model_id = ? AND p{k}.image_id = i.image_id")
            params.append(int(model["id"]))
            cols.append(f"coalesce(p{k}.predicted, -1), p{k}.confidence, p{k}.mismatch, p{k}.label_issue")
        sql = (
            "SELECT CAST(i.image_id AS BLOB), coalesce(i.recorded_count, -1), coalesce(i.effective_count, -1), "
            f"{_case('i.label_status', LABEL_STATUSES, 0)}, {_case('i.status', IMAGE_STATUSES, 0)}, "
            f"{_case('i.split', SPLITS, -1)}, coalesce(i.label_event_id, 0), i.reviewed_by, i.reviewed_at, "
            f"i.label_reason, {', '.join(cols)} FROM images i {' '.join(joins)} ORDER BY i.image_id"
        )
        conn = store.db.conn
        cursor = conn.execute(sql, params)
        done = 0
        while True:
            if cancel is not None and cancel():
                cursor.close()
                raise InterruptedError("loading the browser was cancelled")
            rows = cursor.fetchmany(CHUNK)
            if not rows:
                break
            index._fill(done, rows)
            done += len(rows)
            if progress is not None:
                progress(done, n)
        if done != n:  # rows added or removed while loading: trim to what was read
            index._truncate(done)
        return index

    def _allocate(self, n: int, active: dict[str, Optional[dict[str, Any]]]) -> None:
        self.ids = np.zeros(n, dtype="S1")
        self.recorded = np.full(n, -1, np.int32)
        self.effective = np.full(n, -1, np.int32)
        self.label_status = np.zeros(n, np.int8)
        self.status = np.zeros(n, np.int8)
        self.split = np.full(n, -1, np.int8)
        self.event_id = np.zeros(n, np.int64)
        self.reviewed_by = np.zeros(n, np.int32)
        self.reviewed_at = np.full(n, None, object)
        self.label_reason = np.full(n, None, object)
        self.models = {}
        for kind in MODEL_KINDS:
            model = active.get(kind)
            self.models[kind] = ModelColumns(
                model_id=None if model is None else int(model["id"]),
                name="" if model is None else str(model.get("name") or model.get("architecture") or kind),
                classes=tuple(int(c) for c in (model or {}).get("classes") or ()),
                predicted=np.full(n, -1, np.int16), confidence=np.full(n, np.nan, np.float32),
                mismatch=np.full(n, np.nan, np.float32), label_issue=np.full(n, np.nan, np.float32))
        self._sort_cache.clear()

    def _fill(self, start: int, rows: list[tuple[Any, ...]]) -> None:
        cols = list(zip(*rows))
        stop = start + len(rows)
        ids = np.array(cols[0], dtype="S")
        if ids.dtype.itemsize > self.ids.dtype.itemsize:
            self.ids = self.ids.astype(ids.dtype)
        self.ids[start:stop] = ids
        self.recorded[start:stop] = cols[1]
        self.effective[start:stop] = cols[2]
        self.label_status[start:stop] = cols[3]
        self.status[start:stop] = cols[4]
        self.split[start:stop] = cols[5]
        self.event_id[start:stop] = cols[6]
        self.reviewed_by[start:stop] = [self._user_code(u) for u in cols[7]]
        self.reviewed_at[start:stop] = cols[8]
        self.label_reason[start:stop] = cols[9]
        for k, kind in enumerate(MODEL_KINDS):
            m = self.models[kind]
            base = 10 + 4 * k
            m.predicted[start:stop] = cols[base]
            m.confidence[start:stop] = np.array(cols[base + 1], dtype=np.float32)
            m.mismatch[start:stop] = np.array(cols[base + 2], dtype=np.float32)
            m.label_issue[start:stop] = np.array(cols[base + 3], dtype=np.float32)

    def _truncate(self, n: int) -> None:
        for name in ("ids", "recorded", "effective", "label_status", "status", "split", "event_id",
                     "reviewed_by", "reviewed_at", "label_reason"):
            setattr(self, name, getattr(self, name)[:n])
        for m in self.models.values():
            for name in ("predicted", "confidence", "mismatch", "label_issue"):
                setattr(m, name, getattr(m, name)[:n])

    def _user_code(self, user: Optional[str]) -> int:
        code = self._user_codes.get(user)
        if code is None:
            code = self._user_codes[user] = len(self.users)
            self.users.append(user)
        return code

    # ------------------------------------------------------------------ rows
    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def image_id(self, pos: int) -> str:
        return self.ids[pos].decode("utf-8")

    def position(self, image_id: str) -> Optional[int]:
        """Row position of an image id, or None."""
        key = image_id.encode("utf-8")
        pos = int(np.searchsorted(self.ids, key))
        return pos if pos < len(self) and self.ids[pos] == key else None

    def positions(self, image_ids: Iterable[str]) -> np.ndarray:
        """Row positions of the ids that exist (unknown ids are dropped)."""
        keys = np.array([i.encode("utf-8") for i in image_ids], dtype="S")
        if keys.size == 0 or len(self) == 0:
            return np.zeros(0, np.int64)
        pos = np.searchsorted(self.ids, keys)
        pos = np.minimum(pos, len(self) - 1)
        return pos[self.ids[pos] == keys].astype(np.int64)

    def label_text(self, pos: int) -> str:
        status = LABEL_STATUSES[self.label_status[pos]]
        count = int(self.effective[pos])
        return L.describe_label(status, None if count < 0 else count, self.label_reason[pos])

    def reviewer(self, pos: int) -> Optional[str]:
        return self.users[self.reviewed_by[pos]]

    def model_kinds(self) -> list[str]:
        """Kinds with an active model, in display order."""
        return [k for k in MODEL_KINDS if self.models.get(k) and self.models[k].active]

    # ------------------------------------------------------------------ derived columns
    def mismatch_flags(self) -> np.ndarray:
        """True where an active model's predicted count disagrees with the recorded count.

        A recorded count above the model's largest class is compared as that class (a 0-5 model
        predicting 5 for a recorded 7 agrees as far as it can tell).
        """
        flags = np.zeros(len(self), bool)
        has_record = self.recorded >= 0
        for m in self.models.values():
            if not m.active:
                continue
            target = self.recorded
            if m.classes:
                target = np.clip(self.recorded, min(m.classes), max(m.classes))
            flags |= has_record & (m.predicted >= 0) & (m.predicted != target)
        return flags

    def mismatch_score(self) -> np.ndarray:
        """The audit ranking: the larger of the active models' stored mismatch scores (NaN = not scored).

        Where a model has a prediction but no stored score, its disagreement flag times its
        confidence stands in.
        """
        score = np.full(len(self), np.nan, np.float32)
        flags = None
        for m in self.models.values():
            if not m.active:
                continue
            s = m.mismatch
            missing = np.isnan(s) & (m.predicted >= 0)
            if missing.any():
                if flags is None:
                    flags = self.mismatch_flags()
                s = s.copy()
                s[missing] = (flags[missing] * np.nan_to_num(m.confidence[missing], nan=0.5)).astype(np.float32)
            score = np.fmax(score, s)
        return score

    def issue_score(self) -> np.ndarray:
        score = np.full(len(self), np.nan, np.float32)
        for m in self.models.values():
            if m.active:
                score = np.fmax(score, m.label_issue)
        return score

    # ------------------------------------------------------------------ filter and sort
    def mask(self, f: BrowseFilter, text_positions: Optional[np.ndarray] = None) -> np.ndarray:
        """Boolean mask of the rows passing the filter (text_positions: rows matching f.text, looked up by the caller)."""
        n = len(self)
        keep = np.ones(n, bool)
        if f.statuses:
            keep &= np.isin(self.status, [IMAGE_STATUSES.index(s) for s in f.statuses if s in IMAGE_STATUSES])
        if f.label_statuses:
            keep &= np.isin(self.label_status, [LABEL_STATUSES.index(s) for s in f.label_statuses
                                                if s in LABEL_STATUSES])
        if f.recorded_min is not None:
            keep &= self.recorded >= f.recorded_min
        if f.recorded_max is not None:
            keep &= (self.recorded <= f.recorded_max) & (self.recorded >= 0)
        if f.predicted is not None:
            kinds = self.model_kinds() if f.predicted_by == "any" else [f.predicted_by]
            hit = np.zeros(n, bool)
            for kind in kinds:
                if kind in self.models and self.models[kind].active:
                    hit |= self.models[kind].predicted == f.predicted
            keep &= hit
        if f.mismatch_only:
            keep &= self.mismatch_flags()
        if f.reviewed is not None:
            reviewed = self.reviewed_mask()
            keep &= reviewed if f.reviewed else ~reviewed
        if f.split:
            keep &= self.split == (SPLITS.index(f.split) if f.split in SPLITS else -2)
        if f.scored_only:
            keep &= ~np.isnan(self.mismatch_score())
        if f.text.strip():
            text_mask = np.zeros(n, bool)
            if text_positions is not None:
                text_mask[text_positions] = True
            keep &= text_mask
        return keep

    def select(self, f: BrowseFilter = BrowseFilter(), sort: str = "id", descending: bool = False,
               text_positions: Optional[np.ndarray] = None) -> np.ndarray:
        """Positions of the rows passing the filter, in the given (stable) sort order."""
        order = self.sort_order(sort, descending)
        if f.is_empty():
            return order.copy()
        return order[self.mask(f, text_positions)[order]]

    def sort_order(self, key: str, descending: bool = False) -> np.ndarray:
        """Permutation of all rows by key; ties keep id order; missing values (-1/NaN) go last. Cached."""
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        cached = self._sort_cache.get((key, descending))
        if cached is not None:
            return cached
        if key == "id":
            order = np.arange(len(self), dtype=np.int64)
            if descending:
                order = order[::-1].copy()
        else:
            values = self._sort_values(key)
            missing = np.isnan(values)
            values = np.where(missing, np.inf, -values if descending else values)
            order = np.argsort(values, kind="stable").astype(np.int64)
        self._sort_cache[(key, descending)] = order
        return order

    def _sort_values(self, key: str) -> np.ndarray:
        """A float64 sort key (NaN = missing)."""
        def ints(a: np.ndarray, missing: int = -1) -> np.ndarray:
            v = a.astype(np.float64)
            v[a == missing] = np.nan
            return v

        if key == "recorded":
            return ints(self.recorded)
        if key == "label":  # effective count, then status; uncountable/excluded after all counts
            v = ints(self.effective)
            v = np.where(np.isnan(v), 100_000.0, v) * 10 + self.label_status
            return v
        if key in ("resnet", "svm"):
            m = self.models.get(key)
            return ints(m.predicted) if m else np.full(len(self), np.nan)
        if key in ("resnet_conf", "svm_conf"):
            m = self.models.get(key.split("_")[0])
            return m.confidence.astype(np.float64) if m else np.full(len(self), np.nan)
        if key == "mismatch":
            return self.mismatch_score().astype(np.float64)
        if key == "issue":
            return self.issue_score().astype(np.float64)
        if key == "status":
            return self.status.astype(np.float64)
        if key == "split":
            return ints(self.split.astype(np.int32))
        if key == "reviewed_by":
            names = sorted((u for u in self.users if u is not None), key=str.lower)
            rank = np.array([np.nan if u is None else names.index(u) for u in self.users], np.float64)
            return rank[self.reviewed_by]
        if key == "reviewed_at":  # event ids grow with time, so they order reviews chronologically
            return ints(self.event_id, 0)
        raise ValueError(key)

    def queue_order(self, f: BrowseFilter = BrowseFilter()) -> np.ndarray:
        """The audit queue: scored rows passing the filter, highest mismatch score first."""
        from dataclasses import replace

        return self.select(replace(f, scored_only=True), "mismatch", descending=True)

    def reviewed_mask(self) -> np.ndarray:
        """Rows with a standing decision (a reset back to the recorded count counts as unreviewed)."""
        return ~np.isin(self.label_status, [LABEL_STATUSES.index(L.RECORDED), LABEL_STATUSES.index(L.RESET)])

    def queue_progress(self, positions: np.ndarray) -> QueueProgress:
        """How far the auditors are through a queue: reviewed, variances (corrected counts), uncountable."""
        status = self.label_status[positions]
        return QueueProgress(
            total=int(positions.size),
            reviewed=int(np.count_nonzero(self.reviewed_mask()[positions])),
            variances=int(np.count_nonzero(status == LABEL_STATUSES.index(L.CORRECTED))),
            uncountable=int(np.count_nonzero(status == LABEL_STATUSES.index(L.UNCOUNTABLE))),
        )

    # ------------------------------------------------------------------ refresh after relabels
    def refresh(self, store: Any, image_ids: Iterable[str]) -> np.ndarray:
        """Re-read the label columns of these images (after a relabel or another auditor's event); return positions."""
        wanted = list(dict.fromkeys(image_ids))
        if not wanted:
            return np.zeros(0, np.int64)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 900):
            chunk = wanted[start:start + 900]
            rows += store.query(
                "SELECT image_id, effective_count, label_status, label_event_id, reviewed_by, reviewed_at, "
                f"label_reason FROM images WHERE image_id IN ({','.join('?' * len(chunk))})", chunk)
        changed = []
        for r in rows:
            pos = self.position(r["image_id"])
            if pos is None:
                continue
            self.effective[pos] = -1 if r["effective_count"] is None else r["effective_count"]
            status = r["label_status"]
            self.label_status[pos] = LABEL_STATUSES.index(status) if status in LABEL_STATUSES else 0
            self.event_id[pos] = r["label_event_id"] or 0
            self.reviewed_by[pos] = self._user_code(r["reviewed_by"])
            self.reviewed_at[pos] = r["reviewed_at"]
            self.label_reason[pos] = r["label_reason"]
            changed.append(pos)
        if changed:
            for key in [k for k in self._sort_cache if k[0] in _LABEL_KEYS]:
                del self._sort_cache[key]
        return np.array(sorted(changed), np.int64)
