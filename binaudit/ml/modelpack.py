"""One portable file per model: export a registered model to a zip, import one into another workspace.

The zip holds three members, all at its top level: ``manifest.json`` (the model's manifest, byte for
byte), the weights file under the name the manifest gives (``.safetensors`` or ``.npz``) and
``export.json`` (where it came from); a model whose run cross-fitted also carries its cross-fitted
predictions (``NAME.oof.npz``, named and hashed in the manifest's ``cross_fit``). Import reads only
those names (nothing is extracted by the zip's own paths), checks the cross-fitted file against its
sha256 and format, then registers the files with ``modelfiles.register_model_file``, the registry's own
check: the manifest, the sha256, the file format and a full load, so pickles never run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from binaudit import __version__

from . import crossfit, modelfiles
from .modelfiles import ModelFileError

EXPORT_FORMAT = "binaudit-model-export"
EXPORT_VERSION = 1
MANIFEST_MEMBER = "manifest.json"
ORIGIN_MEMBER = "export.json"
MAX_JSON_BYTES = 1 << 20
MAX_WEIGHTS_BYTES = 4 << 30
IMPORTED_DIR = "imported"


@dataclass(frozen=True)
class ImportResult:
    """What `import_model` did: the model id and whether it is new or was already registered."""

    model_id: int
    kind: str
    created: bool
    path: Path


# ---------------------------------------------------------------- export

def export_model(store: Any, model_id: int, out: Path) -> Path:
    """Check a registered model's file, then write it with its manifest to one zip at `out`."""
    record = store.get_model(model_id)
    if record is None:
        raise ModelFileError(f"no model {model_id} in this workspace")
    modelfiles.load_registered(store, model_id, device="cpu")  # the file is the one registered, and it loads
    weights = modelfiles.registered_path(store, record)
    manifest_path = weights.with_suffix(".json")
    origin = {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "exported_by": f"binaudit {__version__}",
              "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "name": record.get("name"), "source": {k: record.get(k) for k in
                                                     ("id", "run_id", "label_snapshot", "created_at", "active")}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST_MEMBER, manifest_path.read_bytes())
            z.write(weights, arcname=weights.name)
            cross = crossfit.entry(record.get("manifest"))
            if cross is not None:
                crossfit.load_cross_fit(record["manifest"], weights.parent)  # present, unchanged, readable
                z.write(weights.parent / cross["file"], arcname=cross["file"])
            z.writestr(ORIGIN_MEMBER, json.dumps(origin, indent=2, sort_keys=True, default=str))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------- reading an export

