"""`binaudit models`: train in one workspace, export, import into another, activate, score, queue; and refusals."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from binaudit.cli import main
from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.importer import import_dataset
from binaudit.core.store import Store
from binaudit.core.synth import generate_dataset

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Payload:
    """Unpickling this creates the marker file: proof that something executed a pickle."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def binaudit(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    """Run the real `binaudit` command in a subprocess."""
    result = subprocess.run([sys.executable, "-m", "binaudit.cli", *map(str, args)], check=False,
                            capture_output=True, text=True, env=ENV, timeout=300)
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def refused(*args: str) -> str:
    """Run `binaudit` in-process where it must refuse; returns its one-line message."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    message = str(exc.value.code)
    assert message.startswith("binaudit: ") and "\n" not in message
    return message


def workspace_of(tmp: Path, name: str, n: int, seed: int) -> Path:
    """Synthetic bins imported into a fresh workspace folder."""
    bins = tmp / f"{name}-bins"
    generate_dataset(bins, n, seed=seed, mismatch_rate=0.1, image_scale=0.3)
    root = tmp / name
    with Store.open(root / "workspace.db") as store:
        import_dataset(store, bins, workers=1)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Workspace A with a tiny SVM and a tiny ResNet trained by the training module (neither activated)."""
    from training.__main__ import main as training

    tmp = tmp_path_factory.mktemp("models-cli")
    a = workspace_of(tmp, "a", 60, seed=1)
    assert training(["svm", "--db", str(a), "--size", "16", "--pca", "10", "--folds", "0", "--threads", "1"]) == 0
    assert training(["resnet", "--db", str(a), "--recipe", "tiny", "--epochs", "1", "--threads", "1",
                     "--workers", "0"]) == 0
    with Store.open(a / "workspace.db") as store:
        ids = {m["kind"]: int(m["id"]) for m in store.list_models()}
        assert not any(m["active"] for m in store.list_models())
    svm_zip = tmp / "svm.binaudit-model.zip"
    assert main(["models", "export", str(ids["svm"]), str(svm_zip), "--db", str(a)]) == 0
    return {"tmp": tmp, "a": a, "ids": ids, "svm_zip": svm_zip}


@pytest.fixture
def other(tmp_path) -> Path:
    """A second workspace, of different synthetic bins, with no models."""
    return workspace_of(tmp_path, "b", 30, seed=2)


def models_of(root: Path) -> list[dict]:
    with Store.open(root / "workspace.db") as store:
        return store.list_models()


def files_under(root: Path) -> set[Path]:
    """Every file of a workspace but SQLite's own -wal/-shm companions."""
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def test_round_trip_train_export_import_activate_score_queue(trained, other, capsys):
    a, ids, tmp = trained["a"], trained["ids"], trained["tmp"]
    listing = binaudit("models", "--db", a).stdout
    assert "{" not in listing and "per_class" not in listing  # a table, not Python dicts
    lines = {line.split()[0]: line for line in listing.splitlines()[2:]}
    with Store.open(a / "workspace.db") as store:
        svm = store.get_model(ids["svm"])
    assert lines[str(ids["svm"])].split()[1:4] == ["svm", "svm-rbf", "0-5"]
    assert f"{100 * svm['metrics']['accuracy']:.1f}%" in lines[str(ids["svm"])]
    assert f"{svm['metrics']['rmse']:.3f}" in lines[str(ids["svm"])]

    # the ResNet goes through in-process (faster), the SVM through real subprocesses end to end
    resnet_zip = tmp / "resnet.zip"
    assert main(["models", "export", str(ids["resnet"]), str(resnet_zip), "--db", str(a)]) == 0
    assert main(["models", "import", str(resnet_zip), "--db", str(other), "--activate"]) == 0
    exported = tmp / "svm-subprocess.zip"
    binaudit("models", "export", ids["svm"], exported, "--db", a)
    with zipfile.ZipFile(exported) as z:
        assert sorted(z.namelist()) == sorted(["manifest.json", "export.json", Path(svm["path"]).name])
    out = binaudit("models", "import", exported, "--db", other).stdout
    new_svm = next(m for m in models_of(other) if m["kind"] == "svm")
    assert f"as model {new_svm['id']} (svm)" in out and new_svm["sha256"] == svm["sha256"] and not new_svm["active"]
    assert main(["models", "import", str(exported), "--db", str(other)]) == 0
    assert "already registered" in capsys.readouterr().out and len(models_of(other)) == 2  # no duplicate

    out = binaudit("models", "activate", new_svm["id"], "--db", other).stdout
    assert "now the active svm model" in out and "binaudit score" in out
    assert "yes" in binaudit("models", "--db", other).stdout
    binaudit("score", "--db", other)
    queue = binaudit("queue", "--db", other, "--top", "1000").stdout.splitlines()
    new_resnet = next(m for m in models_of(other) if m["kind"] == "resnet")
    _check_queue_is_the_imported_models(trained, other, {-5: new_resnet["id"], -3: new_svm["id"]}, queue)


