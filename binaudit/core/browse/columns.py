"""What the browser holds and asks for: category orders, sort keys, the filter, a model's columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from binaudit.core import abid
from binaudit.core import labels as L
from binaudit.core.store.browse_columns import CategoryCodes

LABEL_STATUSES = (L.RECORDED, L.CONFIRMED, L.CORRECTED, L.UNCOUNTABLE, L.EXCLUDED, L.RESET)
IMAGE_STATUSES = abid.STATUSES
SPLITS = ("train", "val", "test")
CODES = CategoryCodes(LABEL_STATUSES, IMAGE_STATUSES, SPLITS)  # how the Store codes the category columns

# Sort keys understood by select(); each maps to one or two arrays (see BrowseIndex._sort_values).
SORT_KEYS = ("id", "recorded", "label", "resnet", "resnet_conf", "svm", "svm_conf", "mismatch", "issue",
             "status", "split", "reviewed_by", "reviewed_at")


@dataclass(frozen=True)
class BrowseFilter:
    """What the browser shows. Empty/None fields do not filter."""

    statuses: frozenset[str] = frozenset()        # image import statuses (ok, inconsistent, ...)
    label_statuses: frozenset[str] = frozenset()  # effective label statuses (recorded, corrected, ...)
    recorded_min: int | None = None
    recorded_max: int | None = None
    predicted: int | None = None
    predicted_by: str = "any"                     # "any" or a model kind
    mismatch_only: bool = False
    reviewed: bool | None = None
    split: str | None = None
    text: str = ""                                # full-text search over SKU names and ASINs (store.search_items)
    scored_only: bool = False                     # the audit queue: only images with a mismatch score

    def is_empty(self) -> bool:
        return self == NO_FILTER


NO_FILTER = BrowseFilter()  # every row


@dataclass
class ModelColumns:
    """One active model's columns, aligned with the index rows (-1 / NaN where the image is not scored)."""

    model_id: int | None
    name: str
    classes: tuple[int, ...]
    predicted: np.ndarray
    confidence: np.ndarray
    mismatch: np.ndarray
    label_issue: np.ndarray
    probs: np.ndarray  # (N, len(classes)) float32 stored probabilities; NaN rows where not scored
    in_sample: np.ndarray | None = None  # bool rows it scored after training on their records (None: none)

    @property
    def active(self) -> bool:
        return self.model_id is not None

    def judged_in_sample(self, rows: Any = slice(None)) -> np.ndarray:
        """True where this model's prediction comes from training on the row's own record."""
        if self.in_sample is None:
            return np.zeros(self.predicted[rows].shape, bool)
        return self.in_sample[rows]


def learned_its_training_records(model: Mapping[str, Any] | None) -> bool:
    """A model trained in this workspace (it has a run here) without cross-fitted predictions: its own scores of
    the training split's bins come from having learned their records."""
    if not model:
        return False
    return model.get("run_id") is not None and not (model.get("manifest") or {}).get("cross_fit")


@dataclass
class QueueProgress:
    total: int
    reviewed: int
    variances: int
    uncountable: int
