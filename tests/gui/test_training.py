"""App part 2, the training loop: the Training menu starts `python -m training` subprocesses, follows their
stream, compares the new model with the active one, activates it; cancelled and killed runs leave the app working.

Real window, real subprocesses with tiny settings; pytest-qt fails a test on any exception in a Qt slot.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox, QDialog, QLineEdit, QMessageBox

from binaudit.core import labels as L
from binaudit.core.compare import validation_images
from binaudit.core.store import Store
from binaudit.gui.shell.main_window import MainWindow
from binaudit.gui.training.setup_dialog import TrainingSetupDialog
from tests.gui.support import answer_modal, key, wait_for
from training.run_state import CANCELLED, CRASHED, FINISHED

pytestmark = pytest.mark.timeout(300)


def start_from_menu(qtbot, w: MainWindow, action, settings: dict) -> object:
    """Trigger a Training menu action, fill the setup dialog, press Start; returns the TrainingProcess."""
    seen: dict = {}

    def fill(dialog: TrainingSetupDialog) -> None:
        try:
            for name, value in settings.items():
                widget = dialog.fields[name]
                if isinstance(widget, QLineEdit):
                    widget.setText(value)
                elif isinstance(widget, QComboBox):
                    widget.setCurrentIndex(widget.findData(value) if widget.findData(value) >= 0
                                           else widget.findText(value))
                else:
                    widget.setValue(value)
            dialog.threads.setValue(1)
            seen["labels"], seen["command"] = dialog.labels.text(), dialog.preview.text()
            dialog.accept()
        finally:
            if dialog.isVisible():
                dialog.reject()  # never leave a modal dialog open when filling it failed

    before = len(w.training.processes)
    answer_modal(fill, kind=TrainingSetupDialog)
    action.trigger()
    assert len(w.training.processes) == before + 1, "the setup dialog did not start a run"
    proc = w.training.processes[-1]
    proc.seen = seen
    return proc


def test_retrain_svm_from_the_menu_compare_and_activate(qtbot, part2_window: MainWindow, trained_store: Store) -> None:
    w, store = part2_window, trained_store
    old = store.active_model("svm")
    for n in range(3):  # relabel a few bins first: the run trains on the cleaned labels
        key(qtbot, w, "x" if n == 0 else str((store.get_image(w.browser.current_image_id)["recorded_count"] + 1) % 6))
    assert store.event_count() == 3
    proc = start_from_menu(qtbot, w, w.actions_.retrain_svm, {"size": 12, "pca": 8, "folds": 2})
    assert "cleaned labels" in proc.seen["labels"] and "--size 12" in proc.seen["command"]
    events: list[str] = []
    proc.eventReceived.connect(lambda e: events.append(e["event"]))
    view = w.training.views[id(proc)]
    assert view.isVisible()
    wait_for(qtbot, lambda: not proc.active)
    assert proc.state == FINISHED, proc.tail_text()
    assert events[0] == "started" and events.count("progress") >= 3 and events[-1] == "finished"
    assert proc.started["label_snapshot"].startswith("3:")  # the run saw the three relabels
    wait_for(qtbot, lambda: "finished" in view.header.text(), 2000)  # redraws are coalesced
    assert view.compare_button.isEnabled()

    # the comparison opens by itself, on the same validation images, from the new model's own predictions
    wait_for(qtbot, lambda: w.training.compares and w.training.compares[-1].comparison is not None)
    cv = w.training.compares[-1]
    c = cv.comparison
    new_id = int(proc.model_id)
    assert cv.new_model["id"] == new_id and cv.old_model["id"] == old["id"]
    val_ids, _ = validation_images(store, store.get_model(new_id))
    assert set(c.image_ids) <= set(val_ids) and len(c.image_ids) >= 10
    assert set(val_ids) <= store.scored_image_ids(new_id)  # scored by the model in the background
    preds = {p["image_id"]: p["predicted"] for p in store.predictions(new_id, c.image_ids)}
    labels = dict(zip(c.image_ids, c.labels.tolist()))
    assert c.new.accuracy == pytest.approx(np.mean([preds[i] == labels[i] for i in c.image_ids]))
    assert c.new.confusion.sum() == c.old.confusion.sum() == len(c.image_ids)
    assert cv.metrics.item(0, 1).text().endswith("%") and cv.new_matrix.matrix.sum() == len(c.image_ids)
    assert all(f.new == preds[f.image_id] and f.new != f.old for f in c.flips)
    if c.flips:  # a flipped image opens its bin in the browser
        cv.flips.cellClicked.emit(0, 0)
        assert w.browser.current_image_id == c.flips[0].image_id

    # activate: everything is rescored in the background, then the browser shows the new predictions
    shown_before = w.session.index.models["svm"].predicted.copy()
    cv.activate_button.click()
    job = w.training.activation
    assert job is not None and w.training.job_status.isVisible()
    assert store.active_model("svm")["id"] == old["id"]  # not switched before the scores are complete
    wait_for(qtbot, lambda: not job.running and w.session.loaded and w.session.index.models["svm"].model_id == new_id)
    assert store.active_model("svm")["id"] == new_id and cv.activate_button.text() == "Active"
    index = w.session.index
    new_preds = {p["image_id"]: p["predicted"] for p in store.predictions(new_id)}
    assert len(new_preds) == len(store.predictions(old["id"]))
    assert all(int(index.models["svm"].predicted[index.position(i)]) == p for i, p in new_preds.items())
    assert (index.models["svm"].predicted != shown_before).any(), "the new model predicts differently somewhere"
    row = w.browser.model.row_of(next(iter(new_preds)))
    assert str(w.browser.model.data(w.browser.model.index(row, 5))) == str(new_preds[next(iter(new_preds))])
    models = w.training.show_models()
    assert any("\u2713" in models.table.item(r, 3).text() and models.table.item(r, 0).text() == str(new_id)
               for r in range(models.table.rowCount()))


def test_cancel_a_resnet_run_and_the_app_recovers(qtbot, part2_window: MainWindow, trained_store: Store) -> None:
    w, store = part2_window, trained_store
    proc = start_from_menu(qtbot, w, w.actions_.retrain_resnet, {"recipe": "tiny", "epochs": 40})
    assert "--recipe tiny" in proc.seen["command"] and "--epochs 40" in proc.seen["command"]
    wait_for(qtbot, lambda: any(e["event"] == "batch" for e in proc.events))
    view = w.training.views[id(proc)]
    view.close()  # closing the live view leaves the run going; the Runs dock reopens it
    assert proc.active and not view.isVisible() and not w.training.dock.isVisible()  # no dock opens by itself
    w.training.dock.toggleViewAction().trigger()  # the user opens the Runs dock (Ctrl+Shift+R)
    assert w.training.dock.isVisible()
    row = w.training.runs.row_of(proc)
    w.training.runs.table.selectRow(row)
    w.training.runs.open_button.click()
    assert view.isVisible()
    assert proc.fraction() is not None and proc.fraction() > 0
    view.cancel_button.click()
    wait_for(qtbot, lambda: not proc.active)
    assert proc.state == CANCELLED and proc.final["event"] == "cancelled" and proc.final.get("resume")
    assert store.get_run(proc.run_id)["status"] == "cancelled"
    assert "cancelled" in w.statusBar().currentMessage()
    view.close()
    w.activateWindow()
    image = w.browser.current_image_id  # the app goes on working
    key(qtbot, w, "3")
    assert store.effective_label(image).count == 3


def test_a_killed_training_process_is_reported_with_its_last_lines(qtbot, part2_window: MainWindow,
                                                                   trained_store: Store) -> None:
    w, store = part2_window, trained_store
    proc = w.training.start(__import__("binaudit.gui.training.process", fromlist=["TrainingRequest"]).TrainingRequest(
        "resnet", str(store.path), ["--recipe", "tiny", "--epochs", "40", "--threads", "1"], "Retrain ResNet (tiny)"))
    wait_for(qtbot, lambda: any(e["event"] == "batch" for e in proc.events))
    texts: list[str] = []
    answer_modal(lambda box: (texts.append(box.text()), box.accept()), timeout=30, kind=QMessageBox)
    os.kill(proc.pid, signal.SIGKILL)
    wait_for(qtbot, lambda: not proc.active and bool(texts))
    assert proc.state == CRASHED
    assert "stopped unexpectedly" in texts[0] and "without a final event" in texts[0]
    assert "$ python -m training resnet" in texts[0] or "training:" in texts[0]  # its last lines of output
    assert store.get_run(proc.run_id)["status"] == "failed"
    assert "failed" in w.training.runs.table.item(w.training.runs.row_of(proc), 2).text() or \
        proc.status_text().startswith("crashed")
    w.training.views[id(proc)].close()
    w.activateWindow()
    image = w.browser.current_image_id
    key(qtbot, w, "x")
    assert store.effective_label(image).status == L.EXCLUDED


def test_lr_finder_and_baselines_runs_draw_their_results(qtbot, part2_window: MainWindow) -> None:
    w = part2_window
    lr = start_from_menu(qtbot, w, w.actions_.find_lr, {"recipe": "tiny", "num_iter": 8})
    base = start_from_menu(qtbot, w, w.actions_.baselines, {"methods": "logreg:pixels", "size": 12, "pca": 5,
                                                             "eval_split": "val"})
    assert len(w.training.running()) == 2  # two runs at once, the GUI stays responsive
    wait_for(qtbot, lambda: not lr.active and not base.active, 120_000)
    assert lr.state == FINISHED and len(lr.lr_points) >= 5 and lr.lr_suggestion
    lr_view = w.training.views[id(lr)]
    lr_view.redraw()
    assert lr_view.charts.currentWidget() is lr_view.lr_chart and lr_view.lr_chart.markers
    assert base.state == FINISHED and any(line.startswith("overall") for line in base.output)
    assert "logreg:pixels" in w.training.views[id(base)].output.toPlainText()
    # a past run reopens from the Runs dock with its saved plot
    w.training.runs.refresh()
    past = w.training.open_run(w.session.store.get_run(lr.run_id))
    assert past.monitor.lr_plot and past.monitor.state == FINISHED
    assert isinstance(past, QDialog)


def test_a_failed_run_reports_its_reason(qtbot, part2_window: MainWindow) -> None:
    w = part2_window
    texts: list[str] = []
    answer_modal(lambda box: (texts.append(box.text()), box.accept()), timeout=30, kind=QMessageBox)
    proc = start_from_menu(qtbot, w, w.actions_.retrain_resnet, {"recipe": "tiny", "stages": "bad"})
    wait_for(qtbot, lambda: not proc.active and bool(texts), 30_000)
    assert proc.state == "failed" and "bad stage" in texts[0] and "Training failed" not in texts[0]
    assert "failed: bad stage" in w.training.runs.table.item(w.training.runs.row_of(proc), 2).text()
