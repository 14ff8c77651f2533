"""ResNet counters, model files (round trip, tampering, foreign formats) and the model registry."""

import json
import pickle
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image

from binaudit.ml import modelfiles as mf
from binaudit.ml import resnet as rn
from binaudit.ml.svm import FeatureSpec, TorchSVM, fit_svm

torch.set_num_threads(2)


class Payload:
    """Unpickling this creates the marker file: proof that a loader executed a pickle."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def resnet_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    net = rn.build_resnet("resnet18", num_classes=6)
    manifest = mf.save_resnet(net, d / "r18", architecture="resnet18", input_size=64, metrics={"acc": 0.5})
    return net, manifest


@pytest.fixture(scope="module")
def svm_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("svm")
    rng = np.random.default_rng(0)
    X, y = rng.random((80, 3 * 8 * 8)).astype(np.float32), rng.integers(0, 5, 80)  # no count 5 seen
    tsvm = TorchSVM.from_pipeline(fit_svm(X, y, n_components=8))
    tsvm.calibrate(X, y)
    return X, tsvm, mf.save_svm(tsvm, FeatureSpec(size=8), d / "svm", classes=range(6))


def images(n=3, size=(70, 50)):
    return [Image.new("RGB", size, (40 * i, 200, 30)) for i in range(n)]


# ---------------------------------------------------------------- ResNet

@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50"])
def test_build_resnet_heads(arch):
    assert rn.build_resnet(arch, num_classes=4).fc.out_features == 4


def test_resnet_predict_proba_shape_and_sum():
    counter = rn.ResNetCounter(rn.build_resnet("resnet18"), "resnet18", input_size=64)
    probs = counter.predict_proba(torch.randn(3, 3, 64, 64))
    assert probs.shape == (3, 6) and np.allclose(probs.sum(axis=1), 1.0)
    tta = counter.predict_proba(images(2), tta=True)
    assert tta.shape == (2, 6) and np.allclose(tta.sum(axis=1), 1.0)


def test_imagenet_offline_raises_clear_error(monkeypatch):
    def offline(**kw):
        raise urllib.error.URLError("no network")
    monkeypatch.setitem(rn.ARCHITECTURES, "resnet18", (offline, rn.ARCHITECTURES["resnet18"][1]))
    with pytest.raises(rn.PretrainedWeightsUnavailable, match="local file"):
        rn.build_resnet("resnet18", weights="imagenet")


def test_local_imagenet_weights(tmp_path):
    from safetensors.torch import save_file
    src = rn.models.resnet18(weights=None)
    state = src.state_dict()
    torch.save(state, tmp_path / "r18.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "r18.safetensors"))
    for name in ("r18.pth", "r18.safetensors"):
        net = rn.build_resnet("resnet18", num_classes=6, weights=tmp_path / name)
        assert torch.equal(net.conv1.weight, src.conv1.weight) and net.fc.out_features == 6
    with pytest.raises(rn.PretrainedWeightsUnavailable, match="does not fit"):
        rn.build_resnet("resnet34", weights=tmp_path / "r18.pth")


def test_local_weights_never_unpickle(tmp_path):
    marker = tmp_path / "pwned"
    Payload.marker = str(marker)
    torch.save({"conv1.weight": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(rn.PretrainedWeightsUnavailable):
        rn.build_resnet("resnet18", weights=tmp_path / "evil.pth")
    assert not marker.exists()


# ---------------------------------------------------------------- model files

def test_resnet_round_trip(resnet_files):
    net, manifest_path = resnet_files
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format"] == "binaudit-model" and manifest["format_version"] == 1
    assert manifest["kind"] == "resnet" and manifest["classes"] == list(range(6)) and manifest["input_size"] == 64
    assert manifest["metrics"] == {"acc": 0.5} and "training_run" in manifest and "preprocessing" in manifest
    model = mf.load_model(manifest_path.with_suffix(".safetensors"))
    assert isinstance(model, mf.CountModel) and model.kind == "resnet" and model.input_size == 64
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        want = torch.softmax(net.eval()(x), dim=1).numpy()
    counts, probs = model.forward_batch(x)
    assert np.allclose(probs, want, atol=1e-5) and np.array_equal(counts, want.argmax(axis=1))
    assert model.predict_proba(images()).shape == (3, 6)
    again = mf.load_model(manifest, base_dir=manifest_path.parent)  # a manifest dict works too
    assert np.allclose(again.forward_batch(x)[1], probs)


def test_svm_round_trip(svm_files):
    X, tsvm, manifest_path = svm_files
    model = mf.load_model(manifest_path)
    assert model.kind == "svm" and model.classes == list(range(6)) and isinstance(model, mf.CountModel)
    counts, probs = model.forward_batch(torch.from_numpy(X))
    assert np.array_equal(counts, tsvm.predict(X))
    assert probs.shape == (80, 6) and np.allclose(probs.sum(axis=1), 1) and np.all(probs[:, 5] == 0)
    assert model.predict(images()).shape == (3,)


def test_tampered_file_refused(resnet_files, tmp_path):
    import shutil
    _, manifest_path = resnet_files
    for p in (manifest_path, manifest_path.with_suffix(".safetensors")):
        shutil.copy(p, tmp_path / p.name)
    weights = tmp_path / manifest_path.with_suffix(".safetensors").name
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(mf.ModelFileError, match="changed after it was saved"):
        mf.load_model(tmp_path / manifest_path.name)


def _evil_with_manifest(path, kind):
    manifest = {"format": "binaudit-model", "format_version": 1, "kind": kind, "architecture": "resnet18",
                "classes": list(range(6)), "input_size": 64, "preprocessing": {}, "training_run": None,
                "metrics": {}, "file": path.name, "sha256": mf.sha256_file(path)}
    mpath = path.with_suffix(".json")
    mpath.write_text(json.dumps(manifest))
    return mpath


def _write_foreign(kind, path, payload):
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"fc.weight": payload}))
    elif kind == "torch":
        torch.save({"fc.weight": payload}, path)
    elif kind == "joblib":
        import joblib
        joblib.dump({"svc": payload}, path)
    elif kind == "joblib-z":
        import joblib
        joblib.dump({"svc": payload}, path, compress=3)
    elif kind == "object-npz":  # a complete SVM file with one member swapped for a pickled object array
        rng = np.random.default_rng(0)
        TorchSVM.from_pipeline(fit_svm(rng.random((20, 4)), np.arange(20) % 2, n_components=2)).save_npz(path)
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["support_vectors"] = np.array([payload], dtype=object)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)


@pytest.mark.parametrize("fmt,name,kind,why", [
    ("pickle", "evil.safetensors", "resnet", "pickle"), ("pickle", "evil.pkl", "svm", "pickle"),
    ("torch", "evil.pt", "resnet", "torch.save"), ("torch", "evil.npz", "svm", "torch.save"),
    ("joblib", "evil.joblib", "svm", "pickle"), ("joblib-z", "evil.joblib", "svm", "compressed"),
    ("object-npz", "evil.npz", "svm", "Python objects"),
])
def test_foreign_files_refused_without_running_them(tmp_path, fmt, name, kind, why):
    marker = tmp_path / "pwned"
    Payload.marker = str(marker)
    path = tmp_path / name
    _write_foreign(fmt, path, Payload())
    assert not marker.exists()
    with pytest.raises(mf.ModelFileError, match=why):
        mf.load_model(_evil_with_manifest(path, kind))
    with pytest.raises(mf.ModelFileError):  # and with no manifest at all
        mf.load_model(tmp_path / "nothing-here.pkl")
    assert not marker.exists()


def test_bad_manifests_refused(resnet_files, tmp_path):
    _, manifest_path = resnet_files
    good = json.loads(manifest_path.read_text())
    for change in ({"format": "other"}, {"format_version": 2}, {"kind": "tree"}, {"classes": []},
                   {"sha256": "abc"}, {"input_size": "big"}):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**good, **change}))
        with pytest.raises(mf.ModelFileError):
            mf.load_model(bad)
    (tmp_path / "notjson.json").write_text("{nope")
    with pytest.raises(mf.ModelFileError, match="JSON"):
        mf.load_model(tmp_path / "notjson.json")


# ---------------------------------------------------------------- registry

def test_registry_checks_the_store_sha(store, resnet_files, svm_files, tmp_path):
    _, resnet_manifest = resnet_files
    rid = mf.register_model_file(store, resnet_manifest, label_snapshot="0:abc")
    sid = mf.register_model_file(store, svm_files[2])
    rec = store.get_model(rid)
    assert rec["kind"] == "resnet" and rec["sha256"] == json.loads(resnet_manifest.read_text())["sha256"]
    assert mf.load_registered(store, rid).kind == "resnet"
    mf.activate_registered(store, rid)
    mf.activate_registered(store, sid)
    assert store.active_model("resnet")["id"] == rid and store.active_model("svm")["id"] == sid
    # a second file whose own manifest is consistent but is not the registered one
    other = mf.save_resnet(rn.build_resnet("resnet18"), tmp_path / "other", architecture="resnet18", input_size=64)
    rid2 = store.register_model(kind="resnet", architecture="resnet18", classes=list(range(6)),
                                path=str(other.with_suffix(".safetensors")), sha256=rec["sha256"])
    with pytest.raises(mf.ModelFileError, match="not the file that was registered"):
        mf.load_registered(store, rid2)
    with pytest.raises(mf.ModelFileError, match="no model"):
        mf.load_registered(store, 999)
