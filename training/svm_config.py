"""The settings of an SVM run (kept free of heavy imports so the command line starts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from binaudit.ml.svm import FeatureSpec


@dataclass
class SVMConfig:
    """Settings of an SVM run (saved as the run's config)."""

    size: int = 32  # raw pixels: photo squashed to size x size RGB
    hog: bool = False
    blobs: bool = False
    hog_size: int = 64
    pca: int = 100  # PCA components (randomized solver); 0 = no PCA
    kernel: str = "rbf"
    C: float = 10.0
    gamma: str = "scale"
    degree: int = 3
    search: bool = False  # cross-validated grid over C and gamma on the training split
    folds: int = 5  # k of the out-of-fold predictions (0 = skip)
    split: str = "store"
    max_count: int = 5
    or_more: bool = False
    seed: int = 0
    workers: int = 0

    def features(self) -> FeatureSpec:
        from binaudit.ml.svm import FeatureSpec
        return FeatureSpec(self.size, self.hog, self.blobs, self.hog_size)

    def gamma_value(self) -> Any:
        return self.gamma if self.gamma in ("scale", "auto") else float(self.gamma)
