"""Where a workspace keeps its files: one folder with the database, model files, runs and exports."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DB_NAME = "workspace.db"


@dataclass(frozen=True)
class Workspace:
    """A workspace folder; everything binaudit writes for it lives below `root`."""

    root: Path

    @classmethod
    def at(cls, path: Path | str) -> Workspace:
        """Accept a workspace folder or the path of its database file."""
        path = Path(path).expanduser()
        if path.suffix == ".db" or path.is_file():
            return cls(path.resolve().parent) if path.name == DB_NAME else _DbWorkspace(path.resolve().parent, path.resolve())
        return cls(path.resolve())

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def dataset_dir(self) -> Path:
        """Where `binaudit demo` puts the synthetic dataset."""
        return self.root / "dataset"

    def exists(self) -> bool:
        return self.db_path.exists()

    def ensure(self) -> Workspace:
        for folder in (self.root, self.models_dir, self.runs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class _DbWorkspace(Workspace):
    """A workspace named by a database file with a name of its own."""

    db_file: Path = Path()

    @property
    def db_path(self) -> Path:
        return self.db_file


def data_home() -> Path:
    """The user's data directory for binaudit (BINAUDIT_HOME overrides it, e.g. in tests)."""
    override = os.environ.get("BINAUDIT_HOME")
    return Path(override) if override else Path(platformdirs.user_data_dir("binaudit", appauthor=False))


def demo_workspace() -> Workspace:
    return Workspace(data_home() / "demo")


def default_workspace_for_dataset(dataset: Path) -> Workspace:
    """Importing a folder without --db: a workspace of its own in the user's data directory.

    Not inside the dataset folder, which is often read-only (a mounted share, a downloaded archive).
    """
    dataset = Path(dataset).resolve()
    tag = hashlib.blake2b(str(dataset).encode(), digest_size=4).hexdigest()
    return Workspace(data_home() / "workspaces" / f"{dataset.name or 'dataset'}-{tag}")


NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "9p", "fuse.sshfs", "sshfs",
                                 "glusterfs", "ceph", "fuse.rclone", "davfs", "fuse.gcsfuse", "lustre"})


def filesystem_type(path: Path, mounts_text: str | None = None) -> str | None:
    """The filesystem type of the mount holding path, read from /proc/mounts (None where unknown)."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = str(Path(path).resolve())
    best, best_type = "", None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point = fields[1].replace("\\040", " ")
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fields[2]
    return best_type


def network_filesystem_warning(path: Path, mounts_text: str | None = None) -> str | None:
    """A warning for the user when the workspace sits on a network filesystem, where SQLite locking is unsafe."""
    fs = filesystem_type(path, mounts_text)
    if fs and (fs in NETWORK_FILESYSTEMS or fs.startswith("nfs")):
        return (f"This workspace is on a network filesystem ({fs}). SQLite's locking is not reliable there: "
                "two people labelling at once can corrupt it. Copy the workspace to a local disk to label.")
    return None
