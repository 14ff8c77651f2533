"""SVM counter: scikit-learn training pipeline and its exact torch re-implementation for inference.

Training uses Pipeline(StandardScaler, PCA(randomized), SVC). Inference never calls scikit-learn:
``TorchSVM`` evaluates the fitted parameters with float64 torch maths on any device and reproduces
libsvm's one-vs-one vote, so its ``predict`` equals ``Pipeline.predict``.

Probabilities: a multinomial logistic map of the raw one-vs-one decision values, fitted on held-out
(validation) images by ``TorchSVM.calibrate`` (binaudit.ml.svm_calibration says why: the earlier
softmax over vote-dominated margin scores gave nearly the same flat vector to every image). Files
written before that fix carry no calibrator and keep their old probabilities, softmax(score / T) over
scikit-learn's ovr score (votes plus squashed margins) with T fitted on validation. We chose this over
libsvm's Platt coupling (``SVC(probability=True)``) because that option is deprecated in scikit-learn
1.9 and removed in 1.11, and because it costs an internal 5-fold refit.
``predict`` is libsvm's vote (ties to the lower class); argmax of the calibrated probabilities may
differ from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .preprocess import pixel_transform
from .svm_calibration import DecisionCalibrator, fit_decision_calibrator

KERNELS = ("rbf", "poly", "linear", "sigmoid")
NPZ_FORMAT = "binaudit-svm-1"


# ---------------------------------------------------------------- features

@lru_cache(maxsize=8)
def _pixels(size: int):
    return pixel_transform(size)


def pixel_features(images: Sequence[Image.Image], size: int = 32) -> np.ndarray:
    """Raw pixels: each image squashed to size x size RGB, scaled to [0, 1], flattened -> (n, 3*size*size)."""
    tf = _pixels(int(size))
    return np.stack([tf(img).numpy().reshape(-1) for img in images]).astype(np.float32)


def _gray(img: Image.Image, size: int) -> np.ndarray:
    return _pixels(int(size))(img.convert("L")).numpy()[0].astype(np.float64)


def hog_features(img: Image.Image, size: int = 64) -> np.ndarray:
    """Histogram of oriented gradients of the grayscale image at size x size (8 px cells, 2x2 blocks)."""
    from skimage.feature import hog
    return hog(_gray(img, size), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
               feature_vector=True).astype(np.float32)


BLOB_SIGMAS = (2.0, 8.0, 5)  # min_sigma, max_sigma, num_sigma


def blob_features(img: Image.Image, size: int = 64) -> np.ndarray:
    """Laplacian-of-Gaussian blob counts: the total and one count per sigma level."""
    from skimage.feature import blob_log
    lo, hi, num = BLOB_SIGMAS
    sigmas = np.linspace(lo, hi, num)
    blobs = blob_log(_gray(img, size), min_sigma=lo, max_sigma=hi, num_sigma=num, threshold=0.1)
    counts = np.zeros(num + 1, dtype=np.float32)
    counts[0] = len(blobs)
    for s in blobs[:, 2] if len(blobs) else []:
        counts[1 + int(np.argmin(np.abs(sigmas - s)))] += 1
    return counts


@dataclass(frozen=True)
class FeatureSpec:
    """Which features an SVM uses; calling it maps one PIL image to a 1-D float32 feature vector."""

    size: int = 32
    hog: bool = False
    blobs: bool = False
    hog_size: int = 64

    def __call__(self, img: Image.Image) -> np.ndarray:
        parts = [pixel_features([img], self.size)[0]]
        if self.hog:
            parts.append(hog_features(img, self.hog_size))
        if self.blobs:
            parts.append(blob_features(img, self.hog_size))
        return np.concatenate(parts).astype(np.float32)

    def extract(self, images: Iterable[Image.Image]) -> np.ndarray:
        """Feature matrix (n, d) for a sequence of images."""
        return np.stack([self(img) for img in images])

    def to_dict(self) -> dict:
        return {"size": self.size, "hog": self.hog, "blobs": self.blobs, "hog_size": self.hog_size}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        return cls(int(d.get("size", 32)), bool(d.get("hog", False)), bool(d.get("blobs", False)),
                   int(d.get("hog_size", 64)))


# ---------------------------------------------------------------- training

def fit_svm(X: np.ndarray, y: np.ndarray, kernel: str = "rbf", C: float = 100.0,
            gamma: str | float = "scale", n_components: int | None = 100,
            degree: int = 3, coef0: float = 0.0, random_state: int = 0,
            sample_weight: np.ndarray | None = None) -> Pipeline:
    """Fit StandardScaler -> PCA(randomized) -> SVC on float64 features; n_components None/0 skips PCA.

    No probability=True: probabilities come from TorchSVM.calibrate (see the module docstring).
    sample_weight scales each photo's slack penalty in the SVC (C x weight); the scaler and PCA are unweighted.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    X = np.asarray(X, dtype=np.float64)
    pca: object = "passthrough"
    if n_components:
        k = int(min(n_components, X.shape[0], X.shape[1]))
        pca = PCA(n_components=k, svd_solver="randomized", random_state=random_state)
    svc = SVC(kernel=kernel, C=C, gamma=gamma, degree=degree, coef0=coef0, random_state=random_state)
    return Pipeline([("scale", StandardScaler()), ("pca", pca), ("svc", svc)]).fit(
        X, np.asarray(y), svc__sample_weight=sample_weight)