def _check_queue_is_the_imported_models(trained: dict, other: Path, columns: dict[int, int], queue: list[str]) -> None:
    """Every queue row shows the stored predictions of the imported models; the original SVM file reproduces them."""
    from binaudit.ml.modelfiles import load_model
    from binaudit.ml.preprocess import decode_image

    with Store.open(other / "workspace.db") as store:
        stored = {col: {p["image_id"]: p for p in store.predictions(model_id)} for col, model_id in columns.items()}
        usable = len(store.image_ids(status=IMAGE_USABLE_STATUSES))
        paths = store.image_paths(store.image_ids(status=IMAGE_USABLE_STATUSES))
    with Store.open(trained["a"] / "workspace.db") as store:
        original = load_model(store.get_model(trained["ids"]["svm"])["path"])
    rows = [line.split() for line in queue[2:]]
    assert len(rows) == usable > 20 and all(len(by_image) == usable for by_image in stored.values())
    for row in rows:  # ... image  recorded  label words  resnet (conf)  svm (conf)  score
        for col, by_image in stored.items():
            want = by_image[row[1]]
            assert (int(row[col]), row[col + 1]) == (want["predicted"], f"({want['confidence']:.2f})")
    svm_stored = stored[-3]
    for image_id in list(svm_stored)[:8]:
        image = decode_image(paths[image_id])
        assert np.allclose(original.predict_proba([image])[0], svm_stored[image_id]["probs"], atol=1e-4)
        assert int(original.predict([image])[0]) == svm_stored[image_id]["predicted"]  # the libsvm vote


