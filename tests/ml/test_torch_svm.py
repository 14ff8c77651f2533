"""The torch SVM reproduces scikit-learn's predictions exactly; its parameters round-trip through npz."""

import numpy as np
import pytest
import torch
from PIL import Image

from binaudit.ml.svm import FeatureSpec, TorchSVM, fit_svm, pixel_features

torch.set_num_threads(2)


def blobs(n, k, d=30, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, d)) + 0.6 * y[:, None] * (np.arange(d) < 4)
    return X.astype(np.float32), y


@pytest.mark.parametrize("kernel,params", [
    ("rbf", {"C": 10.0, "gamma": "scale"}),
    ("rbf", {"C": 1.0, "gamma": 0.02}),
    ("poly", {"C": 1.0, "degree": 3, "coef0": 1.0}),
    ("linear", {"C": 0.5}),
])
@pytest.mark.parametrize("k", [2, 6])
def test_torch_svm_equals_sklearn_on_every_test_image(kernel, params, k):
    X, y = blobs(240, k)
    Xt, _ = blobs(500, k, seed=1)
    pipe = fit_svm(X, y, kernel=kernel, n_components=12, **params)
    tsvm = TorchSVM.from_pipeline(pipe)
    X64 = Xt.astype(np.float64)
    assert np.array_equal(tsvm.predict(Xt), pipe.predict(X64))  # 100% agreement
    if k > 2:  # libsvm's ovo decision values themselves
        svc = pipe.named_steps["svc"]
        Z = pipe[:-1].transform(X64)
        ovo = svc.set_params(decision_function_shape="ovo").decision_function(Z)
        assert np.allclose(tsvm.ovo_decision(Xt).numpy(), ovo, atol=1e-9)


def test_whitened_pca_and_no_pca():
    from sklearn.decomposition import PCA
    X, y = blobs(150, 3)
    pipe = fit_svm(X, y, n_components=None)
    assert np.array_equal(TorchSVM.from_pipeline(pipe).predict(X), pipe.predict(X.astype(np.float64)))
    pipe = fit_svm(X, y, n_components=8)
    pipe.set_params(pca=PCA(8, whiten=True, svd_solver="randomized", random_state=0)).fit(X.astype(np.float64), y)
    assert np.array_equal(TorchSVM.from_pipeline(pipe).predict(X), pipe.predict(X.astype(np.float64)))


def test_vote_ties_go_to_the_lower_class():
    X, y = blobs(60, 3)
    tsvm = TorchSVM.from_pipeline(fit_svm(X, y, n_components=5))
    dec = torch.tensor([[1.0, -1.0, 1.0]], dtype=torch.float64)  # pairs (0,1),(0,2),(1,2): votes 0,2,1 -> 1 each
    assert tsvm.votes(dec).tolist() == [[1, 1, 1]]
    assert int(torch.argmax(tsvm.votes(dec), dim=1)) == 0


def test_calibrated_probabilities_and_npz_round_trip(tmp_path):
    X, y = blobs(200, 6)
    Xv, yv = blobs(120, 6, seed=2)
    tsvm = TorchSVM.from_pipeline(fit_svm(X, y, n_components=10))
    t = tsvm.calibrate(Xv, yv)
    assert 0.01 <= t <= 100
    idx, probs = tsvm.predict_with_proba(Xv)
    assert probs.shape == (120, 6) and np.allclose(probs.sum(axis=1), 1.0)
    assert np.array_equal(tsvm.classes[idx], tsvm.predict(Xv))
    # calibration lowers the validation NLL compared with T=1
    nll = lambda p: -np.log(p[np.arange(len(yv)), yv]).mean()  # noqa: E731
    fitted = nll(probs)
    tsvm.temperature = 1.0
    assert fitted <= nll(tsvm.predict_proba(Xv)) + 1e-9
    tsvm.temperature = t
    path = tmp_path / "svm.npz"
    tsvm.save_npz(path, FeatureSpec(size=8, hog=True))
    back, spec = TorchSVM.load_npz(path)
    assert spec == FeatureSpec(size=8, hog=True)
    assert back.temperature == t and back.kernel == tsvm.kernel
    assert np.array_equal(back.predict(Xv), tsvm.predict(Xv))
    assert np.allclose(back.predict_proba(Xv), tsvm.predict_proba(Xv))
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def test_features():
    imgs = [Image.new("RGB", (50, 30), (10 * i, 100, 200)) for i in range(3)]
    assert pixel_features(imgs, 8).shape == (3, 192)
    spec = FeatureSpec(size=8, hog=True, blobs=True, hog_size=32)
    feats = spec.extract(imgs)
    assert feats.shape[0] == 3 and feats.shape[1] > 192 and feats.dtype == np.float32
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
