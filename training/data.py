"""Training data from a workspace: effective labels per split, count range, the resized-image cache, Dataset, sampler.

The Dataset yields uint8 (3, S, S) tensors; `normalize_batch` turns a batch into the same floats that
binaudit.ml.preprocess.eval_transform gives (tested), so training and inference see identical inputs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from binaudit.core.splits import SPLITS, parse_ratios, split_chooser
from binaudit.core.store import Store
from binaudit.ml.preprocess import IMAGENET_MEAN, IMAGENET_STD, color_jitter

from .cache import ImageCache
from .stream import TrainingFailed

log = logging.getLogger("training")


@dataclass
class LabelSet:
    """The images of one split that a run trains or evaluates on, with their class index (= count)."""

    ids: list[str]
    paths: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def class_counts(self, num_classes: int) -> list[int]:
        return np.bincount(self.labels, minlength=num_classes).tolist()


def _assign_splits(rows: list[tuple[str, str, int]], store: Store, split: str) -> dict[str, list]:
    """The store's own split ("store"), or one recomputed from each photo's bin key with the given ratios.

    By bin, as the import splits: photos of one bin never land on both sides (binaudit.core.splits).
    """
    if split == "store":
        return {s: store.training_labels(s) for s in SPLITS}
    choose = split_chooser(parse_ratios(split))
    bins = store.bin_keys()
    out: dict[str, list] = {s: [] for s in SPLITS}
    for row in rows:
        out[choose(bins.get(row[0], row[0]))].append(row)
    return out


def load_label_sets(store: Store, split: str = "store", max_count: int = 5,
                    or_more: bool = False) -> dict[str, LabelSet]:
    """train/val/test LabelSets from the store's effective labels (uncountable/excluded already left out).

    Counts above max_count are dropped, or kept as class max_count ("N or more") when or_more is set.
    """
    rows = store.training_labels() if split != "store" else []
    by_split = _assign_splits(rows, store, split)
    sets = {}
    for name, items in by_split.items():
        kept = [(i, p, min(c, max_count)) for i, p, c in items if or_more or c <= max_count]
        if len(kept) < len(items):
            log.info("%s: %d images with a count above %d left out", name, len(items) - len(kept), max_count)
        sets[name] = LabelSet([k[0] for k in kept], [k[1] for k in kept],
                              np.array([k[2] for k in kept], dtype=np.int64))
    return sets


def check_trainable(sets: dict[str, LabelSet], num_classes: int) -> None:
    """Refuse a run that cannot learn anything, with a message for the user."""
    train = sets["train"]
    if len(train) == 0:
        raise TrainingFailed("no labelled images in the training split (import a dataset, or check that "
                             "not every image is marked uncountable or excluded)")
    present = [c for c, n in enumerate(train.class_counts(num_classes)) if n]
    if len(present) < 2:
        raise TrainingFailed(f"the training split has only one class (count {present[0]}): nothing to learn")
    if len(sets["val"]) == 0:
        raise TrainingFailed("no labelled images in the validation split; use more images or other --split ratios")


class CachedImages(Dataset):
    """Rows of an ImageCache with labels; random horizontal flip and colour jitter (binaudit.ml.preprocess.
    color_jitter, strength `jitter`) drawn from (seed, epoch, index), so a resumed epoch sees the same images."""

    def __init__(self, cache: ImageCache, rows: np.ndarray, labels: np.ndarray, hflip: bool = False,
                 seed: int = 0, jitter: float = 0.0):
        self.cache = cache
        self.rows = np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.hflip = hflip
        self.jitter = float(jitter)
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.cache.array()[self.rows[index]]
        if self.hflip and np.random.default_rng((self.seed, self.epoch, index)).random() < 0.5:
            image = image[:, :, ::-1]
        tensor = torch.from_numpy(np.array(image, copy=True))
        if self.jitter > 0:
            tensor = color_jitter(tensor, self.jitter, np.random.default_rng((self.seed, self.epoch, index, 1)))
        return tensor, int(self.labels[index])


_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def normalize_batch(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, S, S) -> float32 scaled to [0, 1] and normalised with the ImageNet mean/std."""
    x = batch.to(torch.float32).div_(255.0)
    return x.sub_(_MEAN.to(x.device)).div_(_STD.to(x.device))


class ResumableSampler(DistributedSampler):
    """DistributedSampler (shuffled by seed + epoch, one shard per rank) that can start part-way into an epoch."""

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, shuffle: bool = True,
                 seed: int = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.start = 0

    def set_start(self, samples_done: int) -> None:
        self.start = max(0, int(samples_done))

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


class ShardSampler(Sampler[int]):
    """Evaluation: rank r takes items r, r+W, r+2W... with no padding, so all-reduced counts are exact."""

    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0):
        self.indices = list(range(rank, n, num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def build_dataset(cache: ImageCache, labels: LabelSet, paths_rows: dict[str, int], hflip: bool,
                  seed: int, jitter: float = 0.0) -> CachedImages:
    rows = np.array([paths_rows[i] for i in labels.ids], dtype=np.int64)
    return CachedImages(cache, rows, labels.labels, hflip=hflip, seed=seed, jitter=jitter)


def prepare_datasets(sets: dict[str, LabelSet], cache_root: Path, input_size: int, hflip: bool, seed: int,
                     workers: int = 0, skip_bad: bool = False, progress=None, letterbox: bool = False,
                     jitter: float = 0.0) -> dict[str, CachedImages]:
    """Make sure every image is in the cache at input_size (squashed or letterboxed), then one dataset per
    split (train flips and jitters)."""
    cache = ImageCache(cache_root, input_size, letterbox=letterbox)
    wanted = [(i, p) for s in sets.values() for i, p in zip(s.ids, s.paths)]
    rows, bad = cache.ensure(wanted, workers=workers, progress=progress)
    if bad and not skip_bad:
        listed = "; ".join(f"{i}: {why}" for i, why in list(bad.items())[:5])
        raise TrainingFailed(f"{len(bad)} image(s) cannot be read ({listed}); fix or re-import them, "
                             "mark them excluded, or pass --skip-bad-images")
    out = {}
    for name, s in sets.items():
        keep = [k for k, i in enumerate(s.ids) if i in rows]
        kept = LabelSet([s.ids[k] for k in keep], [s.paths[k] for k in keep], s.labels[keep])
        train = name == "train"
        out[name] = build_dataset(cache, kept, rows, hflip=hflip and train, seed=seed, jitter=jitter if train else 0.0)
    return out


def batches_per_epoch(n: int, batch_size: int, world: int = 1) -> int:
    return math.ceil(math.ceil(n / world) / batch_size)


def make_loader(dataset: Dataset, batch_size: int, sampler: Sampler, workers: int,
                pin_memory: bool = False) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                                       pin_memory=pin_memory, drop_last=False,
                                       persistent_workers=False)


def label_set_summary(sets: dict[str, LabelSet], num_classes: int) -> dict[str, dict]:
    return {name: {"n": len(s), "per_class": s.class_counts(num_classes)} for name, s in sets.items()}