def test_pickle_payload_is_refused_and_never_runs(trained, other, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.npz"
    evil.write_bytes(pickle.dumps({"support_vectors": Payload(marker)}))
    manifest = json.loads(zipfile.ZipFile(trained["svm_zip"]).read("manifest.json"))
    manifest.update(file="evil.npz", sha256=_sha(evil))
    packed = tmp_path / "evil.zip"
    with zipfile.ZipFile(packed, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        z.write(evil, "evil.npz")
    before = files_under(other)
    result = binaudit("models", "import", packed, "--db", other, ok=False)  # the real command, in its own process
    assert result.returncode == 1 and "pickle" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "pickle" in refused("models", "import", evil, "--db", other)  # the bare pickle given as the file
    assert not marker.exists() and models_of(other) == [] and files_under(other) == before


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rewrite(source: Path, out: Path, change) -> Path:
    """A copy of an export zip with each member's (name, bytes) passed through change."""
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(out, "w") as w:
        for name in z.namelist():
            new_name, data = change(name, z.read(name))
            w.writestr(new_name, data)
    return out


def _flip_weights(name: str, data: bytes) -> tuple[str, bytes]:
    if name.endswith(".npz"):
        data = bytearray(data)
        data[len(data) // 2] ^= 0xFF
    return name, bytes(data)


def _traverse(name: str, data: bytes) -> tuple[str, bytes]:
    if name == "manifest.json":
        manifest = json.loads(data)
        manifest["file"] = "../../" + manifest["file"]
        return name, json.dumps(manifest).encode()
    return (name if name.endswith(".json") else "../../" + name), data


@pytest.mark.parametrize("case,why", [
    ("tampered", "changed after it was saved"), ("traversal", "unsafe path"), ("truncated", "truncated"),
    ("not-ours", "not a binaudit model export"), ("empty-zip", "no manifest.json"),
    ("object-npz", "Python objects"), ("torch-save", "torch.save"),
])
def test_bad_files_change_nothing(trained, other, tmp_path, case, why):
    source, marker = trained["svm_zip"], tmp_path / "pwned"
    bad = tmp_path / f"{case}.zip"
    if case == "tampered":
        _rewrite(source, bad, _flip_weights)
    elif case == "traversal":
        _rewrite(source, bad, _traverse)
    elif case == "truncated":
        bad.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    elif case == "not-ours":
        bad = next((trained["tmp"] / "a-bins").rglob("*.jpg"))
    elif case == "empty-zip":
        zipfile.ZipFile(bad, "w").writestr("readme.txt", "hello")
    elif case == "object-npz":
        _object_array(source, bad, marker)
    else:
        import torch
        torch.save({"fc.weight": Payload(marker)}, bad)
    before = files_under(other)
    message = refused("models", "import", bad, "--db", other)
    assert why in message and "nothing imported" in message, message
    assert models_of(other) == [] and files_under(other) == before and not marker.exists()
    weights_name = Path(models_of(trained["a"])[0]["path"]).name
    assert not [p for p in tmp_path.rglob("*") if p.name == weights_name]  # nothing written outside either


def _object_array(source: Path, out: Path, marker: Path) -> Path:
    """A real SVM export with its support vectors swapped for a pickled object array, sha updated to match."""
    with zipfile.ZipFile(source) as z:
        members = {name: z.read(name) for name in z.namelist()}
    manifest = json.loads(members["manifest.json"])
    with np.load(io.BytesIO(members[manifest["file"]])) as arrays:
        swapped = {k: arrays[k] for k in arrays.files}
    swapped["support_vectors"] = np.array([Payload(marker)], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **swapped)
    members[manifest["file"]] = buffer.getvalue()
    manifest["sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out


def test_unknown_ids_and_missing_workspace(trained, other, tmp_path):
    assert "no model 999" in refused("models", "activate", "999", "--db", other)
    assert "no model 999" in refused("models", "export", "999", tmp_path / "x.zip", "--db", other)
    assert not (tmp_path / "x.zip").exists()
    assert "no workspace" in refused("models", "--db", tmp_path / "nowhere")
    out = binaudit("models", "activate", "999", "--db", other, ok=False)
    assert out.returncode == 1 and "no model 999" in out.stderr


def test_export_refuses_to_overwrite_and_a_changed_model_file(trained, other, tmp_path):
    from binaudit.ml.modelfiles import register_model_file

    a, svm_id = trained["a"], trained["ids"]["svm"]
    target = tmp_path / "out.zip"
    target.write_text("keep me")
    assert "already exists" in refused("models", "export", svm_id, target, "--db", a)
    assert target.read_text() == "keep me"
    assert main(["models", "export", str(svm_id), str(target), "--db", str(a), "--force"]) == 0
    with zipfile.ZipFile(target) as z:
        assert z.read("manifest.json") == Path(models_of(a)[0]["path"]).with_suffix(".json").read_bytes()
    # a registered model whose file changed afterwards is not exported
    copy = tmp_path / "copy"
    copy.mkdir()
    with zipfile.ZipFile(target) as z:
        manifest = json.loads(z.read("manifest.json"))
        (copy / manifest["file"]).with_suffix(".json").write_bytes(z.read("manifest.json"))
        (copy / manifest["file"]).write_bytes(z.read(manifest["file"]))
    with Store.open(other / "workspace.db") as store:
        model_id = register_model_file(store, (copy / manifest["file"]).with_suffix(".json"))
    _flip = bytearray((copy / manifest["file"]).read_bytes())
    _flip[100] ^= 0xFF
    (copy / manifest["file"]).write_bytes(bytes(_flip))
    message = refused("models", "export", model_id, tmp_path / "changed.zip", "--db", other)
    assert "cannot be exported" in message and "changed after it was saved" in message
    assert not (tmp_path / "changed.zip").exists() and not list(tmp_path.glob("*.tmp"))
