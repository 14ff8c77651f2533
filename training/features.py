"""Feature matrices for the SVM and the classic baselines, computed exactly as SVM scoring computes them
(binaudit.ml.svm.FeatureSpec on the decoded photo), in DataLoader worker processes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader

from binaudit.ml.preprocess import decode_image
from binaudit.ml.svm import FeatureSpec

from .cache import DecodeEach
from .stream import Stopped, TrainingFailed


def _features_of(spec: FeatureSpec, path: str) -> np.ndarray:
    return spec(decode_image(path))


def _collate(batch: list) -> list:
    return batch


def extract_features(paths: Sequence[str], spec: FeatureSpec, workers: int = 0,
                     progress: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """(n, d) float32 features for the photos; TrainingFailed names unreadable ones."""
    out: list[np.ndarray | None] = [None] * len(paths)
    bad: list[str] = []
    loader = DataLoader(DecodeEach(paths, partial(_features_of, spec)), batch_size=32, num_workers=workers, collate_fn=_collate)
    done = 0
    for batch in loader:
        for k, feats, error in batch:
            out[k] = feats
            if feats is None:
                bad.append(error)
        done += len(batch)
        if progress:
            progress(done, len(paths))
        if should_stop():
            raise Stopped()
    if bad:
        raise TrainingFailed(f"{len(bad)} image(s) cannot be read ({'; '.join(bad[:5])}); "
                             "fix or re-import them, or mark them excluded")
    if not paths:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(out).astype(np.float32)


_LIMITS: list = []


def set_threads(threads: int) -> None:
    """Cap torch's threads and the BLAS/OpenMP pools of numpy, scipy and scikit-learn (0 = leave them)."""
    if threads:
        from threadpoolctl import threadpool_limits
        torch.set_num_threads(threads)
        _LIMITS.append(threadpool_limits(limits=threads))
