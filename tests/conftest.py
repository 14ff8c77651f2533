"""Shared fixtures: Qt offscreen, a private data home, and workspaces built with the project's own generator."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest

from binaudit.core.store import Store
from tests.support.workspaces import build_trained_workspace, private_copy

# The bundled sample (real ids from ../shared/abid-real); ../shared/abid-sample is an older sample with borrowed ids.
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "resources" / "abid-sample"


@pytest.fixture(autouse=True)
def private_data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test's demo workspace and settings out of the real user directories."""
    home = tmp_path_factory.mktemp("binaudit-home")
    monkeypatch.setenv("BINAUDIT_HOME", str(home))
    return home


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic ABID-layout dataset (120 bins, 10% wrong recorded counts), built once per session."""
    from binaudit.core.synth import generate_dataset

    out = tmp_path_factory.mktemp("synth") / "bins"
    generate_dataset(out, 120, seed=7, mismatch_rate=0.1, image_scale=0.4)
    return out


@pytest.fixture
def store(tmp_path: Path):
    from binaudit.core.store import Store

    with Store.open(tmp_path / "ws" / "workspace.db") as s:
        yield s


@pytest.fixture
def synth_store(tmp_path: Path, synth_dataset: Path):
    """A fresh workspace with the session's synthetic dataset imported."""
    from binaudit.core.importer import import_dataset
    from binaudit.core.store import Store

    with Store.open(tmp_path / "ws" / "workspace.db") as s:
        import_dataset(s, synth_dataset)
        yield s


@pytest.fixture(scope="session")
def scored_workspace(tmp_path_factory: pytest.TempPathFactory, synth_dataset) -> Path:
    """The synthetic bins with a real tiny ResNet and a real SVM, trained by the training module,
    scoring every image and active (built once per session; tests get a private copy)."""
    return build_trained_workspace(tmp_path_factory.mktemp("scored") / "ws", synth_dataset)


@pytest.fixture
def scored_store(tmp_path: Path, scored_workspace: Path):
    """A private copy of the scored workspace, open as a Store."""
    root = private_copy(scored_workspace, tmp_path / "scored-ws")
    with Store.open(root / "workspace.db") as store:
        yield store
