"""The count models as loaded from their files: the CountModel protocol, ResNetModel and SVMModel.

Scoring, training reports and the GUI talk to every model through CountModel; modelfiles builds
them after checking the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from .resnet import ResNetCounter
from .svm import FeatureSpec, TorchSVM


@runtime_checkable
class CountModel(Protocol):
    """What scoring, training reports and the GUI need from any count model."""

    kind: str
    architecture: str
    classes: list[int]
    input_size: int
    manifest: dict

    def transform(self, image: Any) -> torch.Tensor: ...  # PIL image -> model input (picklable, for workers)
    def to(self, device: Any) -> CountModel: ...
    def forward_batch(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]: ...  # (counts, probs)
    def predict_proba(self, images: Sequence[Any]) -> np.ndarray: ...
    def predict(self, images: Sequence[Any]) -> np.ndarray: ...


# ---------------------------------------------------------------- concrete models

class ResNetModel(ResNetCounter):
    """A ResNetCounter that follows the CountModel protocol (predicted count = argmax)."""

    def __init__(self, *args: Any, manifest: dict | None = None, tta: bool = False, **kw: Any):
        super().__init__(*args, **kw)
        self.manifest = manifest or {}
        self.tta = tta

    def forward_batch(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        probs = self.predict_batch(batch, tta=self.tta)
        return np.asarray(self.classes)[probs.argmax(axis=1)], probs

    def predict(self, images: Sequence[Any]) -> np.ndarray:
        return np.asarray(self.classes)[self.predict_proba(images, tta=self.tta).argmax(axis=1)]


class _FeatureTransform:
    """Picklable PIL image -> float32 feature tensor, for DataLoader workers."""

    def __init__(self, spec: FeatureSpec):
        self.spec = spec

    def __call__(self, image: Any) -> torch.Tensor:
        return torch.from_numpy(self.spec(image))


class SVMModel:
    """TorchSVM + its feature spec as a CountModel; probabilities spread over all N count classes."""

    kind = "svm"

    def __init__(self, svm: TorchSVM, features: FeatureSpec, classes: Sequence[int], manifest: dict | None = None,
                 architecture: str = "svm", device: str | torch.device = "cpu"):
        self.svm, self.features = svm, features
        self.classes = [int(c) for c in classes]
        self.input_size = features.size
        self.manifest = manifest or {}
        self.architecture = architecture
        self.transform = _FeatureTransform(features)
        self._columns = np.array([self.classes.index(int(c)) for c in svm.classes])
        self.to(device)

    def to(self, device: str | torch.device | None) -> SVMModel:
        from .device import choose_device
        self.device = device if isinstance(device, torch.device) else choose_device(device)
        if self.device.type == "mps":  # MPS has no float64, and the exact libsvm maths needs it
            self.device = torch.device("cpu")
        self.svm.to(self.device)
        return self

    def forward_batch(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        index, p = self.svm.predict_with_proba(batch)
        probs = np.zeros((len(index), len(self.classes)))
        probs[:, self._columns] = p
        return self.svm.classes[index].astype(np.int64), probs

    def _batch(self, images: Sequence[Any]) -> torch.Tensor:
        if isinstance(images, torch.Tensor):
            return images if images.ndim == 2 else images.unsqueeze(0)
        return torch.stack([im if isinstance(im, torch.Tensor) else self.transform(im) for im in images])

    def predict_proba(self, images: Sequence[Any]) -> np.ndarray:
        return self.forward_batch(self._batch(images))[1]

    def predict(self, images: Sequence[Any]) -> np.ndarray:
        return self.forward_batch(self._batch(images))[0]
