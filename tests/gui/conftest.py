"""Fixtures of the GUI tests (Qt offscreen, set in tests/conftest.py): the real main window on a workspace
with real trained models, and a synthetic workspace with a REAL trained, active SVM (no fake predictions).

The SVM is trained once per session by the training module itself (`python -m training svm` run in
process: the same code as the subprocess), with out-of-fold probabilities, then every image is scored
by binaudit.ml.scoring and the model is activated. Each test gets a copy of that workspace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from binaudit.core.store import Store
from tests.support.workspaces import SMALL_SVM, build_trained_workspace, private_copy

SVM_ARGS = SMALL_SVM  # the same SVM as the scored workspace's


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
    return build_trained_workspace(tmp_path_factory.mktemp("trained") / "ws", synth_dataset, resnet=None,
                                   svm=SVM_ARGS)


@pytest.fixture
def trained_store(tmp_path: Path, trained_workspace: Path):
    """A private copy of the trained workspace, open as a Store."""
    root = private_copy(trained_workspace, tmp_path / "ws")
    with Store.open(root / "workspace.db") as store:
        yield store


@pytest.fixture
def part2_window(qtbot, trained_store: Store, monkeypatch: pytest.MonkeyPatch):
    """The real main window on the trained copy."""
    from tests.gui.support import window_for_test

    yield from window_for_test(qtbot, trained_store, monkeypatch)
