"""App part 2, the curator's side: label-issue queue, bulk actions with undo, confusion-matrix filtering, exports.

Real window, real trained SVM (tests/gui/conftest.py); the store is checked after each step.
pytest-qt fails a test on any exception raised inside a Qt slot.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from binaudit.core import labels as L
from binaudit.core.store import Store
from binaudit.gui.browse.table_model import LABEL_ISSUE_QUEUE
from binaudit.gui.charts.panel import cell_images
from binaudit.gui.data.export_options import ExportOptionsDialog
from binaudit.gui.review.label_dialogs import ReasonDialog
from binaudit.gui.shell.main_window import MainWindow
from tests.gui.support import AUDITOR, answer_modal, key, wait_for, wait_idle


def select_rows(w: MainWindow, rows: list[int]) -> list[str]:
    """Select table rows as Ctrl+click would; returns their image ids."""
    table, model = w.browser.table, w.browser.model
    selection = QItemSelection()
    for r in rows:
        selection.select(model.index(r, 0), model.index(r, model.columnCount() - 1))
    table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    return w.browser.selected_image_ids()


def test_label_issue_queue_ranks_by_stored_scores_and_relabels_by_key(qtbot, part2_window: MainWindow,
                                                                      trained_store: Store) -> None:
    w, store = part2_window, trained_store
    w.actions_.issue_queue.trigger()
    b = w.browser
    assert b.model.queue == LABEL_ISSUE_QUEUE and b.queue_bar.isVisible()
    assert "Label-issue queue" in b.queue_bar.title.text()
    model = store.active_model("svm")
    stored = {p["image_id"]: p["label_issue"] for p in store.predictions(model["id"])}
    shown = [b.model.image_id(r) for r in range(b.shown_count())]
    scores = [stored[i] for i in shown]
    assert len(shown) == sum(1 for v in stored.values() if v is not None)
    assert all(a >= c - 1e-6 for a, c in zip(scores, scores[1:])), "queue must be ranked by label-issue score"
    # the audit queue and the issue queue exclude each other
    w.actions_.audit_queue.trigger()
    assert not w.actions_.issue_queue.isChecked() and b.model.queue.sort_key == "mismatch"
    w.actions_.issue_queue.trigger()
    assert not w.actions_.audit_queue.isChecked() and b.model.queue == LABEL_ISSUE_QUEUE
    # the same keys relabel; the queue walks to the next unreviewed bin
    first, second = shown[0], shown[1]
    assert b.current_image_id == first
    recorded = store.get_image(first)["recorded_count"]
    key(qtbot, w, str((recorded + 2) % 6))
    event = store.label_history(first)[-1]
    assert event.status == L.CORRECTED and event.user == AUDITOR and event.action == "label"
    assert b.current_image_id == second
    key(qtbot, w, "x")
    assert store.effective_label(second).status == L.EXCLUDED
    assert "2 of" in b.queue_bar.text.text()


def test_bulk_actions_write_one_event_per_image_and_undo_as_one_step(qtbot, part2_window: MainWindow,
                                                                    trained_store: Store) -> None:
    w, store = part2_window, trained_store
    ids = select_rows(w, [0, 1, 2, 3, 4])
    assert len(ids) == 5
    w.actions_.bulk_exclude.trigger()
    wait_idle(qtbot, w)
    for image_id in ids:
        event = store.label_history(image_id)[-1]
        assert (event.status, event.action, event.user) == (L.EXCLUDED, "bulk", AUDITOR)
        assert event.predictions["bulk"] and event.predictions["svm"]["model_id"] == store.active_model("svm")["id"]
    assert w.controller.stack.count() == 1 and "exclude 5 images" in w.actions_.undo.text()
    assert all(w.browser.model.data(w.browser.model.index(r, 2)) == "excluded" for r in range(5))
    before = store.event_count()
    w.actions_.undo.trigger()
    wait_idle(qtbot, w)
    assert store.event_count() == before + 5  # the undo is written, event by event
    assert all(store.effective_label(i).status == L.RESET for i in ids)
    assert all(store.label_history(i)[-1].action == "undo" for i in ids)
    w.actions_.redo.trigger()
    wait_idle(qtbot, w)
    assert all(store.effective_label(i).status == L.EXCLUDED for i in ids)

    # uncountable with one reason for all; a label changed meanwhile by someone else is skipped, not overwritten
    ids = select_rows(w, [5, 6, 7])
    with Store.open(store.path) as other:
        other.record_label(ids[1], user="bea", status=L.CONFIRMED, count=store.get_image(ids[1])["recorded_count"])
    answer_modal(lambda dialog: qtbot.keyClick(dialog.list, "3"), kind=ReasonDialog)  # 3 = blurred
    w.actions_.bulk_uncountable.trigger()
    wait_idle(qtbot, w)
    assert [store.effective_label(i).status for i in ids] == [L.UNCOUNTABLE, L.CONFIRMED, L.UNCOUNTABLE]
    assert store.effective_label(ids[0]).reason == "blurred"
    assert "changed by someone else" in w.statusBar().currentMessage()

    # one count for all: confirmed where it equals the recorded count, corrected elsewhere
    ids = select_rows(w, [8, 9, 10, 11])

    def type_two(dialog) -> None:
        dialog.spin.setValue(2)
        dialog.accept()

    answer_modal(type_two)
    w.actions_.bulk_count.trigger()
    wait_idle(qtbot, w)
    for image_id in ids:
        label, recorded = store.effective_label(image_id), store.get_image(image_id)["recorded_count"]
        assert label.count == 2 and label.status == (L.CONFIRMED if recorded == 2 else L.CORRECTED)
    w.actions_.undo.trigger()
    wait_idle(qtbot, w)
    assert all(store.effective_label(i).status == L.RESET for i in ids)
    assert w.controller.stack.index() == 2


def test_confusion_matrix_cell_click_filters_the_browser(qtbot, part2_window: MainWindow) -> None:
    w = part2_window
    dock = w.charts_dock
    dock.toggleViewAction().trigger()
    assert dock.isVisible()
    charts = w.charts_dock.panel
    charts.refresh()
    matrix = charts.confusion.matrix
    assert matrix.shape == (6, 6) and matrix.sum() > 0
    index = w.session.index
    svm = index.models["svm"]
    usable = (index.effective >= 0) & (index.label_status != 3) & (index.label_status != 4)
    assert matrix[2, :].sum() == int(np.sum(usable & (np.minimum(index.effective, 5) == 2) & (svm.predicted >= 0)))
    i, j = np.unravel_index(int(np.argmax(matrix - np.diag(np.diag(matrix)) if (matrix - np.diag(np.diag(matrix))).any()
                                          else matrix)), matrix.shape)
    charts.tabs.setCurrentIndex(0)
    charts.confusion.resize(360, 360)
    qtbot.mouseClick(charts.confusion, Qt.MouseButton.LeftButton, pos=charts.confusion.cell_rect(i, j).center().toPoint())
    shown = {w.browser.model.image_id(r) for r in range(w.browser.shown_count())}
    assert shown == set(cell_images(index, "svm", int(i), int(j), None)) and len(shown) == matrix[i, j]
    assert all(min(int(index.effective[index.position(s)]), 5) == i and int(svm.predicted[index.position(s)]) == j
               for s in shown)
    assert w.browser.subset_bar.isVisible() and f"Label {i}" in w.browser.subset_bar.text.text()
    # the per-class accuracy bars are the matrix's diagonal over its rows
    bars = charts.per_class.groups[0][2]
    rows = matrix.sum(axis=1)
    assert all((math.isnan(b) and r == 0) or abs(b - matrix[k, k] / r) < 1e-9 for k, (b, r) in enumerate(zip(bars, rows)))
    qtbot.mouseClick(w.browser.subset_bar.clear, Qt.MouseButton.LeftButton)
    assert w.browser.shown_count() == len(index) and not w.browser.subset_bar.isVisible()


def test_exports_write_files(qtbot, part2_window: MainWindow, trained_store: Store, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    w, store = part2_window, trained_store
    first = w.browser.current_image_id
    key(qtbot, w, "4")
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out / "results"), "")))
    answer_modal(lambda dialog: dialog.accept(), kind=ExportOptionsDialog)  # reviewed only, every column
    w.actions_.export_csv.trigger()
    wait_for(qtbot, lambda: (out / "results.csv").exists() and not w.exports.job.running, 10_000)
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["image_id"] for r in rows] == [first] and rows[0]["effective_count"] == "4"
    assert rows[0]["svm_model"] == str(store.active_model("svm")["id"])
    answer_modal(lambda dialog: dialog.accept(), kind=ExportOptionsDialog)
    w.actions_.export_json.trigger()
    wait_for(qtbot, lambda: (out / "results.json").exists() and not w.exports.job.running, 10_000)
    assert json.loads((out / "results.json").read_text())["results"][0]["image_id"] == first

    keep = out / "ws-corrected-metadata"  # a folder of the user's with the export's name is never replaced
    keep.mkdir()
    (keep / "mine.txt").write_text("precious")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    w.actions_.export_metadata.trigger()
    target = out / "ws-corrected-metadata-2"
    wait_for(qtbot, lambda: target.exists() and not w.exports.job.running, 10_000)
    record = json.loads((target / "metadata" / f"{first}.json").read_text())
    assert record["EXPECTED_QUANTITY"] == 4 and record["AUDIT"]["by"] == AUDITOR
    assert (keep / "mine.txt").read_text() == "precious"
    answer_modal(lambda box: box.button(QMessageBox.StandardButton.Yes).click(), kind=QMessageBox)
    w.actions_.export_metadata.trigger()  # an earlier export is replaced only after asking
    wait_for(qtbot, lambda: not w.exports.job.running, 10_000)
    assert (target / "metadata" / f"{first}.json").exists()

    w.actions_.export_folders.trigger()
    folders = out / "ws-images-by-count"
    wait_for(qtbot, lambda: folders.exists() and not w.exports.job.running, 20_000)
    photos = list(folders.glob("*/*/*.jpg"))
    assert len(photos) == len(store.training_labels())
    split = store.get_image(first)["split"]
    assert (folders / split / "4" / f"{first}.jpg").exists()