def _plain_name(name: str) -> bool:
    """A member name that can only mean a file in the zip's top level (no folders, no traversal)."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\:\x00") \
        and not name.startswith(".")


def _members(z: zipfile.ZipFile, label: str) -> dict[str, zipfile.ZipInfo]:
    infos = z.infolist()
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ":" in name or ".." in name.replace("\\", "/").split("/"):
            raise ModelFileError(f"refusing {label}: it holds a member with an unsafe path {name!r}")
        if not _plain_name(name):
            raise ModelFileError(f"refusing {label}: member {name!r} is not a plain file at the archive's top level "
                                 f"(an export holds {MANIFEST_MEMBER}, {ORIGIN_MEMBER} and one weights file)")
    members = {info.filename: info for info in infos}
    if len(members) != len(infos):
        raise ModelFileError(f"refusing {label}: it holds two members of the same name")
    if MANIFEST_MEMBER not in members:
        raise ModelFileError(f"{label} is not a binaudit model export (no {MANIFEST_MEMBER} inside)")
    return members


def _read_json(z: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Any:
    if info.file_size > MAX_JSON_BYTES:
        raise ModelFileError(f"refusing {label}: {info.filename} is {info.file_size} bytes, too large for a manifest")
    try:
        return json.loads(z.read(info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{label}: {info.filename} is not readable JSON ({exc})") from exc


def _weights_member(manifest: dict, members: dict[str, zipfile.ZipInfo], label: str) -> zipfile.ZipInfo:
    name = str(manifest["file"])
    suffix = modelfiles.WEIGHT_SUFFIX[manifest["kind"]]
    if not _plain_name(name) or not name.endswith(suffix):
        raise ModelFileError(f"refusing {label}: its manifest names the weights file {name!r}, "
                             f"not a plain NAME{suffix}")
    if name not in members:
        raise ModelFileError(f"{label} is incomplete: the weights file {name} is not inside")
    cross = crossfit.entry(manifest)
    extra = sorted(set(members) - {MANIFEST_MEMBER, ORIGIN_MEMBER, name, cross["file"] if cross else name})
    if extra:
        raise ModelFileError(f"refusing {label}: unexpected members {extra[:3]}")
    if members[name].file_size > MAX_WEIGHTS_BYTES:
        raise ModelFileError(f"refusing {label}: {name} unpacks to {members[name].file_size} bytes")
    return members[name]


def _origin(z: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], label: str) -> dict:
    if ORIGIN_MEMBER not in members:
        return {}
    origin = _read_json(z, members[ORIGIN_MEMBER], label)
    if not isinstance(origin, dict) or origin.get("format") != EXPORT_FORMAT:
        raise ModelFileError(f"{label}: {ORIGIN_MEMBER} is not a binaudit export description")
    return origin


def _refuse_foreign(file: Path) -> None:
    """Refuse what is not a zip at all, and zips of other programs (torch.save), before reading members."""
    with open(file, "rb") as fh:
        is_zip = fh.read(2) == b"PK"
    if is_zip and not zipfile.is_zipfile(file):
        raise ModelFileError(f"{file.name} is a truncated or damaged zip archive, not a complete binaudit model export")
    foreign = modelfiles.describe_foreign(file)
    if foreign or not is_zip:
        never = "; binaudit never loads pickled files" if foreign and "pickle" in foreign else ""
        raise ModelFileError(f"{file.name} is {foreign or 'not a zip archive'}, not a binaudit model export{never}")


def _unpack(file: Path, into: Path) -> tuple[dict, dict, Path]:
    """Check the zip's layout and write its manifest and weights into `into`; (manifest, origin, manifest path)."""
    label = file.name
    _refuse_foreign(file)
    try:
        with zipfile.ZipFile(file) as z:
            members = _members(z, label)
            manifest = _read_json(z, members[MANIFEST_MEMBER], label)
            modelfiles.read_manifest(manifest, into)  # validates the manifest's fields
            weights_info = _weights_member(manifest, members, label)
            origin = _origin(z, members, label)
            weights = into / weights_info.filename
            with z.open(weights_info) as src, open(weights, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            _unpack_cross_fit(z, manifest, members, into, label)
            manifest_path = weights.with_suffix(".json")
            manifest_path.write_bytes(z.read(members[MANIFEST_MEMBER]))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ModelFileError(f"{label} is a truncated or damaged zip archive ({exc}), "
                             f"not a complete binaudit model export") from exc
    return manifest, origin, manifest_path


def _unpack_cross_fit(z: zipfile.ZipFile, manifest: dict, members: dict[str, zipfile.ZipInfo], into: Path,
                      label: str) -> None:
    """Write the model's cross-fitted predictions (if its manifest names some) and check them."""
    cross = crossfit.entry(manifest)
    if cross is None:
        return
    info = members.get(cross["file"])
    if info is None:
        raise ModelFileError(f"{label} is incomplete: the cross-fitted predictions {cross['file']} are not inside")
    if info.file_size > MAX_WEIGHTS_BYTES:
        raise ModelFileError(f"refusing {label}: {info.filename} unpacks to {info.file_size} bytes")
    with z.open(info) as src, open(into / info.filename, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    crossfit.load_cross_fit(manifest, into)


# ---------------------------------------------------------------- import

def _already_registered(store: Any, kind: str, sha256: str) -> dict | None:
    return next((m for m in store.list_models(kind) if m["sha256"] == sha256), None)


def _destination(models_dir: Path, stem: str, sha256: str) -> Path:
    base = models_dir / IMPORTED_DIR / f"{stem}-{sha256[:12]}"
    dest, n = base, 1
    while dest.exists():
        n += 1
        dest = base.with_name(f"{base.name}-{n}")
    return dest


def import_model(store: Any, models_dir: Path, file: Path) -> ImportResult:
    """Register the model in an export zip in this workspace (its files go under models_dir/imported/)."""
    file = Path(file)
    if not file.is_file():
        raise ModelFileError(f"no such file: {file}")
    workspace_root = Path(store.path).parent
    tmp = Path(tempfile.mkdtemp(prefix=".model-import-", dir=workspace_root))
    leftover: Path | None = tmp  # what to remove if the import stops: the unpacked files, then their new home
    try:
        manifest, origin, manifest_path = _unpack(file, tmp)
        weights = manifest_path.with_suffix(modelfiles.WEIGHT_SUFFIX[manifest["kind"]])
        same = _already_registered(store, manifest["kind"], manifest["sha256"])
        if same is not None and modelfiles.sha256_file(weights) == manifest["sha256"]:
            return ImportResult(int(same["id"]), manifest["kind"], False, modelfiles.registered_path(store, same))
        dest = _destination(Path(models_dir), weights.stem, manifest["sha256"])
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        leftover = dest
        name = f"{origin.get('name') or manifest.get('name') or manifest.get('architecture')} (imported)"
        model_id = modelfiles.register_model_file(store, dest / manifest_path.name, name=name)
        leftover = None
        return ImportResult(model_id, manifest["kind"], True, dest / weights.name)
    finally:
        if leftover is not None:
            shutil.rmtree(leftover, ignore_errors=True)
