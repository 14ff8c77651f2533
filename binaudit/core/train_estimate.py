"""How long a first model takes to train on a CPU, estimated from the number of labelled photos (no torch).

The sensible first model on a machine without a GPU is the SVM with its default settings (32x32 pixels,
PCA 100, RBF kernel, 5-fold out-of-fold probabilities): on the real slice (../shared/abid-real) its
6,812 labelled photos with counts 0-5 (4,663 in train) trained in 62 s wall on 2 busy CPU cores
(`python -m training svm --db WS`): about 4 s to start, 1-2 ms a photo for the features, and the
kernel fits, which grow with the square of the training photos (one fit plus five out-of-fold fits).
The constants below reproduce that run; other machines differ, so callers say "estimate".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

START_S = 4.0
FEATURES_S_PER_PHOTO = 0.002
FIT_S_PER_TRAIN_PHOTO_SQUARED = 2.1e-6
SVM_MAX_COUNT = 5  # the default SVM learns counts 0-5 and leaves larger ones out


class LabelSource(Protocol):
    """What the estimate reads from a workspace (a LabelStore); a Protocol so this module needs no store import."""

    def training_labels(self, split: str | None = None) -> list[tuple[str, str, int]]: ...


@dataclass(frozen=True)
class TrainEstimate:
    """A rough duration for training the default SVM on this many labelled photos."""

    photos: int
    train_photos: int
    seconds: float

    def describe(self) -> str:
        """'an estimate: about 60 s for 6,812 labelled photos'."""
        return f"an estimate: about {duration_text(self.seconds)} for {self.photos:,} labelled photos"

    @staticmethod
    def basis() -> str:
        """What the estimate rests on, for a tooltip or a footnote."""
        return ("Estimated from a measured run: 62 s for 6,812 real labelled photos on 2 busy CPU cores; "
                "the kernel fits grow with the square of the training photos. Your machine may differ.")


def svm_estimate(photos: int, train_photos: int) -> TrainEstimate:
    """The default SVM's training time for `photos` labelled photos of which `train_photos` are in train."""
    seconds = (START_S + FEATURES_S_PER_PHOTO * photos
               + FIT_S_PER_TRAIN_PHOTO_SQUARED * float(train_photos) ** 2)
    return TrainEstimate(int(photos), int(train_photos), seconds)


def store_svm_estimate(store: LabelSource) -> TrainEstimate:
    """The estimate for a workspace: its trainable labels with counts the default SVM learns (0-5)."""
    usable = train = 0
    for split in ("train", "val", "test"):
        n = sum(1 for _id, _path, count in store.training_labels(split=split)
                if count <= SVM_MAX_COUNT)
        usable += n
        train += n if split == "train" else 0
    return svm_estimate(usable, train)


def duration_text(seconds: float) -> str:
    """A rounded duration: '20 s', '3 min', '1.5 h'."""
    if seconds < 90:
        return f"{max(10, int(round(seconds / 10.0)) * 10)} s"
    if seconds < 90 * 60:
        return f"{int(round(seconds / 60.0))} min"
    return f"{seconds / 3600.0:.1f} h"
