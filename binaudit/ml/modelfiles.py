"""Model files and the model registry: safetensors / npz weights plus a JSON manifest, never a pickle.

A model is two files side by side: ``NAME.safetensors`` (ResNet) or ``NAME.npz`` (SVM), and
``NAME.json``, the manifest. Loading checks the manifest, the sha256 of the weights file (against
the manifest and, for registered models, the store record) and the file's own format before any
parsing, and refuses pickles, torch ``.pt`` archives, joblib files and npz files with object arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from binaudit.core.kinds import MODEL_KINDS

from .count_models import CountModel, ResNetModel, SVMModel
from .heads import HEADS, head_classes
from .preprocess import letterbox_of, preprocessing_spec
from .resnet import ResNetCounter, build_resnet, known_architecture
from .svm import FeatureSpec, TorchSVM

FORMAT = "binaudit-model"
FORMAT_VERSION = 1
WEIGHT_SUFFIX = {"resnet": ".safetensors", "svm": ".npz"}
MAX_HEADER = 100 * 1024 * 1024
PathLike = str | os.PathLike


class ModelFileError(Exception):
    """A model file that binaudit refuses to load, with the reason in words."""


# ---------------------------------------------------------------- saving

def sha256_file(path: PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _paths(out: PathLike, kind: str) -> tuple[Path, Path]:
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".json", ".npz", ".safetensors") else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    return stem.with_suffix(WEIGHT_SUFFIX[kind]), stem.with_suffix(".json")


def _write_manifest(path: Path, weights: Path, **fields: Any) -> Path:
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **fields,
                "file": weights.name, "sha256": sha256_file(weights)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=_json_default))
    os.replace(tmp, path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def save_resnet(model: torch.nn.Module | ResNetCounter, out: PathLike, *, architecture: str,
                input_size: int = 224, classes: Sequence[int] | None = None, training_run: Any = None,
                metrics: dict | None = None, tta: bool = False, head: str = "softmax",
                calibration: dict | None = None, letterbox: bool = False, jitter: float = 0.0,
                or_more: bool = False, training: dict | None = None) -> Path:
    """Write NAME.safetensors + NAME.json for a ResNet; returns the manifest path.

    The manifest says how to turn the outputs into probabilities ("head", "calibration": the temperature
    fitted on val) and how to preprocess ("preprocessing": squash or letterbox), so scoring decodes and
    feeds the model as it was trained; "top_class_or_more" says the last class means "that many or more".
    """
    from safetensors.torch import save_file
    net = model.model if isinstance(model, ResNetCounter) else model
    state = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    classes = list(classes) if classes is not None else list(range(head_classes(net)))
    weights, manifest = _paths(out, "resnet")
    save_file(state, str(weights), metadata={"format": FORMAT, "architecture": architecture})
    return _write_manifest(manifest, weights, kind="resnet", architecture=architecture,
                           classes=[int(c) for c in classes], input_size=int(input_size), head=head,
                           calibration=calibration or {"method": "none", "temperature": 1.0},
                           top_class_or_more=bool(or_more), training=training or {},
                           preprocessing={**preprocessing_spec(input_size, letterbox, jitter), "tta_hflip": bool(tta)},
                           training_run=training_run, metrics=metrics or {})


def save_svm(svm: TorchSVM, features: FeatureSpec, out: PathLike, *, classes: Sequence[int] | None = None,
             training_run: Any = None, metrics: dict | None = None, calibration: dict | None = None,
             or_more: bool = False) -> Path:
    """Write NAME.npz + NAME.json for an SVM; returns the manifest path (the calibrator itself is in the npz)."""
    classes = list(classes) if classes is not None else list(range(int(max(svm.classes)) + 1))
    weights, manifest = _paths(out, "svm")
    svm.save_npz(weights, features)
    return _write_manifest(manifest, weights, kind="svm", architecture=f"svm-{svm.kernel}",
                           classes=[int(c) for c in classes], input_size=features.size,
                           preprocessing={"decode": "PIL JPEG, RGB", "resize": "squash",
                                          "features": features.to_dict(),
                                          "probabilities": _svm_probabilities(svm),
                                          "temperature": svm.temperature},
                           calibration=calibration or {"method": _svm_probabilities(svm)},
                           top_class_or_more=bool(or_more), training_run=training_run, metrics=metrics or {})


def _svm_probabilities(svm: TorchSVM) -> str:
    if svm.calibrator is not None:
        return "softmax(W @ ovo decision values + b), fitted on val (multinomial logistic)"
    return "softmax(ovo vote margins / T), T fitted on val"


# ---------------------------------------------------------------- loading

def read_manifest(path_or_manifest: PathLike | dict, base_dir: PathLike | None = None
                  ) -> tuple[dict, Path]:
    """(validated manifest, weights path) from a manifest path, a weights path or a manifest dict."""
    if isinstance(path_or_manifest, dict):
        manifest = path_or_manifest
        base = Path(base_dir) if base_dir is not None else Path(".")
    else:
        path = Path(path_or_manifest)
        mpath = path if path.suffix == ".json" else path.with_suffix(".json")
        if not mpath.is_file():
            raise ModelFileError(f"{path}: no manifest {mpath.name} beside it; not a binaudit model file")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{mpath}: the manifest is not readable JSON ({exc})") from exc
        base = mpath.parent
    _validate_manifest(manifest)
    file = Path(str(manifest["file"]))
    return manifest, file if file.is_absolute() else base / file


def _validate_manifest(m: Any) -> None:
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise ModelFileError("not a binaudit model manifest (format is not 'binaudit-model')")
    if m.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"model format version {m.get('format_version')!r} is not supported "
                             f"(this binaudit reads version {FORMAT_VERSION})")
    if m.get("kind") not in MODEL_KINDS:
        raise ModelFileError(f"unknown model kind {m.get('kind')!r}; expected one of {MODEL_KINDS}")
    classes = m.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, int) for c in classes):
        raise ModelFileError("the manifest's classes must be a non-empty list of integer counts")
    if not isinstance(m.get("input_size"), int) or m["input_size"] <= 0:
        raise ModelFileError("the manifest's input_size must be a positive integer")
    sha = m.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelFileError("the manifest has no valid sha256")
    if not isinstance(m.get("file"), str) or not m["file"]:
        raise ModelFileError("the manifest does not name its weights file")


def _check_hash(weights: Path, manifest: dict, expected_sha256: str | None) -> None:
    if not weights.is_file():
        raise ModelFileError(f"weights file missing: {weights}")
    actual = sha256_file(weights)
    if actual != manifest["sha256"]:
        raise ModelFileError(f"{weights.name} was changed after it was saved: its sha256 {actual[:12]}... "
                             f"does not match the manifest's {manifest['sha256'][:12]}...; refusing to load it")
    if expected_sha256 is not None and actual != expected_sha256:
        raise ModelFileError(f"{weights.name} is not the file that was registered: sha256 {actual[:12]}... "
                             f"!= recorded {expected_sha256[:12]}...; refusing to load it")


def describe_foreign(path: Path) -> str | None:
    """A word on what a file is if it is a known unsafe/foreign format (pickle, .pt, joblib), else None."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
        return "a Python pickle (e.g. joblib or torch.save output)"
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            return "a damaged zip archive"
        if any(n.endswith(".pkl") or "/data/" in n for n in names):
            return "a torch.save archive (.pt/.pth zip with a pickle inside)"
        return None
    for magic, what in ((b"\x78", "zlib"), (b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"),
                        (b"\x5d\x00", "lzma"), (b"\x04\x22\x4d\x18", "lz4")):
        if head.startswith(magic):
            return f"a {what}-compressed file (compressed joblib/pickle?)"
    return None


def _check_safetensors(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        n = struct.unpack("<Q", raw)[0] if len(raw) == 8 else -1
        ok = 1 < n <= min(MAX_HEADER, size - 8)
        header = fh.read(n) if ok else b""
    try:
        ok = ok and isinstance(json.loads(header.decode("utf-8")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError):
        ok = False
    if not ok:
        raise ModelFileError(f"{path.name} is not a safetensors file")


def _check_npz(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path.name} is not an .npz archive") from exc
    odd = [n for n in names if not n.endswith(".npy")]
    if odd or not names:
        raise ModelFileError(f"{path.name} is not a plain .npz (unexpected members {odd[:3]})")


def _sniff(path: Path, kind: str) -> None:
    foreign = describe_foreign(path)
    if foreign:
        raise ModelFileError(f"{path.name} is {foreign}; binaudit never loads pickled files. "
                             f"Re-export the model with binaudit (safetensors or npz).")
    (_check_safetensors if kind == "resnet" else _check_npz)(path)


def load_model(path_or_manifest: PathLike | dict, *, device: str | torch.device | None = "cpu",
               expected_sha256: str | None = None, base_dir: PathLike | None = None) -> CountModel:
    """Verify and load a model file (manifest or weights path, or a manifest dict) as a CountModel."""
    manifest, weights = read_manifest(path_or_manifest, base_dir)
    _check_hash(weights, manifest, expected_sha256)
    _sniff(weights, manifest["kind"])
    if manifest["kind"] == "resnet":
        return _load_resnet(weights, manifest, device)
    return _load_svm(weights, manifest, device)


def _load_resnet(weights: Path, manifest: dict, device: Any) -> ResNetModel:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    arch = manifest.get("architecture")
    if not isinstance(arch, str) or not known_architecture(arch):
        raise ModelFileError(f"unknown network architecture {arch!r}")
    head = manifest.get("head", "softmax")  # manifests before heads existed: softmax
    if head not in HEADS:
        raise ModelFileError(f"unknown output head {head!r}; this binaudit knows {HEADS}")
    with torch.device("meta"):  # no random init: every tensor comes from the file
        net = build_resnet(arch, num_classes=len(manifest["classes"]), weights=None, head=head)
    try:
        net.load_state_dict(load_file(str(weights), device="cpu"), strict=True, assign=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise ModelFileError(f"{weights.name} does not hold {arch} weights for "
                             f"{len(manifest['classes'])} classes: {str(exc)[:300]}") from exc
    preprocessing = manifest.get("preprocessing", {})
    tta = bool(preprocessing.get("tta_hflip", False))
    return ResNetModel(net, arch, manifest["input_size"], manifest["classes"], device=device, manifest=manifest,
                       tta=tta, head=head, temperature=_temperature(manifest), letterbox=letterbox_of(preprocessing))


def _temperature(manifest: dict) -> float:
    """The calibration temperature of a manifest (1.0 when none was fitted); refuses nonsense."""
    calibration = manifest.get("calibration") or {}
    t = calibration.get("temperature", 1.0) if isinstance(calibration, dict) else 1.0
    if not isinstance(t, (int, float)) or not 0 < float(t) < 1e6:
        raise ModelFileError(f"the manifest's calibration temperature {t!r} is not a positive number")
    return float(t)


def _load_svm(weights: Path, manifest: dict, device: Any) -> SVMModel:
    try:
        svm, features = TorchSVM.load_npz(weights)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelFileError(f"{weights.name} holds Python objects (pickles) in its arrays; "
                                 f"binaudit never loads pickled data") from exc
        raise ModelFileError(f"{weights.name} is not a binaudit SVM parameter file: {str(exc)[:300]}") from exc
    except (KeyError, OSError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{weights.name} is not a binaudit SVM parameter file: {str(exc)[:300]}") from exc
    spec = manifest.get("preprocessing", {}).get("features")
    features = FeatureSpec.from_dict(spec) if isinstance(spec, dict) else features
    if features is None:
        raise ModelFileError(f"{weights.name}: the feature settings are missing")
    if not set(int(c) for c in svm.classes) <= set(manifest["classes"]):
        raise ModelFileError(f"{weights.name}: SVM classes {svm.classes.tolist()} are not in the manifest's classes")
    return SVMModel(svm, features, manifest["classes"], manifest=manifest,
                    architecture=manifest.get("architecture", "svm"), device=device)


# ---------------------------------------------------------------- registry

def register_model_file(store: Any, manifest_path: PathLike, run_id: int | None = None,
                        label_snapshot: str | None = None, name: str | None = None) -> int:
    """Verify a model file (it must load) and record it in the store; returns the model id (not activated)."""
    manifest, weights = read_manifest(manifest_path)
    load_model(manifest_path, device="cpu")
    return store.register_model(kind=manifest["kind"], architecture=str(manifest.get("architecture")),
                                classes=manifest["classes"], path=str(weights.resolve()),
                                sha256=manifest["sha256"], metrics=manifest.get("metrics") or {},
                                run_id=run_id, label_snapshot=label_snapshot, manifest=manifest,
                                name=name or manifest.get("name"))


def registered_path(store: Any, record: dict) -> Path:
    """The weights path of a model record; a relative one is relative to the workspace folder."""
    path = Path(record["path"])
    if not path.is_absolute() and getattr(store, "path", None) is not None:
        path = Path(store.path).parent / path
    return path


def load_registered(store: Any, model_id: int, device: str | torch.device | None = "cpu") -> CountModel:
    """Load a registered model, checking its file against both the manifest and the store's sha256."""
    record = store.get_model(model_id)
    if record is None:
        raise ModelFileError(f"no model {model_id} in this workspace")
    model = load_model(registered_path(store, record), device=device, expected_sha256=record["sha256"])
    if model.kind != record["kind"]:
        raise ModelFileError(f"model {model_id} is registered as {record['kind']} but its file holds a {model.kind}")
    return model


def activate_registered(store: Any, model_id: int) -> None:
    """Check that a registered model still loads, then make it the active one of its kind."""
    load_registered(store, model_id, device="cpu")
    store.activate_model(model_id)
