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
    def at(cls, path: Path | str) -> "Workspace":
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

    def ensure(self) -> "Workspace":
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
