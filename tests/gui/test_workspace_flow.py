"""An auditor's first day in the app: a workspace with no model says what to do and does it (train the SVM
with an estimate, or import a model file in the background, then activate), workspaces are found again
(Recent Workspaces, the folder in the status bar), exports ask what to include and say what they wrote,
and `binaudit demo`'s background check reloads the window only when it changed something.

Real window, real training subprocess, real model files; pytest-qt fails a test on any exception in a slot.
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.browse.table_model import COLUMN_KEYS
from binaudit.gui.data.export_options import SHOWN, ExportOptionsDialog
from binaudit.gui.shell.app import check_in_background
from binaudit.gui.shell.first_model import INACTIVE, NO_MODEL
from binaudit.gui.shell.main_window import MainWindow
from binaudit.gui.shell.recent import recent_workspaces
from binaudit.gui.training.model_import import ModelImportJob
from binaudit.gui.training.setup_dialog import TrainingSetupDialog
from tests.gui.support import answer_modal, key, wait_for, window_for_test
from training.run_state import FINISHED

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def bare_window(qtbot, synth_store: Store, monkeypatch: pytest.MonkeyPatch):
    """The real window on a workspace with photos and labels but no model at all."""
    yield from window_for_test(qtbot, synth_store, monkeypatch)


def panel_of(w: MainWindow):
    return w.tools.first_model.panel


def test_an_empty_queue_says_what_to_do_and_trains_a_first_model(qtbot, bare_window: MainWindow,
                                                                  synth_store: Store) -> None:
    w, store = bare_window, synth_store
    panel = panel_of(w)
    wait_for(qtbot, lambda: panel.isVisible(), 5000)
    assert panel.state == NO_MODEL and panel.compact  # the plain list: a strip at the bottom of it
    score_columns = [COLUMN_KEYS.index(key) for key in ("mismatch", "issue")]
    assert all(w.browser.table.isColumnHidden(i) for i in score_columns)  # no model: no empty score columns
    w.actions_.audit_queue.setChecked(True)
    wait_for(qtbot, lambda: w.browser.shown_count() == 0 and panel.isVisible() and not panel.compact, 5000)
    assert panel.geometry() == w.browser.stack.rect()  # the whole list area, over the empty table
    assert panel.train.isVisible() and panel.import_.isVisible() and "No model yet" in panel.title.text()
    wait_for(qtbot, lambda: "an estimate: about" in panel.estimate.text(), 10_000)
    labelled = sum(1 for split in ("train", "val", "test") for *_, c in store.training_labels(split) if c <= 5)
    assert f"for {labelled:,} labelled photos" in panel.estimate.text()

    seen: dict = {}

    def start(dialog: TrainingSetupDialog) -> None:
        seen["title"], seen["note"], seen["command"] = dialog.windowTitle(), dialog.note.text(), dialog.command
        for name, value in (("size", 16), ("pca", 10), ("folds", 2)):  # small, so the test stays quick
            dialog.fields[name].setValue(value)
        dialog.threads.setValue(1)
        dialog.accept()

    answer_modal(start, kind=TrainingSetupDialog)
    panel.train.click()
    assert seen["command"] == "svm" and "CPU" in seen["title"] and "an estimate: about" in seen["note"]
    proc = w.training.processes[-1]
    wait_for(qtbot, lambda: not proc.active, 120_000)
    assert proc.state == FINISHED, proc.tail_text()
    model_id = int(proc.model_id)
    wait_for(qtbot, lambda: panel.isVisible() and panel.state == INACTIVE, 10_000)  # registered, not active yet
    w.training.activate(model_id)  # what the comparison's Activate button does
    wait_for(qtbot, lambda: store.active_model("svm") is not None and w.session.loaded
             and w.browser.shown_count() > 0, 60_000)
    wait_for(qtbot, lambda: not panel.isVisible(), 5000)
    assert w.browser.model.queue is not None and w.browser.current_image_id
    assert not any(w.browser.table.isColumnHidden(i) for i in score_columns)


def test_import_a_model_file_in_the_background_then_activate_it(qtbot, bare_window: MainWindow, synth_store: Store,
                                                                trained_workspace: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from binaudit.ml.modelpack import export_model

    w, store = bare_window, synth_store
    zip_path = tmp_path / "svm.binaudit-model.zip"
    with Store.open(trained_workspace / "workspace.db", readonly=True) as source:
        export_model(source, int(source.active_model("svm")["id"]), zip_path)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(zip_path), "")))
    w.actions_.audit_queue.setChecked(True)
    wait_for(qtbot, lambda: panel_of(w).isVisible() and not panel_of(w).compact, 5000)
    asked: list[str] = []
    answer_modal(lambda box: (asked.append(box.text()), box.button(QMessageBox.StandardButton.Yes).click()),
                 kind=QMessageBox)
    panel_of(w).import_.click()  # the same command as File > Import Model...
    job = w.tools.importer.job
    assert isinstance(job, ModelImportJob)
    wait_for(qtbot, lambda: bool(asked), 30_000)
    (model,) = store.list_models()
    assert f"as model #{model['id']} (svm)" in asked[0] and "Activate" in asked[0]
    wait_for(qtbot, lambda: store.active_model("svm") is not None and w.session.loaded
             and w.browser.shown_count() > 0, 60_000)
    assert len(store.scored_image_ids(int(model["id"]))) == store.count_images()
    wait_for(qtbot, lambda: not panel_of(w).isVisible(), 5000)


def test_recent_workspaces_and_the_workspace_folder(qtbot, bare_window: MainWindow, synth_store: Store,
                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = bare_window
    first = Workspace(synth_store.path.parent)
    second = Workspace(tmp_path / "second")
    shutil.copytree(first.root, second.root)
    gone = Workspace(tmp_path / "gone")
    shutil.copytree(first.root, gone.root)
    for workspace in (gone, second):
        assert w.open_workspace(workspace)
        wait_for(qtbot, lambda: w.session.loaded, 10_000)
    assert recent_workspaces()[:3] == [second.root, gone.root, first.root]
    shutil.rmtree(gone.root)  # moved away: pruned from the list
    w.tools.recent.rebuild()
    entries = [a for a in w.tools.recent.actions() if a.data()]
    assert [a.data() for a in entries] == [str(second.root), str(first.root)]
    entries[1].trigger()
    wait_for(qtbot, lambda: w.session is not None and w.session.workspace.root == first.root and w.session.loaded)
    assert recent_workspaces()[0] == first.root

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    assert str(first.root) in w.sb_workspace.toolTip()  # the whole path; the text is elided to leave messages room
    assert w.sb_workspace.sizeHint().width() <= 300
    w.sb_workspace.linkActivated.emit(w.sb_workspace.text())
    w.tools.show_folder.trigger()
    assert [u.toLocalFile() for u in opened] == [str(first.root)] * 2


def test_export_asks_what_to_include_and_says_what_it_wrote(qtbot, part2_window: MainWindow, trained_store: Store,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w, store = part2_window, trained_store
    reviewed = w.browser.current_image_id
    key(qtbot, w, "4")
    undone = w.browser.current_image_id
    key(qtbot, w, "3")
    w.actions_.undo.trigger()  # the first decision on this bin, undone: a "reset" event
    wait_for(qtbot, lambda: store.effective_label(undone).status == "reset")
    out = tmp_path / "results.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    old_umask = os.umask(0o022)
    try:
        answer_modal(lambda dialog: dialog.accept(), kind=ExportOptionsDialog)  # reviewed only, every column
        w.actions_.export_csv.trigger()
        wait_for(qtbot, lambda: out.exists() and not w.exports.job.running, 10_000)
    finally:
        os.umask(old_umask)
    assert [r["image_id"] for r in csv.DictReader(out.open())] == [reviewed]  # the undone one is no review
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert w.exports.last_report == f"Wrote 1 rows (reviewed images only; 15 of 15 columns) to {out}"
    assert w.statusBar().currentMessage() == w.exports.last_report

    w.browser.filter_bar.search.setText("")
    shown = w.exports.shown_ids()
    assert len(shown) == w.browser.shown_count() > 2

    def choose(dialog: ExportOptionsDialog) -> None:
        dialog.set_include(SHOWN)
        dialog.set_columns(["recorded_count", "label_status"])
        dialog.accept()

    answer_modal(choose, kind=ExportOptionsDialog)
    w.actions_.export_csv.trigger()
    wait_for(qtbot, lambda: not w.exports.job.running and "3 of 15" in w.exports.last_report, 10_000)
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["image_id"] for r in rows) == sorted(shown)
    assert list(rows[0]) == ["image_id", "recorded_count", "label_status"]
    assert f"Wrote {len(shown):,} rows (the {len(shown):,} images of the list as shown" in w.exports.last_report


def test_the_demo_check_reloads_the_window_only_when_it_changed_something(qtbot, window: MainWindow) -> None:
    loads: list[int] = []
    window.session.indexLoaded.connect(lambda: loads.append(1))
    check_in_background(window, lambda: False)
    wait_for(qtbot, lambda: "up to date" in window.statusBar().currentMessage(), 5000)
    qtbot.wait(200)
    assert loads == []
    check_in_background(window, lambda: True)
    wait_for(qtbot, lambda: loads == [1], 10_000)
    assert "updated" in window.statusBar().currentMessage()
