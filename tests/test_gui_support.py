"""Shared helpers of the GUI tests: test-data predictions, a workspace fixture, modal-dialog answering.

TEST DATA, NOT A MODEL: `score_for_tests` writes predictions from a fixed deterministic rule (a hash of
the image id nudges the recorded count up or down for about 3 in 7 images). It only gives the GUI's
prediction columns, badges and audit queue something to show; it never reads the synthetic truth.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

import numpy as np
import pytest

from binaudit.core.store import PredictionRow, Store

CLASSES = 6


def score_for_tests(store: Store, kind: str, salt: str = "") -> int:
    """Register a `kind` model marked as test data, write its predictions for every image, activate it."""
    model_id = store.register_model(
        kind=kind, architecture=f"test-{kind}", classes=list(range(CLASSES)), path=f"test-{kind}.bin",
        sha256="0" * 64, name=f"test {kind}",
        metrics={"note": "TEST DATA: deterministic rule in tests/test_gui_support.py, not a trained model"})
    rows = []
    for r in store.query("SELECT image_id, recorded_count FROM images ORDER BY image_id"):
        h = int.from_bytes(hashlib.blake2b(f"{kind}{salt}{r['image_id']}".encode(), digest_size=8).digest(), "big")
        recorded = r["recorded_count"] if r["recorded_count"] is not None else 2
        predicted = int(min(CLASSES - 1, max(0, min(recorded, CLASSES - 1) + (0, 0, 0, 0, 1, -1, 2)[h % 7])))
        probs = np.full(CLASSES, 0.04)
        probs[predicted] += 0.5 + (h >> 8) % 40 / 100
        probs /= probs.sum()
        target = min(recorded, CLASSES - 1)
        mismatch = float(np.sum(probs * np.abs(np.arange(CLASSES) - recorded)))
        rows.append(PredictionRow(r["image_id"], predicted, probs.tolist(), float(probs @ np.arange(CLASSES)),
                                  float(probs.max()), float(1 - probs[target]), mismatch, float(1 - probs[target])))
    store.write_predictions(model_id, rows)
    store.activate_model(model_id)
    return model_id


@pytest.fixture
def scored_store(synth_store: Store) -> Store:
    """The synthetic workspace with a test-data ResNet and SVM (see the module docstring)."""
    score_for_tests(synth_store, "resnet")
    score_for_tests(synth_store, "svm", salt="s")
    return synth_store


def answer_modal(handler: Callable[[Any], None], timeout: float = 5.0, kind: Any = None) -> None:
    """Call handler(dialog) once a modal dialog (of `kind`, default any QDialog) is open.

    Schedule it before the key that opens the dialog (the key press returns only when it closes).
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QProgressDialog

    deadline = time.monotonic() + timeout

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        wanted = isinstance(dialog, kind or QDialog) and not isinstance(dialog, QProgressDialog)
        if dialog is not None and dialog.isVisible() and wanted:
            handler(dialog)
        elif time.monotonic() < deadline:
            QTimer.singleShot(10, poll)

    QTimer.singleShot(10, poll)


def wait_idle(qtbot: Any, window: Any, timeout: int = 5000) -> None:
    """Until the label writer has finished and its results have been handled (and pending events ran)."""
    qtbot.wait(5)
    qtbot.waitUntil(lambda: window.controller is not None and not window.controller.busy, timeout=timeout)


def test_test_scorer_is_deterministic(synth_store: Store) -> None:
    a = score_for_tests(synth_store, "resnet")
    b = score_for_tests(synth_store, "resnet")
    pa = {r["image_id"]: r["predicted"] for r in synth_store.predictions(a)}
    pb = {r["image_id"]: r["predicted"] for r in synth_store.predictions(b)}
    assert pa == pb and len(pa) == synth_store.count_images()
    disagree = sum(1 for r in synth_store.query("SELECT image_id, recorded_count FROM images")
                   if pa[r["image_id"]] != min(r["recorded_count"] if r["recorded_count"] is not None else 2, 5))
    assert 0 < disagree < len(pa)

