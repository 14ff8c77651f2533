"""Cross-fitting shared by the training runs: folds by bin, and the out-of-fold predictions a model file keeps.

A model scores the photos it trained on from memory; the run therefore also trains k fold models, each on
the other folds' bins, and keeps what each predicts for the bins it did not see (binaudit.ml.crossfit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class CrossFit:
    """Out-of-fold probabilities of the photos a model trained on, and the fold that held each out."""

    image_ids: list[str]
    probs: np.ndarray
    fold_of: np.ndarray
    folds: int

    def save(self, manifest: Path, method: str) -> Path:
        """Write them beside the saved model and name them in its manifest (before it is registered)."""
        from binaudit.ml.crossfit import save_cross_fit
        return save_cross_fit(manifest, self.image_ids, self.probs, self.fold_of, self.folds, method)


def bin_folds(image_ids: Sequence[str], bin_of: dict[str, str], k: int, seed: int) -> np.ndarray:
    """A fold number 1..k per image; every photo of a bin shares its fold, bins dealt round a shuffled order."""
    keys = [bin_of.get(i, i) for i in image_ids]
    unique = sorted(set(keys))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_bin = {b: int(order[n] % k) + 1 for n, b in enumerate(unique)}
    return np.array([fold_of_bin[b] for b in keys], dtype=np.int64)
