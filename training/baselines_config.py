"""The settings and vocabulary of a baselines run (kept free of heavy imports so the command line starts fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from binaudit.ml.svm import FeatureSpec

FEATURES = ("pixels", "pca", "hog", "blobs")
METHODS = ("logreg", "tree", "linsvc", "nusvc", "svc-rbf", "svc-poly")
# The published table's columns: LR, tree and SVM on pixels, SVM on blobs, HOG and PCA; then the other SVMs.
DEFAULT_COLUMNS = ("logreg:pixels", "tree:pixels", "svc-rbf:pixels", "svc-rbf:blobs", "svc-rbf:hog",
                   "svc-rbf:pca", "linsvc:pca", "nusvc:pca", "svc-poly:pca")


@dataclass(frozen=True)
class BaselineConfig:
    """Which METHOD:FEATURE columns to fit, on which features and labels, with which search."""

    columns: tuple[str, ...] = DEFAULT_COLUMNS
    size: int = 32  # raw pixels: photo squashed to size x size (published: 224)
    hog_size: int = 64
    pca: int = 100  # PCA components (published: about 1000)
    published_grids: bool = False  # the published (large) grids, ten-fold CV
    cv: int = 0  # folds of the search; 0 = 3, or 10 with published_grids
    split: str = "store"  # store, or ratios like 70/20/10
    eval_split: str = "test"
    max_count: int = 5
    or_more: bool = False
    workers: int = 0  # feature extraction processes

    @property
    def num_classes(self) -> int:
        return self.max_count + 1

    def feature_specs(self) -> dict[str, FeatureSpec]:
        """The extractor settings of the features computed (PCA is fitted on the raw pixels)."""
        from binaudit.ml.svm import FeatureSpec
        return {"pixels": FeatureSpec(self.size), "hog": FeatureSpec(self.size, hog=True, hog_size=self.hog_size),
                "blobs": FeatureSpec(self.size, blobs=True, hog_size=self.hog_size)}


def parse_columns(text: str) -> tuple[str, ...]:
    """"logreg:pixels, tree:pixels" -> ("logreg:pixels", "tree:pixels") (checked when the run starts)."""
    return tuple(c.strip() for c in text.split(",") if c.strip())