# ---------------------------------------------------------------- torch inference

def _pair_coefficients(dual_coef: np.ndarray, n_support: np.ndarray) -> np.ndarray:
    """(n_SV, n_pairs) weights so that K @ W gives libsvm's one-vs-one sums (pairs i<j in libsvm order)."""
    k = len(n_support)
    start = np.concatenate([[0], np.cumsum(n_support)[:-1]])
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    W = np.zeros((dual_coef.shape[1], len(pairs)), dtype=np.float64)
    for p, (i, j) in enumerate(pairs):
        si, sj = start[i], start[j]
        W[si:si + n_support[i], p] = dual_coef[j - 1, si:si + n_support[i]]
        W[sj:sj + n_support[j], p] = dual_coef[i, sj:sj + n_support[j]]
    return W


class TorchSVM:
    """A fitted scaler/PCA/SVC pipeline as float64 torch tensors: decision values, libsvm vote, calibrated probabilities."""

    ARRAYS = ("scaler_mean", "scaler_scale", "pca_mean", "pca_components", "pca_scale",
              "support_vectors", "dual_coef", "intercept", "n_support", "classes")

    def __init__(self, params: dict[str, np.ndarray], kernel: str, gamma: float, coef0: float, degree: int,
                 temperature: float = 1.0, device: str | torch.device = "cpu",
                 calibrator: DecisionCalibrator | None = None):
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}")
        self.params = {k: np.asarray(params[k]) for k in self.ARRAYS}
        self.kernel, self.gamma, self.coef0, self.degree = kernel, float(gamma), float(coef0), int(degree)
        self.temperature = float(temperature)
        self.calibrator = calibrator
        self.calibration_info: dict = {}
        self.classes = self.params["classes"]
        self.n_pairs = len(self.classes) * (len(self.classes) - 1) // 2
        self.device = torch.device("cpu")
        self.to(device)

    # ------------------------------------------------ construction and files

    @classmethod
    def from_pipeline(cls, pipe: Pipeline, device: str | torch.device = "cpu") -> TorchSVM:
        """Read every parameter the fitted pipeline uses for prediction (libsvm sign convention)."""
        scaler, pca, svc = pipe.named_steps["scale"], pipe.named_steps["pca"], pipe.named_steps["svc"]
        d = svc.support_vectors_.shape[1]
        n_features = scaler.mean_.shape[0]
        has_pca = pca is not None and pca != "passthrough"
        dual, intercept = np.array(svc.dual_coef_, np.float64), np.array(svc.intercept_, np.float64)
        if len(svc.classes_) == 2:  # sklearn flips the binary signs; undo to get libsvm's
            dual, intercept = -dual, -intercept
        if has_pca:
            scale = np.sqrt(pca.explained_variance_) if pca.whiten else np.ones(d)
        params = {
            "scaler_mean": scaler.mean_ if scaler.with_mean else np.zeros(n_features),
            "scaler_scale": scaler.scale_ if scaler.with_std else np.ones(n_features),
            "pca_mean": pca.mean_ if has_pca else np.zeros(0),
            "pca_components": pca.components_ if has_pca else np.zeros((0, n_features)),
            "pca_scale": scale if has_pca else np.zeros(0),
            "support_vectors": svc.support_vectors_, "dual_coef": dual, "intercept": intercept,
            "n_support": svc.n_support_, "classes": svc.classes_,
        }
        return cls(params, svc.kernel, svc._gamma, svc.coef0, svc.degree, 1.0, device)

    def save_npz(self, path: str | os.PathLike, features: FeatureSpec | None = None) -> None:
        """Write every parameter to an .npz of plain numeric/unicode arrays (no pickles)."""
        extra = {"format": np.array(NPZ_FORMAT), "kernel": np.array(self.kernel),
                 "gamma": np.array(self.gamma), "coef0": np.array(self.coef0), "degree": np.array(self.degree),
                 "temperature": np.array(self.temperature)}
        if features is not None:
            extra["features"] = np.array([features.size, int(features.hog), int(features.blobs), features.hog_size])
        if self.calibrator is not None:
            extra.update(calib_coef=self.calibrator.coef, calib_intercept=self.calibrator.intercept,
                         calib_l2=np.array(self.calibrator.l2))
        with open(path, "wb") as fh:
            np.savez(fh, allow_pickle=False, **self.params, **extra)

    @classmethod
    def load_npz(cls, path: str | os.PathLike, device: str | torch.device = "cpu"
                 ) -> tuple[TorchSVM, FeatureSpec | None]:
        """Read an .npz written by save_npz with allow_pickle=False; ValueError if it is not one."""
        with np.load(path, allow_pickle=False) as z:
            if "format" not in z.files or str(z["format"]) != NPZ_FORMAT:
                raise ValueError(f"{path} is not a binaudit SVM parameter file")
            scalars = ("kernel", "gamma", "coef0", "degree", "temperature")
            missing = [k for k in cls.ARRAYS + scalars if k not in z.files]
            if missing:
                raise ValueError(f"{path} lacks {missing}")
            params = {k: z[k] for k in cls.ARRAYS}
            feats = None
            if "features" in z.files:
                f = z["features"]
                feats = FeatureSpec(int(f[0]), bool(f[1]), bool(f[2]), int(f[3]))
            calibrator = None
            if "calib_coef" in z.files:
                calibrator = DecisionCalibrator(np.asarray(z["calib_coef"], np.float64),
                                                np.asarray(z["calib_intercept"], np.float64),
                                                float(z["calib_l2"]) if "calib_l2" in z.files else 0.0)
                k, pairs = len(params["classes"]), len(params["classes"]) * (len(params["classes"]) - 1) // 2
                if calibrator.coef.shape != (k, pairs) or calibrator.intercept.shape != (k,):
                    raise ValueError(f"{path}: calibrator shapes {calibrator.coef.shape} do not fit {k} classes")
            svm = cls(params, str(z["kernel"]), float(z["gamma"]), float(z["coef0"]), int(z["degree"]),
                      float(z["temperature"]), device, calibrator)
        return svm, feats

    def to(self, device: str | torch.device) -> TorchSVM:
        """Put the parameter tensors (float64) on a device."""
        self.device = torch.device(device)
        t = {k: torch.as_tensor(np.asarray(v, dtype=np.float64), device=self.device)
             for k, v in self.params.items() if k not in ("n_support", "classes")}
        self._t = t
        self._W = torch.as_tensor(_pair_coefficients(self.params["dual_coef"], self.params["n_support"]),
                                  device=self.device)
        if self.calibrator is not None:
            self._calib = (torch.as_tensor(self.calibrator.coef, dtype=torch.float64, device=self.device),
                           torch.as_tensor(self.calibrator.intercept, dtype=torch.float64, device=self.device))
        return self

    # ------------------------------------------------ maths

    def transform(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Scaler then PCA projection (then whitening), float64 on the model's device."""
        t = self._t
        X = torch.as_tensor(X, device=self.device).to(torch.float64)
        X = (X - t["scaler_mean"]) / t["scaler_scale"]
        if t["pca_components"].shape[0]:
            X = (X - t["pca_mean"]) @ t["pca_components"].T / t["pca_scale"]
        return X

    def _kernel(self, Z: torch.Tensor) -> torch.Tensor:
        sv = self._t["support_vectors"]
        if self.kernel == "rbf":  # direct differences like libsvm's dense k_function
            d2 = torch.cdist(Z, sv, compute_mode="donot_use_mm_for_euclid_dist") ** 2
            return torch.exp(-self.gamma * d2)
        dot = Z @ sv.T
        if self.kernel == "linear":
            return dot
        if self.kernel == "poly":
            return (self.gamma * dot + self.coef0) ** self.degree
        return torch.tanh(self.gamma * dot + self.coef0)

    def ovo_decision(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """libsvm's one-vs-one decision values (n, n_pairs); positive votes for the lower class of the pair."""
        return self._kernel(self.transform(X)) @ self._W + self._t["intercept"]

    def votes(self, dec: torch.Tensor) -> torch.Tensor:
        """One-vs-one vote counts (n, n_classes): dec > 0 votes for class i, else for class j (libsvm)."""
        k = len(self.classes)
        ii, jj = torch.triu_indices(k, k, offset=1, device=dec.device)
        pos = (dec > 0).to(torch.int64)
        votes = torch.zeros(dec.shape[0], k, dtype=torch.int64, device=dec.device)
        votes.index_add_(1, ii, pos)
        votes.index_add_(1, jj, 1 - pos)
        return votes

    def predict_index(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Index into self.classes of the winning class; ties go to the lower index (torch.argmax, like libsvm)."""
        return torch.argmax(self.votes(self.ovo_decision(X)), dim=1).cpu().numpy()

    def predict(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Class labels, equal to the sklearn pipeline's predict."""
        return self.classes[self.predict_index(X)]

    def margin_scores(self, dec: torch.Tensor) -> torch.Tensor:
        """scikit-learn's ovr class score: votes + summed margins squashed into (-1/3, 1/3)."""
        k = len(self.classes)
        ii, jj = torch.triu_indices(k, k, offset=1, device=dec.device)
        margin = torch.zeros(dec.shape[0], k, dtype=dec.dtype, device=dec.device)
        margin.index_add_(1, ii, dec)
        margin.index_add_(1, jj, -dec)
        return self.votes(dec).to(dec.dtype) + margin / (3 * (margin.abs() + 1))

    def proba_from_decision(self, dec: torch.Tensor) -> torch.Tensor:
        """Probabilities over self.classes from decision values: the calibrator's softmax(W d + b) / T, or (a
        file from before the calibrator) softmax(margin_scores / T)."""
        if self.calibrator is not None:
            coef, intercept = self._calib
            return torch.softmax((dec @ coef.T + intercept) / self.temperature, dim=1)
        return torch.softmax(self.margin_scores(dec) / self.temperature, dim=1)

    def predict_proba(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        """Probabilities (n, n_classes) over self.classes (proba_from_decision)."""
        return self.proba_from_decision(self.ovo_decision(X)).cpu().numpy()

    def predict_with_proba(self, X: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(class indices as predict_index gives them, probabilities) from one kernel evaluation."""
        dec = self.ovo_decision(X)
        index = torch.argmax(self.votes(dec), dim=1).cpu().numpy()
        return index, self.proba_from_decision(dec).cpu().numpy()

    def margin_probabilities(self, X: np.ndarray | torch.Tensor, temperature: float = 1.0) -> np.ndarray:
        """The pre-calibrator probabilities softmax(margin_scores / T), for reports comparing the two."""
        return torch.softmax(self.margin_scores(self.ovo_decision(X)) / temperature, dim=1).cpu().numpy()

    def class_index(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of labels that are SVM classes, their indices into self.classes)."""
        index = {c: i for i, c in enumerate(self.classes.tolist())}
        known = np.array([v in index for v in np.asarray(y).tolist()], dtype=bool)
        return known, np.array([index[v] for v in np.asarray(y)[known].tolist()], dtype=np.int64)

    def calibrate(self, X_val: np.ndarray | torch.Tensor, y_val: np.ndarray,
                  groups: Sequence | None = None, seed: int = 0) -> float:
        """Fit the decision-value calibrator on held-out images (groups: their bins, for its cross-validated
        penalty) and reset the temperature to 1; returns the temperature."""
        known, target = self.class_index(y_val)
        if not known.any():
            raise ValueError("no validation label is one of the SVM's classes")
        dec = self.ovo_decision(X_val).cpu().numpy()[known]
        kept = None if groups is None else np.asarray(groups)[known]
        self.calibrator, self.calibration_info = fit_decision_calibrator(dec, target, len(self.classes), kept,
                                                                         seed=seed)
        self.temperature = 1.0
        self.to(self.device)
        return self.temperature
