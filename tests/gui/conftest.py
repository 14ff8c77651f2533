"""Fixtures of the GUI tests (Qt offscreen, set in tests/conftest.py): the real main window on a workspace
with real trained models, and a synthetic workspace with a REAL trained, active SVM (no fake predictions).

The SVM is trained once per session by the training module itself (`python -m training svm` run in
process: the same code as the subprocess), with out-of-fold probabilities, then every image is scored
by binaudit.ml.scoring and the model is activated. Each test gets a copy of that workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from binaudit.core.store import Store

SVM_ARGS = ["--size", "16", "--pca", "10", "--folds", "2", "--threads", "1"]


@pytest.fixture(autouse=True)
def no_leftover_dialog_answers():
    """A dialog answer scheduled by one GUI test must never answer another test's dialog."""
    yield
    from tests.gui.support import cancel_pending_answers

    cancel_pending_answers()


@pytest.fixture
def window(qtbot, scored_store: Store, monkeypatch: pytest.MonkeyPatch):
    """The real window on a copy of the scored workspace (a tiny ResNet and an SVM, both active)."""
    from tests.gui.support import open_window

    w = open_window(qtbot, scored_store, monkeypatch)
    yield w
    w.close()


@pytest.fixture
def process_window(qtbot, scored_store: Store, monkeypatch: pytest.MonkeyPatch):
    """The same, decoding photos in worker processes as the app does."""
    from tests.gui.support import open_window

    w = open_window(qtbot, scored_store, monkeypatch, processes=True)
    yield w
    w.close()


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory: pytest.TempPathFactory, synth_dataset: Path) -> Path:
    """Workspace folder: the synthetic bins imported, an SVM trained, scored and active."""
    from binaudit.core.importer import import_dataset
    from binaudit.ml.modelfiles import activate_registered
    from binaudit.ml.scoring import score_images
    from training.__main__ import main

    root = tmp_path_factory.mktemp("trained") / "ws"
    with Store.open(root / "workspace.db") as store:
        import_dataset(store, synth_dataset)
    assert main(["svm", "--db", str(root), *SVM_ARGS]) == 0
    with Store.open(root / "workspace.db") as store:
        model_id = store.list_models(kind="svm")[-1]["id"]
        score_images(store, model_id, device="cpu", num_workers=0)
        activate_registered(store, model_id)
    return root


@pytest.fixture
def trained_store(tmp_path: Path, trained_workspace: Path):
    """A private copy of the trained workspace, open as a Store."""
    root = tmp_path / "ws"
    shutil.copytree(trained_workspace, root, ignore=shutil.ignore_patterns("cache"))
    with Store.open(root / "workspace.db") as store:
        yield store


@pytest.fixture
def part2_window(qtbot, trained_store: Store, monkeypatch: pytest.MonkeyPatch):
    """The real main window on the trained copy."""
    from tests.gui.support import open_window

    w = open_window(qtbot, trained_store, monkeypatch)
    yield w
    w.training.shutdown(ask=False)
    w.close()
