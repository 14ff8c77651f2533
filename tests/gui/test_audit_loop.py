"""Issue 14 in the app: the queue learns from the reviews in the background while the auditor goes on labelling,
the Queue quality dock says how good the queue is, and a random-sample audit gives it an honest baseline.

The real window on a copy of the trained synthetic workspace (120 generated bins, a real SVM trained and
scored by the training module); the auditor presses the true count of each bin (from the generator's
truth.json), so corrections are real variances, except in the background-update test, whose auditor finds every
high record wrong (a world where the record truly predicts variances, in the queue and in a random sample, which
is what lets an update reorder the queue). The queue update is the real core.audit.loop.update_queue; that test
holds it at its start until the auditor has made more decisions, which proves it runs off the GUI thread (a
blocked GUI thread could not take those key presses).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from binaudit.core import labels as L
from binaudit.core.audit.loop import draw_sample
from binaudit.core.store import Store
from binaudit.gui.audit import updater as updater_module
from binaudit.gui.audit.dialogs import RandomSampleDialog
from binaudit.gui.audit.order import order_change
from binaudit.gui.audit.quality import SAMPLE_ACTION
from binaudit.gui.common import settings
from binaudit.gui.shell.main_window import MainWindow
from tests.gui.support import answer_modal, key, wait_for, window_for_test

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def true_counts(dataset: Path) -> dict[str, int]:
    images = json.loads((dataset / "truth.json").read_text())["images"]
    return {image_id: int(entry["true_count"]) for image_id, entry in images.items()}


def review(qtbot, w: MainWindow, truth: dict[str, int], n: int) -> list[str]:
    """Press the true count of the bin on screen n times (each decision moves on); the bins decided."""
    decided = []
    for _ in range(n):
        image_id = w.browser.current_image_id
        decided.append(image_id)
        key(qtbot, w, str(truth[image_id]))
    return decided


HIGH = 4  # the background-update test's auditor finds every record of HIGH or more wrong (one too many)


def high_records_wrong(recorded: int) -> int:
    """The count that auditor enters: one less than a high record, a low record confirmed."""
    return recorded - 1 if recorded >= HIGH else recorded


@pytest.fixture
def sampled_window(qtbot, trained_store: Store, monkeypatch: pytest.MonkeyPatch):
    """The real window on the trained copy after an earlier session drew a random sample of 40 bins and reviewed
    it (by high_records_wrong, through the store)."""
    for b in trained_store.audit_sample_bins(draw_sample(trained_store, 40, user="cy", seed=0)):
        recorded = int(trained_store.get_image(b.image_id)["recorded_count"])
        count = high_records_wrong(recorded)
        trained_store.record_label(b.image_id, user="cy", status=L.CONFIRMED if count == recorded else L.CORRECTED,
                                   count=count)
    yield from window_for_test(qtbot, trained_store, monkeypatch)


def open_quality_dock(qtbot, w: MainWindow) -> None:
    w.audit.dock.toggleViewAction().trigger()
    wait_for(qtbot, lambda: w.audit.dock.panel is not None and w.audit.dock.panel.view is not None, 30_000)


def panel_text(w: MainWindow) -> str:
    view = w.audit.dock.panel.view
    return "\n".join([view.verdict, *(f"{name}: {value}" for name, value, _ in view.rows)])


def test_order_change_counts_moved_bins_and_new_ones_at_the_top() -> None:
    before = np.array([b"a", b"b", b"c", b"d", b"e"])
    assert order_change(before, before).moved == 0
    change = order_change(before, np.array([b"c", b"a", b"b", b"d"]), top=2)  # e reviewed meanwhile
    assert (change.moved, change.new_in_next, change.compared) == (3, 1, 4)
    assert "order changed for 3 of 4 bins; 1 new in the next 2" == change.describe()


def test_the_queue_updates_in_the_background_while_labelling_goes_on(
        qtbot, sampled_window: MainWindow, trained_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    w = sampled_window
    recorded = {r["image_id"]: int(r["recorded_count"]) for r in trained_store.query(
        "SELECT image_id, recorded_count FROM images")}
    truth = {i: high_records_wrong(n) for i, n in recorded.items()}
    sampled = [b.image_id for b in trained_store.audit_sample_bins()]
    settings.put(settings.QUEUE_UPDATE_EVERY, 12)
    held, release = threading.Event(), threading.Event()
    real_update = updater_module.update_queue

    def update_after_release(store: Store, *, user: str):
        held.set()
        assert release.wait(60), "the test never released the update"
        return real_update(store, user=user)

    monkeypatch.setattr(updater_module, "update_queue", update_after_release)
    open_quality_dock(qtbot, w)
    verdict = w.audit.dock.panel.view.verdict
    assert "Cannot tell yet" in verdict and "0 bins reviewed from the queue" in verdict and SAMPLE_ACTION not in verdict
    key(qtbot, w, Qt.Key.Key_A, CTRL | SHIFT)  # the audit queue
    first = review(qtbot, w, truth, 12)  # the 12th decision starts an update
    assert w.audit.updater.running and held.wait(10)

    during = review(qtbot, w, truth, 3)  # the update is held in its worker: the GUI thread takes these
    assert w.audit.updater.running
    assert all(trained_store.effective_label(i).status in (L.CONFIRMED, L.CORRECTED) for i in first + during)
    on_screen = w.browser.current_image_id
    rows_before = [w.browser.model.image_id(r) for r in range(w.browser.model.rowCount())]
    with qtbot.waitSignal(w.audit.updater.updated, timeout=60_000) as signal:
        release.set()
    outcome = signal.args[0]

    decided = sampled + first + during
    variances = sum(truth[i] != recorded[i] for i in decided)
    latest = trained_store.latest_queue_update()
    assert latest is not None and w.session.index.queue_update.id == latest["id"] == outcome.update.id
    assert outcome.update.reviewed == len(decided) and outcome.update.positives == variances
    assert outcome.update.selection.chosen == "full", outcome.update.recalibration.note
    assert w.statusBar().currentMessage().startswith(f"Queue updated from {len(decided)} reviews: {variances} variance")
    assert outcome.change.moved > 0 and "order changed for" in w.statusBar().currentMessage()
    rows_after = [w.browser.model.image_id(r) for r in range(w.browser.model.rowCount())]
    assert rows_after != rows_before and sorted(rows_after) == sorted(rows_before)  # reordered, same bins
    assert w.browser.current_image_id == on_screen  # the auditor's bin stays on screen

    wait_for(qtbot, lambda: "15 bins" in panel_text(w), 30_000)  # the panel follows the queue's reviews
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo across the update: the last decision, made while it ran
    assert trained_store.effective_label(during[-1]).status == L.RESET
    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    assert trained_store.effective_label(during[-2]).status == L.RESET
    wait_for(qtbot, lambda: "13 bins" in panel_text(w), 30_000)
    key(qtbot, w, Qt.Key.Key_Z, CTRL | SHIFT)  # and redo
    assert trained_store.effective_label(during[-2]).status in (L.CONFIRMED, L.CORRECTED)


def test_a_random_sample_is_marked_reviewed_in_order_and_gives_the_verdict(
        qtbot, part2_window: MainWindow, trained_store: Store, synth_dataset: Path) -> None:
    w, truth = part2_window, true_counts(synth_dataset)
    settings.put(settings.QUEUE_UPDATE_EVERY, 0)  # only when asked: this test is about the sample
    key(qtbot, w, Qt.Key.Key_A, CTRL | SHIFT)
    review(qtbot, w, truth, 20)
    open_quality_dock(qtbot, w)
    wait_for(qtbot, lambda: "20 bins" in panel_text(w), 30_000)
    assert w.audit.dock.panel.view.better is None and "Cannot tell yet" in panel_text(w)

    def draw(dialog: RandomSampleDialog) -> None:
        dialog.size_box.setValue(40)
        dialog.draw_button.click()

    answer_modal(draw, kind=RandomSampleDialog)
    w.actions_.random_sample.trigger()
    wait_for(qtbot, lambda: w.browser.subset_bar.isVisible() and w.browser.shown_count() == 40, 30_000)
    bins = trained_store.audit_sample_bins()
    assert [b.image_id for b in bins] == [w.browser.model.image_id(r) for r in range(40)]  # in review order
    assert not w.actions_.audit_queue.isChecked() and "Random sample #1" in w.browser.subset_bar.text.text()
    model = w.browser.model
    wait_for(qtbot, lambda: model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None, 30_000)
    assert "In random sample #1" in model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    w.browser.show_all()
    w.browser.clear_subset()
    unsampled = next(r for r in range(model.rowCount()) if model.image_id(r) not in {b.image_id for b in bins})
    assert model.data(model.index(unsampled, 0), Qt.ItemDataRole.DecorationRole) is None

    answer_modal(lambda dialog: dialog.review_button.click(), kind=RandomSampleDialog)
    w.actions_.random_sample.trigger()  # the same sample again, from the dialog
    reviewed = w.session.index.reviewed_mask()
    first_open = next(r for r in range(40) if not reviewed[w.session.index.position(bins[r].image_id)])
    wait_for(qtbot, lambda: w.browser.shown_count() == 40 and w.browser.current_row == first_open, 30_000)
    for row, b in enumerate(bins):  # review every sampled bin not reviewed yet, in the sample's order
        if trained_store.effective_label(b.image_id).status not in (L.CONFIRMED, L.CORRECTED):
            w.browser.select_row(row)
            key(qtbot, w, str(truth[b.image_id]))
    wait_for(qtbot, lambda: "Random sample #1: 40 of 40 bins reviewed" in panel_text(w), 30_000)
    text = panel_text(w)
    assert w.audit.dock.panel.view.better is not None
    assert text.startswith(("Better than random", "No better than random", "Worse than random"))
    rate = next(value for name, value, _ in w.audit.dock.panel.view.rows if name == "Inventory variance rate")
    assert re.fullmatch(r"\d+\.\d% \(\d+\.\d\u2013\d+\.\d%\)", rate)  # the rate and its 95% interval
    assert "Record accuracy" in text and "95% intervals" in w.audit.dock.panel.view.note


def test_an_update_also_fine_tunes_the_models_when_asked(
        qtbot, part2_window: MainWindow, trained_store: Store, synth_dataset: Path) -> None:
    from binaudit.core.compare import missing_predictions
    from training.run_state import FINISHED

    w, truth = part2_window, true_counts(synth_dataset)
    settings.put(settings.QUEUE_UPDATE_EVERY, 0)
    settings.put(settings.QUEUE_FINETUNE, True)
    parent = trained_store.active_model("svm")
    key(qtbot, w, Qt.Key.Key_A, CTRL | SHIFT)
    review(qtbot, w, truth, 12)
    with qtbot.waitSignal(w.audit.updater.updated, timeout=60_000):
        key(qtbot, w, Qt.Key.Key_U, CTRL)  # Label > Update the Queue
    proc = w.audit.finetuner.runs[int(parent["id"])]  # `python -m training finetune --model ID`, a subprocess
    assert proc.request.command == "finetune" and proc in w.training.processes and id(proc) not in w.training.views
    review(qtbot, w, truth, 2)  # labelling goes on while it trains
    wait_for(qtbot, lambda: not proc.active, 180_000)
    assert proc.state == FINISHED, proc.tail_text(20)
    new_id = int(proc.model_id)
    wait_for(qtbot, lambda: any(v.new_model["id"] == new_id for v in w.training.compares), 180_000)
    all_ids = [r["image_id"] for r in trained_store.query("SELECT image_id FROM images WHERE path IS NOT NULL")]
    assert not missing_predictions(trained_store, new_id, all_ids)  # scored on every bin in the background
    assert trained_store.active_model("svm")["id"] == parent["id"]  # activation stays the user's choice
    assert "Fine-tuned model" in w.statusBar().currentMessage()
