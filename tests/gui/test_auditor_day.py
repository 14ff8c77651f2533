"""Issue 15, an auditor's day: blind review hides every count until the bin is decided, a bin found by its
exact id, the place kept across every refresh, and two-digit counts from the keyboard.

Real windows on real workspaces: the synthetic generator's bins, a real trained SVM (scored with the
real scoring code), bins renamed to `1` and `1021` beside `00001`, one hand-written record whose counts
(83 recorded, SKUs 41 + 43) appear nowhere else, so a walk of everything on screen can look for them.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QTabBar,
    QTableWidget,
    QWidget,
)

from binaudit.core import labels as L
from binaudit.core.browse import BrowseFilter
from binaudit.core.importer import import_dataset
from binaudit.core.store import Store
from binaudit.core.synth import generate_dataset
from binaudit.gui.browse.grid_view import CELL_H, CELL_W
from binaudit.gui.browse.table_model import COLUMN_KEYS
from binaudit.gui.common import settings
from binaudit.gui.review.decisions import PAUSE_SETTING
from binaudit.gui.shell import dialogs
from binaudit.gui.shell.main_window import MainWindow
from tests.gui.support import answer_modal, key, open_window, wait_idle

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
BLIND_ID = "00000"  # sorts first: the bin on screen when the window opens
RECORD, SKU_A, SKU_B = 83, 41, 43  # SKUs add up to 84: the record contradicts itself (a warning)
COUNTS = re.compile(r"\b(83|84|41|43)\b")


# ---------------------------------------------------------------------- 2. blind review
@pytest.fixture
def blind_store(trained_store: Store, synth_dataset: Path, tmp_path: Path) -> Store:
    """The trained workspace plus bin 00000 (hand-written record, a synthetic photo), scored by the real SVM."""
    from binaudit.ml.scoring import score_images

    folder = tmp_path / "extra"
    (folder / "bin-images").mkdir(parents=True)
    (folder / "metadata").mkdir()
    shutil.copy(sorted((synth_dataset / "bin-images").glob("*.jpg"))[0], folder / "bin-images" / f"{BLIND_ID}.jpg")
    skus = {asin: {"asin": asin, "name": name, "quantity": q} for asin, name, q in
            (("B0BLINDAAA", "Garden hose reel", SKU_A), ("B0BLINDBBB", "Ceramic mug", SKU_B))}
    (folder / "metadata" / f"{BLIND_ID}.json").write_text(json.dumps(
        {"BIN_FCSKU_DATA": skus, "EXPECTED_QUANTITY": RECORD}))
    import_dataset(trained_store, folder)
    score_images(trained_store, trained_store.active_model("svm")["id"], device="cpu", num_workers=0,
                 image_ids=[BLIND_ID])
    return trained_store


def screen_texts(w: MainWindow) -> list[str]:
    """Every text on screen: visible labels, buttons, edits, combos, tabs, table-widget cells of visible columns."""
    texts = [w.windowTitle(), w.statusBar().currentMessage()]
    for widget in w.findChildren(QWidget):
        if not widget.isVisible() or widget is w.bin_view.zoom_label:  # the zoom is a percentage, not a count
            continue
        if isinstance(widget, (QLabel, QAbstractButton, QLineEdit)):
            texts.append(widget.text())
        elif isinstance(widget, QComboBox):
            texts.append(widget.currentText())
        elif isinstance(widget, QTabBar):
            texts += [widget.tabText(i) for i in range(widget.count())]
        elif isinstance(widget, QTableWidget):
            texts += [widget.item(r, c).text() for r in range(widget.rowCount()) for c in range(widget.columnCount())
                      if not widget.isColumnHidden(c) and widget.item(r, c) is not None]
    return texts


def row_texts(w: MainWindow, image_id: str) -> list[str]:
    """The list row of a bin as shown: display data and tooltips of its visible columns but the id."""
    b = w.browser
    row = b.model.row_of(image_id)
    return [str(b.model.data(b.model.index(row, c), role) or "") for c, k in enumerate(COLUMN_KEYS)
            if k != "id" and not b.table.isColumnHidden(c)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)]


class RecordingPainter(QPainter):
    """A painter that remembers every text drawn with it."""

    def __init__(self, device: QImage):
        super().__init__(device)
        self.texts: list[str] = []

    def drawText(self, *args) -> None:  # noqa: N802 (Qt's name)
        self.texts.append(str(args[-1]))
        super().drawText(*args)


def grid_texts(w: MainWindow, image_id: str) -> list[str]:
    """What the thumbnail grid draws in a bin's cell, and the cell's tooltip."""
    b = w.browser
    row = b.model.row_of(image_id)
    image = QImage(CELL_W, CELL_H, QImage.Format.Format_ARGB32)
    painter = RecordingPainter(image)
    b.grid.delegate._render(painter, QRect(0, 0, CELL_W, CELL_H), b.grid.palette(), False, False, b.model.cell(row),
                            None)
    painter.end()
    return painter.texts + [str(b.grid_model.data(b.grid_model.cell_index(row), Qt.ItemDataRole.ToolTipRole))]


FOLDER_LINK = re.compile(r'<a href="file://[^"]*">.*?</a>')  # the status bar's workspace path: pytest-41 is no count


def everything(w: MainWindow, image_id: str) -> list[str]:
    """Every text on screen about the bin, the workspace folder's link taken out (its digits are the temp dir's)."""
    texts = screen_texts(w) + row_texts(w, image_id) + grid_texts(w, image_id)
    return [FOLDER_LINK.sub("", t) for t in texts]


def test_blind_review_hides_every_count_until_the_bin_is_decided(qtbot, blind_store: Store,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    w = open_window(qtbot, blind_store, monkeypatch)
    b, view = w.browser, w.bin_view
    assert b.current_image_id == BLIND_ID and view.warning.isVisible()
    shown = [t for t in everything(w, BLIND_ID) if COUNTS.search(t)]
    assert len(shown) >= 4, shown  # the walk finds header, warning, SKU quantities, row and grid cell ...
    assert f"rec {RECORD}" in grid_texts(w, BLIND_ID) and any(t.startswith("S ") for t in grid_texts(w, BLIND_ID))

    qtbot.keyClick(b.table, Qt.Key.Key_B, CTRL)  # ... and in blind review none of them
    assert w.actions_.blind.isChecked()
    assert [t for t in everything(w, BLIND_ID) if COUNTS.search(t)] == []
    assert not any(t.startswith("S ") for t in grid_texts(w, BLIND_ID))  # no prediction in the cell
    assert not view.model_panels["svm"].isVisible() and not view.badge.isVisible() and view.blind_note.isVisible()
    assert all(b.table.isColumnHidden(COLUMN_KEYS.index(k)) for k in ("svm", "svm_conf", "mismatch", "issue"))
    assert "hidden" in view.info.text() and view.warning.isVisible()  # the problem is named, not its numbers

    key(qtbot, w, "5")  # the auditor's count; the list moves on and the status bar compares
    event = blind_store.label_history(BLIND_ID)[-1]
    assert (event.status, event.count, event.predictions["blind"]) == (L.CORRECTED, 5, True)
    assert "predicted" not in event.predictions["svm"]
    message = w.statusBar().currentMessage()
    assert f"you: 5  \u00b7  record: {RECORD}  \u00b7  models: SVM " in message, message
    assert b.current_image_id != BLIND_ID and not COUNTS.search(" ".join(row_texts(w, b.current_image_id)))

    b.select_image(BLIND_ID)  # decided: every count is back, with the comparison
    texts = everything(w, BLIND_ID)
    assert f"record: {RECORD}" in view.info.text() and "you: 5" in view.info.text()
    assert {str(SKU_A), str(SKU_B)} <= set(screen_texts(w)) and str(RECORD) in row_texts(w, BLIND_ID)
    assert f"rec {RECORD}" in texts and any(t.startswith("S ") for t in grid_texts(w, BLIND_ID))
    assert view.model_panels["svm"].isVisible() and str(SKU_B + SKU_A) in view.warning.text()
    w.close()


# ---------------------------------------------------------------------- 4. a bin by its id
@pytest.fixture
def id_store(tmp_path: Path):
    """Six synthetic bins, two renamed to `1` and `1021` beside `00001`; 00004 names "1021" in a SKU."""
    data = tmp_path / "bins"
    generate_dataset(data, 6, seed=3, image_scale=0.3)
    for old, new in (("00002", "1"), ("00003", "1021")):
        (data / "bin-images" / f"{old}.jpg").rename(data / "bin-images" / f"{new}.jpg")
        (data / "metadata" / f"{old}.json").rename(data / "metadata" / f"{new}.json")
    meta = data / "metadata" / "00004.json"
    record = json.loads(meta.read_text())
    next(iter(record["BIN_FCSKU_DATA"].values()))["name"] = "Desk lamp model 1021"
    meta.write_text(json.dumps(record))
    with Store.open(tmp_path / "ws" / "workspace.db") as store:
        import_dataset(store, data)
        yield store


def type_search(qtbot, w: MainWindow, text: str) -> None:
    search = w.browser.filter_bar.search
    search.clear()
    qtbot.keyClicks(search, text)


def test_a_bin_id_typed_in_the_search_box_or_ctrl_l_goes_to_that_bin(qtbot, id_store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    w = open_window(qtbot, id_store, monkeypatch)
    b, search = w.browser, w.browser.filter_bar.search
    assert id_store.search_items("1021") == ["00004"]  # the text search alone finds another bin
    qtbot.keyClick(b.table, Qt.Key.Key_F, CTRL)
    for typed in ("1021", "1", "00001", "1"):  # exact ids: 1 and 00001 are different bins
        type_search(qtbot, w, typed)
        qtbot.waitUntil(lambda typed=typed: b.current_image_id == typed, timeout=3000)
        assert w.bin_view.image_id == typed and b.shown_count() == 6 and search.hasFocus()  # still typing
    type_search(qtbot, w, "lamp")  # not an id: the text search as before
    qtbot.waitUntil(lambda: b.shown_count() == 1, timeout=3000)
    assert b.current_image_id == "00004"

    b.show_subset("one bin", ["00005"])  # an id the view hides: named, then Enter goes there
    type_search(qtbot, w, "1")
    qtbot.waitUntil(lambda: "press Enter" in w.statusBar().currentMessage(), timeout=3000)
    assert b.current_image_id == "00005"
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert b.current_image_id == "1" and not b.subset_bar.isVisible() and QApplication.focusWidget() is b.table

    for typed, expected in (("00001", "00001"), ("1", "1"), ("01", "1")):  # Ctrl+L, Go to Bin...
        answer_modal(lambda d, typed=typed: (d.setTextValue(typed), d.accept()), kind=QInputDialog)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is w)  # the keyboard is back from the last dialog
        qtbot.keyClick(b.table, Qt.Key.Key_L, CTRL)
        assert b.current_image_id == expected and w.bin_view.image_id == expected
    assert "No bin has the id \u201c01\u201d" in w.statusBar().currentMessage()
    w.close()


# ---------------------------------------------------------------------- 5. keep my place
def place(w: MainWindow, view: QAbstractItemView | None = None) -> tuple[str, int, int, int]:
    """The current bin, its row, the list's scroll position and the bin's height on screen."""
    b = w.browser
    view = view or b.table
    return (b.current_image_id, b.current_row, view.verticalScrollBar().value(),
            view.visualRect(view.currentIndex()).top())


def middle(w: MainWindow, row: int, view: QAbstractItemView | None = None) -> tuple[str, int, int, int]:
    w.browser.select_row(row)
    view = view or w.browser.table
    view.scrollTo(view.currentIndex(), QAbstractItemView.ScrollHint.PositionAtCenter)
    return place(w, view)


def test_activating_a_model_keeps_the_bin_and_the_scroll_position(qtbot, window: MainWindow) -> None:
    b = window.browser
    qtbot.keyClick(b.table, Qt.Key.Key_A, CTRL | SHIFT)  # walking the audit queue
    before = middle(window, 60)
    assert before[2] > 0 and before[3] > 0
    model_id = window.session.store.active_model("svm")["id"]
    with qtbot.waitSignal(window.session.indexLoaded, timeout=60_000):
        window.training.activate(model_id)  # rescores every image, then the window reloads
    assert window.training.activation is not None and not window.training.activation.running
    assert place(window) == before and window.bin_view.image_id == before[0] and b.model.queue is not None


def test_reload_filter_and_grid_keep_the_bin_where_it_was_on_screen(qtbot, window: MainWindow) -> None:
    b, index = window.browser, window.session.index
    train = next(r for r in range(60, 120) if index.split[b.model.view[r]] == 0)
    before = middle(window, train)
    with qtbot.waitSignal(window.session.indexLoaded, timeout=10_000):
        qtbot.keyClick(b.table, Qt.Key.Key_F5)  # index reload
    assert place(window) == before
    b.set_filter(BrowseFilter(split="train"))  # rows above it leave; the bin stays at its height
    after = place(window)
    assert after[0] == before[0] and after[1] < before[1] and after[3] == before[3]
    b.set_filter(BrowseFilter())
    qtbot.keyClick(b.table, Qt.Key.Key_G, CTRL)
    grid_before = middle(window, 100, b.grid)
    assert grid_before[2] > 0
    with qtbot.waitSignal(window.session.indexLoaded, timeout=10_000):
        qtbot.keyClick(b.grid, Qt.Key.Key_F5)
    assert place(window, b.grid) == grid_before


def test_enter_and_esc_in_the_search_box_give_the_keyboard_back(qtbot, window: MainWindow,
                                                                scored_store: Store) -> None:
    b, search = window.browser, window.browser.filter_bar.search
    word = scored_store.query("SELECT name FROM items WHERE name != '' LIMIT 1")[0]["name"].split()[0]
    qtbot.keyClick(b.table, Qt.Key.Key_F, CTRL)
    assert QApplication.focusWidget() is search
    qtbot.keyClicks(search, word)
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is b.table
    qtbot.waitUntil(lambda: b.shown_count() == len(scored_store.search_items(word)), timeout=3000)
    row = b.current_row
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_J)  # the next J walks the list, not the search
    assert search.text() == word and b.current_row == row + 1
    qtbot.keyClick(b.table, Qt.Key.Key_F, CTRL)
    qtbot.keyClicks(search, "x")
    qtbot.keyClick(search, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is b.table


# ---------------------------------------------------------------------- 6. two-digit counts
def spy_decisions(w: MainWindow, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, int]]:
    """(time, count) of every decision handed to the label controller."""
    calls: list[tuple[float, int]] = []
    decide = w.controller.decide
    monkeypatch.setattr(w.controller, "decide", lambda d: calls.append((time.monotonic(), d.after.count)) or decide(d))
    return calls


def press(qtbot, w: MainWindow, k) -> None:
    qtbot.keyClick(w.browser.table, k)


def test_one_then_two_is_one_decision_of_twelve_and_one_undo_step(qtbot, window: MainWindow,
                                                                 scored_store: Store, monkeypatch) -> None:
    b, calls = window.browser, spy_decisions(window, monkeypatch)
    first = b.current_image_id
    press(qtbot, window, "1")
    assert calls == [] and window.workbench.decisions.typing and b.current_image_id == first
    assert "1\u2026" in window.statusBar().currentMessage()
    press(qtbot, window, "2")
    wait_idle(qtbot, window)
    assert [c for _, c in calls] == [12]
    assert [(e.status, e.count) for e in scored_store.label_history(first)] == [(L.CORRECTED, 12)]
    assert b.current_image_id != first and window.controller.stack.count() == 1
    qtbot.keyClick(b.table, Qt.Key.Key_Z, CTRL)
    wait_idle(qtbot, window)
    assert scored_store.effective_label(first).status == L.RESET and window.controller.stack.count() == 1


def test_other_digits_record_at_once_and_one_waits_for_its_pause(qtbot, window: MainWindow,
                                                                scored_store: Store, monkeypatch) -> None:
    b, calls = window.browser, spy_decisions(window, monkeypatch)
    first = b.current_image_id
    press(qtbot, window, "3")
    assert [c for _, c in calls] == [3]  # before the key press returned: no pause
    wait_idle(qtbot, window)
    assert (scored_store.effective_label(first).count, b.current_row) == (3, 1)
    second = b.current_image_id
    pressed = time.monotonic()
    press(qtbot, window, "1")
    assert len(calls) == 1 and b.current_image_id == second
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=3000)
    assert calls[1][1] == 1 and calls[1][0] - pressed >= 0.5  # the pause (600 ms) ended: one decision of 1
    wait_idle(qtbot, window)
    assert scored_store.effective_label(second).count == 1 and len(scored_store.label_history(second)) == 1
    third = b.current_image_id
    press(qtbot, window, "1")
    press(qtbot, window, Qt.Key.Key_Return)  # Enter: 1 at once, not "confirm the record"
    assert calls[-1][1] == 1
    wait_idle(qtbot, window)
    assert scored_store.effective_label(third).count == 1 and len(scored_store.label_history(third)) == 1
    fourth = b.current_image_id
    press(qtbot, window, "1")
    qtbot.keyClick(b.table, Qt.Key.Key_Z, CTRL)  # undo drops the typed 1, the earlier decisions stay
    wait_idle(qtbot, window)
    assert len(calls) == 3 and scored_store.effective_label(fourth).status == L.RECORDED
    assert scored_store.effective_label(third).count == 1
    press(qtbot, window, "1")
    press(qtbot, window, "j")  # moving on records the 1 for the bin it was typed on
    wait_idle(qtbot, window)
    assert scored_store.effective_label(fourth).count == 1 and b.current_image_id == b.model.image_id(4)


def test_the_pause_is_a_setting_and_zero_turns_two_digit_entry_off(qtbot, scored_store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings.put(PAUSE_SETTING, 0)
    w = open_window(qtbot, scored_store, monkeypatch)
    calls = spy_decisions(w, monkeypatch)
    press(qtbot, w, "1")
    assert [c for _, c in calls] == [1] and not w.workbench.decisions.typing
    w.close()


def test_the_shortcuts_list_names_the_new_keys(qtbot, window: MainWindow) -> None:
    keys = dict(dialogs.KEYS)
    assert "10\u201319" in keys["1"] and "Ctrl+L" in keys and "bin id" in keys["Ctrl+F"]
    assert window.actions_.go_to.shortcut().toString() == "Ctrl+L"
