"""Blind review keeps every count hidden until the auditor has counted, in the places the first pass missed:
C/Enter (no confirming a count nobody has seen), the count dialogs' first guess, the Recorded/Predicted/
Mismatch filters and the sorts by count, and the Charts dock's totals.

The real window on the scored synthetic workspace (a ResNet and an SVM, trained, scored and active); each
test shows the same check passing with blind review off, so none of them can pass by showing nothing.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from binaudit.core import labels as L
from binaudit.core.browse import BrowseFilter
from binaudit.core.store import Store
from binaudit.gui.browse.table_model import COLUMN_KEYS
from binaudit.gui.charts.panel import cell_images
from binaudit.gui.shell.main_window import MainWindow
from tests.gui.support import answer_modal, key, wait_idle

CTRL = Qt.KeyboardModifier.ControlModifier


def toggle_blind(qtbot, w: MainWindow) -> bool:
    """Ctrl+B, as the auditor presses it; whether blind review is on now."""
    qtbot.keyClick(w.browser.table, Qt.Key.Key_B, CTRL)
    return w.actions_.blind.isChecked()


def undecided_with_record(w: MainWindow, store: Store, at_least: int = 2) -> str:
    """Select an undecided bin whose recorded count is at least `at_least` (so 0 is never its record)."""
    for r in range(w.browser.shown_count()):
        image_id = w.browser.model.image_id(r)
        if (store.get_image(image_id)["recorded_count"] or 0) >= at_least and not store.label_history(image_id):
            assert w.browser.select_image(image_id)
            return image_id
    raise AssertionError("no undecided bin with a recorded count")


def test_c_and_enter_do_not_confirm_a_hidden_record(qtbot, window: MainWindow, scored_store: Store) -> None:
    w, store = window, scored_store
    assert toggle_blind(qtbot, w)
    bin_id = undecided_with_record(w, store)
    recorded = store.get_image(bin_id)["recorded_count"]
    for k in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_C):
        key(qtbot, w, k)
        assert store.label_history(bin_id) == [] and w.browser.current_image_id == bin_id  # nothing, no move
        message = w.statusBar().currentMessage()
        assert "Blind review" in message and "Type the count" in message, message
    key(qtbot, w, "7" if recorded != 7 else "6")  # the auditor's own count is recorded, and compared
    event = store.label_history(bin_id)[-1]
    assert event.count in (6, 7) and event.status == L.CORRECTED and event.predictions["blind"] is True
    assert f"record: {recorded}" in w.statusBar().currentMessage()

    assert w.browser.select_image(bin_id)  # decided: its record is on screen, and C confirms it
    key(qtbot, w, Qt.Key.Key_C)
    event = store.label_history(bin_id)[-1]
    assert (event.status, event.count) == (L.CONFIRMED, recorded)

    assert not toggle_blind(qtbot, w)  # off: Enter confirms the recorded count of an undecided bin, as it did
    other = undecided_with_record(w, store)
    key(qtbot, w, Qt.Key.Key_Return)
    assert store.effective_label(other).status == L.CONFIRMED


def first_guess(qtbot, w: MainWindow, trigger) -> int:
    """The value a count dialog opens with (the dialog is cancelled)."""
    seen: list[int] = []
    answer_modal(lambda dialog: (seen.append(dialog.spin.value()), dialog.reject()))
    trigger()
    wait_idle(qtbot, w)
    assert seen, "no count dialog opened"
    return seen[0]


def test_count_dialogs_do_not_start_at_a_hidden_record(qtbot, window: MainWindow, scored_store: Store) -> None:
    w, store = window, scored_store
    bin_id = undecided_with_record(w, store)
    recorded = store.get_image(bin_id)["recorded_count"]
    w.browser.table.selectRow(w.browser.current_row)
    assert first_guess(qtbot, w, lambda: key(qtbot, w, Qt.Key.Key_N)) == recorded  # seen: the record is the guess
    assert first_guess(qtbot, w, w.actions_.bulk_count.trigger) == recorded
    assert toggle_blind(qtbot, w)
    assert w.browser.current_image_id == bin_id
    assert first_guess(qtbot, w, lambda: key(qtbot, w, Qt.Key.Key_N)) == 0
    w.browser.table.selectRow(w.browser.current_row)
    assert first_guess(qtbot, w, w.actions_.bulk_count.trigger) == 0
    assert store.label_history(bin_id) == []


def shown_ids(w: MainWindow) -> set[str]:
    return {w.browser.model.image_id(r) for r in range(w.browser.shown_count())}


def click_header(qtbot, w: MainWindow, column_key: str) -> None:
    header = w.browser.table.horizontalHeader()
    x = header.sectionViewportPosition(COLUMN_KEYS.index(column_key)) + 10
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))


def test_blind_review_turns_the_count_filters_and_sorts_off(qtbot, window: MainWindow, scored_store: Store) -> None:
    w, b, store = window, window.browser, scored_store
    everything = shown_ids(w)
    three = {r["image_id"] for r in store.query("SELECT image_id FROM images WHERE recorded_count = 3")}
    bar = b.filter_bar
    bar.recorded.setCurrentIndex(bar.recorded.findText("Recorded 3"))
    bar.recorded.activated.emit(bar.recorded.currentIndex())
    assert shown_ids(w) == three != everything  # seen: a list that tells each bin's recorded count

    assert toggle_blind(qtbot, w)  # the filter goes, and the count filters cannot be set while blind
    assert shown_ids(w) == everything and b.model.filter.recorded_min is None
    assert not any(x.isEnabled() for x in (bar.recorded, bar.predicted, bar.mismatch))
    b.set_filter(BrowseFilter(recorded_min=3, recorded_max=3, predicted=2, mismatch_only=True, reviewed=False))
    f = b.model.filter
    assert (f.recorded_min, f.recorded_max, f.predicted, f.mismatch_only, f.reviewed) == (None, None, None, False,
                                                                                           False)
    b.filter_bar.reset()

    for column in ("recorded", "label"):  # sorting by the record or the label would order bins by their counts
        click_header(qtbot, w, column)
        assert b.model.sort_key == "id", column
        assert "Blind review" in w.statusBar().currentMessage()
    assert b.table.horizontalHeader().sortIndicatorSection() == COLUMN_KEYS.index("id")

    assert not toggle_blind(qtbot, w)  # off: the filters and the sort are back
    assert all(x.isEnabled() for x in (bar.recorded, bar.predicted, bar.mismatch))
    click_header(qtbot, w, "recorded")
    assert b.model.sort_key == "recorded"
    assert toggle_blind(qtbot, w)  # on again while the list is sorted by the record: back to the order of the ids
    assert b.model.sort_key == "id"
    assert b.table.horizontalHeader().sortIndicatorSection() == COLUMN_KEYS.index("id")


def series(panel, name: str) -> np.ndarray:
    return next(values for title, _, values in panel.counts.groups if title.startswith(name))


def test_charts_total_only_the_decided_bins_in_blind_review(qtbot, window: MainWindow, scored_store: Store) -> None:
    w, store = window, scored_store
    w.charts_dock.show()
    qtbot.waitUntil(lambda: w.charts_dock.panel is not None and w.charts_dock.panel.isVisible())
    panel = w.charts_dock.panel
    index = w.session.index
    with_record = int(np.count_nonzero(index.recorded >= 0))
    assert series(panel, "recorded").sum() == with_record > 0 and panel.confusion.matrix.sum() > 0  # seen

    def decided() -> tuple[int, int]:
        """(decided bins with a record, decided bins with a count)."""
        reviewed = index.reviewed_mask()
        return int(np.count_nonzero(reviewed & (index.recorded >= 0))), int(np.count_nonzero(reviewed
                                                                                            & (index.effective >= 0)))

    assert toggle_blind(qtbot, w)
    recorded_before, counted_before = decided()
    assert recorded_before < with_record
    assert series(panel, "recorded").sum() == recorded_before and series(panel, "label").sum() == counted_before
    assert panel.confusion.matrix.sum() <= counted_before and series(panel, "predicted").sum() <= recorded_before
    assert panel.caption.text().startswith("Blind review")

    bin_id = undecided_with_record(w, store)
    recorded = store.get_image(bin_id)["recorded_count"]
    top = len(panel.counts.categories) - 1
    before = series(panel, "recorded")[min(recorded, top)], series(panel, "label")[4], panel.confusion.matrix.sum()
    key(qtbot, w, "4")  # decided: this bin joins the charts, and no other
    qtbot.waitUntil(lambda: panel.confusion.matrix.sum() == before[2] + 1, timeout=3000)
    assert (series(panel, "recorded")[min(recorded, top)], series(panel, "label")[4]) == (before[0] + 1, before[1] + 1)
    assert series(panel, "recorded").sum() == recorded_before + 1
    predicted = int(index.models[panel.kind()].predicted[index.position(bin_id)])
    listed = cell_images(index, panel.kind(), 4, predicted, None, blind=True)
    assert bin_id in listed and all(index.reviewed_mask()[index.position(i)] for i in listed)

    assert not toggle_blind(qtbot, w)  # off: every bin again
    assert series(panel, "recorded").sum() == with_record and not panel.caption.text().startswith("Blind")
