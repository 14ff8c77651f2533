"""Cross-fitted predictions stored with a model: ``NAME.oof.npz`` beside ``NAME.json``, named and hashed there.

Why: a model scores the photos it trained on from memory, so for a bin whose record is wrong it predicts
the wrong record and hides the variance. A training run that cross-fits (k fold models by bin, each
scoring the bins it did not see) stores those out-of-fold probabilities with the model; scoring stores
them, not the model's own output, for the photos they cover. Photos added later were never trained on,
so the model itself scores them. The file is a plain npz (image ids as unicode, probabilities, fold
numbers; never object arrays), and the manifest's ``cross_fit`` entry holds its name and sha256, which
are checked before it is read, as the weights are.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .modelfiles import ModelFileError, describe_foreign, sha256_file

SUFFIX = ".oof.npz"
MEMBERS = {"image_ids.npy", "probs.npy", "folds.npy"}


def save_cross_fit(manifest_path: Path, image_ids: Sequence[str], probs: np.ndarray, folds: Sequence[int],
                   k: int, method: str) -> Path:
    """Write NAME.oof.npz beside a saved model and name it in the manifest (before registering); returns it."""
    manifest_path = Path(manifest_path)
    probs = np.asarray(probs, dtype=np.float32)
    if len(image_ids) != len(probs) or len(folds) != len(probs):
        raise ValueError("cross-fitted ids, probabilities and folds differ in length")
    out = manifest_path.with_name(manifest_path.stem + SUFFIX)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, image_ids=np.asarray([str(i) for i in image_ids], dtype=str),
             probs=probs, folds=np.asarray(folds, dtype=np.int16))
    os.replace(tmp, out)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["cross_fit"] = {"file": out.name, "sha256": sha256_file(out), "folds": int(k), "images": len(probs),
                             "method": method}
    tmp_manifest = manifest_path.with_suffix(".json.tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp_manifest, manifest_path)
    return out


def entry(manifest: Any) -> dict | None:
    """The manifest's cross_fit entry, checked for shape; None when the model has none."""
    cf = manifest.get("cross_fit") if isinstance(manifest, dict) else None
    if cf is None:
        return None
    name, sha = (cf.get("file"), cf.get("sha256")) if isinstance(cf, dict) else (None, None)
    if not isinstance(name, str) or not name.endswith(SUFFIX) or any(c in name for c in "/\\:\x00") \
            or name.startswith("."):
        raise ModelFileError(f"the manifest's cross-fitted predictions file {name!r} is not a plain NAME{SUFFIX}")
    if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelFileError("the manifest's cross-fitted predictions have no valid sha256")
    return cf


def load_cross_fit(manifest: dict, folder: Path, n_classes: int | None = None) -> dict[str, np.ndarray]:
    """{image id: out-of-fold probabilities} of a model (empty when it has none), after checking the file's
    sha256 against the manifest, that it is a plain npz without pickles, and its shapes."""
    cf = entry(manifest)
    if cf is None:
        return {}
    path = Path(folder) / cf["file"]
    if not path.is_file():
        raise ModelFileError(f"the model's cross-fitted predictions {cf['file']} are missing beside it")
    if sha256_file(path) != cf["sha256"]:
        raise ModelFileError(f"{path.name} was changed after it was saved (sha256 differs from the manifest's); "
                             f"refusing to use it")
    ids, probs = _read(path)
    width = n_classes if n_classes is not None else len(manifest.get("classes") or [])
    if probs.ndim != 2 or len(ids) != len(probs) or probs.shape[1] != width or not np.isfinite(probs).all():
        raise ModelFileError(f"{path.name} does not hold one probability vector over {width} classes per image")
    return {str(i): p.astype(np.float64) for i, p in zip(ids, probs)}


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    foreign = describe_foreign(path)
    if foreign:
        raise ModelFileError(f"{path.name} is {foreign}; binaudit never loads pickled files")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path.name} is not an .npz archive") from exc
    if names != MEMBERS:
        raise ModelFileError(f"{path.name} is not a binaudit cross-fit file (members {sorted(names)[:4]})")
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["image_ids"], data["probs"]
    except ValueError as exc:
        raise ModelFileError(f"{path.name} holds Python objects or is damaged: {str(exc)[:200]}") from exc
