"""Fixtures of the app part-2 tests: a synthetic workspace with a REAL trained, active SVM (no fake predictions).

The SVM is trained once per session by the training module itself (`python -m training svm` run in
process: the same code as the subprocess), with out-of-fold probabilities, then every image is scored
by binaudit.ml.scoring and the model is activated. Each test gets a copy of that workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from binaudit.core.store import Store

SVM_ARGS = ["--size", "16", "--pca", "10", "--folds", "2", "--threads", "1"]


def wait_for(qtbot: Any, condition: Callable[[], bool], timeout: int = 60_000) -> None:
    qtbot.waitUntil(condition, timeout=timeout)


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
    """The real main window on the trained copy (see tests/test_gui_window.py's open_window)."""
    from tests.test_gui_window import open_window

    w = open_window(qtbot, trained_store, monkeypatch)
    yield w
    w.training.shutdown(ask=False)
    w.close()


def test_trained_workspace_has_a_real_active_svm(trained_store: Store) -> None:
    model = trained_store.active_model("svm")
    assert model is not None and model["kind"] == "svm" and model["run_id"] is not None
    from binaudit.core.abid import IMAGE_USABLE_STATUSES
    assert trained_store.scored_image_ids(model["id"]) == set(trained_store.image_ids(status=IMAGE_USABLE_STATUSES))
    run_id, oof = trained_store.latest_oof()
    assert run_id == model["run_id"] and oof
