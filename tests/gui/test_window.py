"""The real main window on a synthetic workspace, driven by key presses; the store is checked after each step.

pytest-qt fails a test on any exception raised inside a Qt slot or virtual method.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from binaudit.core import labels as L
from binaudit.core.browse import BrowseFilter
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.common import settings
from binaudit.gui.review.label_dialogs import ReasonDialog
from binaudit.gui.shell.main_window import MainWindow
from tests.gui.support import AUDITOR, answer_modal, key, open_window


def label(store: Store, image_id: str):
    return store.effective_label(image_id)


def test_browse_filter_sort_and_search(qtbot, window: MainWindow, scored_store: Store) -> None:
    b = window.browser
    n = scored_store.count_images()
    assert b.shown_count() == n
    assert window.sb_counts.text().startswith(f"{n:,} images")
    recorded3 = {r["image_id"] for r in scored_store.query("SELECT image_id FROM images WHERE recorded_count = 3")}
    b.filter_bar.recorded.setCurrentIndex(b.filter_bar.recorded.findText("Recorded 3"))
    b.filter_bar.recorded.activated.emit(b.filter_bar.recorded.currentIndex())
    assert {b.model.image_id(r) for r in range(b.shown_count())} == recorded3
    assert b.current_image_id in recorded3 and window.bin_view.image_id == b.current_image_id
    # sort by the recorded column, descending, by clicking the header twice
    b.filter_bar.reset()
    header = b.table.horizontalHeader()
    col = [c.key for c in __import__("binaudit.gui.browse.table_model", fromlist=["COLUMNS"]).COLUMNS].index("recorded")
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.rect().topLeft() + __import__("PySide6.QtCore", fromlist=["QPoint"]).QPoint(
                         header.sectionViewportPosition(col) + 10, 5))
    if b.model.descending is False:
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=__import__("PySide6.QtCore", fromlist=["QPoint"]).QPoint(header.sectionViewportPosition(col) + 10, 5))
    assert b.model.sort_key == "recorded" and b.model.descending
    values = [scored_store.get_image(b.model.image_id(r))["recorded_count"] for r in range(b.shown_count())]
    known = [v for v in values if v is not None]
    assert known == sorted(known, reverse=True) and values[: len(known)] == known
    # full-text search (runs in a worker)
    word = scored_store.query("SELECT name FROM items WHERE name != '' LIMIT 1")[0]["name"].split()[0]
    expected = set(scored_store.search_items(word))
    b.filter_bar.search.setText(word)
    qtbot.waitUntil(lambda: b.shown_count() == len(expected), timeout=5000)
    assert {b.model.image_id(r) for r in range(b.shown_count())} == expected
    # typing in the search box never labels anything
    b.filter_bar.search.setFocus()
    qtbot.keyClicks(b.filter_bar.search, " 3")
    qtbot.keyClick(b.filter_bar.search, Qt.Key.Key_Return)
    assert scored_store.event_count() == 0
    b.filter_bar.set_filter(BrowseFilter(mismatch_only=True))
    assert 0 < b.shown_count() < n
    assert all(window.session.index.mismatch_flags()[b.model.view])


def test_relabel_undo_redo_from_the_keyboard(qtbot, window: MainWindow, scored_store: Store) -> None:
    b, store = window.browser, scored_store
    first = b.current_image_id
    recorded = store.get_image(first)["recorded_count"]
    wrong = (recorded + 1) % 10
    key(qtbot, window, f"{wrong}")
    event = store.label_history(first)[-1]
    assert (event.status, event.count, event.user, event.action) == (L.CORRECTED, wrong, AUDITOR, "label")
    assert event.previous_status == L.RECORDED and event.previous_count == recorded
    assert event.predictions["resnet"]["predicted"] == window.session.store.predictions(
        store.active_model("resnet")["id"], [first])[0]["predicted"] and event.predictions["blind"] is False
    second = b.current_image_id
    assert second != first and b.current_row == 1  # advanced
    key(qtbot, window, Qt.Key.Key_Return)  # confirm the recorded count
    e2 = label(store, second)
    assert (e2.status, e2.count) == (L.CONFIRMED, store.get_image(second)["recorded_count"])
    third = b.current_image_id
    key(qtbot, window, "c")
    assert label(store, third).status == L.CONFIRMED
    assert window.browser.model.data(window.browser.model.index(0, 2)) == f"{wrong} (was {recorded})"

    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert label(store, third).status == L.RESET and store.label_history(third)[-1].action == "undo"
    assert b.current_image_id == third
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [label(store, i).status for i in (first, second, third)] == [L.RESET] * 3
    assert label(store, first).count == recorded and b.current_image_id == first
    assert not window.actions_.undo.isEnabled() and window.actions_.redo.isEnabled()
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert (label(store, first).status, label(store, first).count) == (L.CORRECTED, wrong)
    assert store.label_history(first)[-1].action == "redo"
    key(qtbot, window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert label(store, second).status == L.CONFIRMED
    assert store.event_count() == 3 + 3 + 2  # every step is an event; nothing only in memory
    assert window.bin_view.history.rowCount() == len(store.label_history(window.bin_view.image_id))


def test_uncountable_exclude_and_large_counts(qtbot, window: MainWindow, scored_store: Store) -> None:
    b, store = window.browser, scored_store
    first = b.current_image_id
    answer_modal(lambda dialog: qtbot.keyClick(dialog.list, "2"), kind=ReasonDialog)  # reason 2 = taped over
    key(qtbot, window, "u")
    assert (label(store, first).status, label(store, first).reason) == (L.UNCOUNTABLE, "taped over")
    second = b.current_image_id
    answer_modal(lambda dialog: dialog.reject())  # Esc/cancel: nothing written, no advance
    key(qtbot, window, "u")
    assert label(store, second).status == L.RECORDED and b.current_image_id == second
    key(qtbot, window, "x")
    assert label(store, second).status == L.EXCLUDED
    third = b.current_image_id

    def type_twelve(dialog: QDialog) -> None:
        dialog.spin.selectAll()
        qtbot.keyClicks(dialog.spin, "12")
        qtbot.keyClick(dialog.spin, Qt.Key.Key_Return)

    answer_modal(type_twelve)
    key(qtbot, window, "n")
    assert (label(store, third).status, label(store, third).count) == (L.CORRECTED, 12)
    # undo the uncountable decision three steps back, then redo it: the reason comes back too
    for _ in range(3):
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert label(store, first).status == L.RESET
    key(qtbot, window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert (label(store, first).status, label(store, first).reason) == (L.UNCOUNTABLE, "taped over")
    # undoing a decision that replaced an uncountable one restores the reason
    window.browser.select_image(first)
    key(qtbot, window, "4")
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert (label(store, first).status, label(store, first).reason) == (L.UNCOUNTABLE, "taped over")


def test_audit_queue_walk_and_blind(qtbot, window: MainWindow, scored_store: Store) -> None:
    b, store = window.browser, scored_store
    qtbot.keyClick(b.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.actions_.audit_queue.isChecked() and b.queue_bar.isVisible()
    index = window.session.index
    scores = index.mismatch_score()[b.model.view]
    assert np.all(np.diff(scores) <= 0) and b.current_row == 0
    assert "0 of" in b.queue_bar.text.text()
    walked = []
    for _ in range(3):
        walked.append(b.current_image_id)
        recorded = store.get_image(b.current_image_id)["recorded_count"]
        key(qtbot, window, str((recorded + 1) % 10))
    assert b.current_row == 3
    assert all(label(store, i).status == L.CORRECTED for i in walked)
    assert b.queue_bar.text.text().startswith(f"3 of {len(b.model.view):,} reviewed")
    assert "3 variances" in b.queue_bar.text.text()
    # blind: predictions leave the table, the bin view and the recorded decision
    qtbot.keyClick(b.table, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.actions_.blind.isChecked()
    assert b.table.isColumnHidden(3) and not window.bin_view.model_panels["resnet"].isVisible()
    assert not window.bin_view.badge.isVisible()
    current = b.current_image_id
    key(qtbot, window, Qt.Key.Key_Return)  # no recorded count on screen to confirm: Enter records nothing
    assert store.label_history(current) == [] and b.current_image_id == current
    key(qtbot, window, "3")
    shown = store.label_history(current)[-1].predictions
    assert shown["blind"] is True and "predicted" not in shown["resnet"]
    # walking on after going back skips the images already reviewed
    b.select_row(0)
    key(qtbot, window, Qt.Key.Key_Return)
    assert b.current_row == 4  # rows 1-3 are reviewed already
    qtbot.keyClick(b.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert b.model.queue is None and not b.queue_bar.isVisible()


def test_conflicts_with_another_auditor(qtbot, window: MainWindow, scored_store: Store) -> None:
    b = window.browser
    other = Store.open(scored_store.path)  # a second connection: another app instance
    try:
        image = b.current_image_id
        other.record_label(image, user="otto", status=L.CORRECTED, count=7, expected_event_id=None)
        seen: list[str] = []

        def keep_mine(box: QMessageBox) -> None:
            seen.append(box.text())
            next(btn for btn in box.buttons() if btn.text().startswith("Keep mine")).click()

        def take_theirs(box: QMessageBox) -> None:
            next(btn for btn in box.buttons() if btn.text().startswith("Use theirs")).click()

        answer_modal(keep_mine)
        key(qtbot, window, "2")
        assert "otto" in seen[0]
        history = scored_store.label_history(image)
        assert [(e.user, e.action, e.count) for e in history] == [("otto", "label", 7), (AUDITOR, "conflict-keep", 2)]
        assert history[-1].previous_event_id == history[0].id  # replaced knowingly, not silently
        assert b.current_image_id != image  # advanced after the decision was stored

        image2 = b.current_image_id
        other.record_label(image2, user="otto", status=L.EXCLUDED, expected_event_id=None)
        answer_modal(take_theirs)
        key(qtbot, window, "1")
        assert label(scored_store, image2).status == L.EXCLUDED and len(scored_store.label_history(image2)) == 1
        assert b.current_image_id == image2  # stays to show their label
        assert "excluded" in window.bin_view.info.text()

        # an undo whose image someone else changed since: take theirs, the step leaves the history
        key(qtbot, window, "3")
        done = label(scored_store, image2)
        other.record_label(image2, user="otto", status=L.CONFIRMED, count=5, expected_event_id=done.event_id)
        steps = window.controller.stack.count()
        answer_modal(take_theirs)
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert (label(scored_store, image2).user, label(scored_store, image2).count) == ("otto", 5)
        assert window.controller.stack.count() == steps - 1

        # the poll picks up another instance's change and shows it on the open image
        shown = b.current_image_id
        other.record_label(shown, user="otto", status=L.UNCOUNTABLE, reason="blurred", expected_event_id=None)
        foreign = window.session.poll()
        assert {e.user for e in foreign} == {"otto"} and foreign[-1].image_id == shown  # own events filtered out
        assert window.session.poll() == []
        assert window.bin_view.banner.isVisible() and "otto" in window.bin_view.banner.text()
        row = b.model.row_of(shown)
        assert "uncountable" in b.model.data(b.model.index(row, 2))
    finally:
        other.close()


def test_grid_view_thumbnails_and_selection(qtbot, process_window: MainWindow) -> None:
    window = process_window
    b = window.browser
    assert window.loader.processes
    qtbot.keyClick(b.table, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert b.grid_mode and b.stack.currentWidget() is b.grid
    qtbot.waitUntil(lambda: len(window.loader.thumbs) >= 4, timeout=10000)
    cols = b.grid_model.columns
    assert cols >= 2
    qtbot.keyClick(b.grid, Qt.Key.Key_Right)
    assert b.current_row == 1 and window.bin_view.image_id == b.model.image_id(1)
    qtbot.keyClick(b.grid, Qt.Key.Key_Down)
    assert b.current_row == 1 + cols
    key(qtbot, window, "j")
    assert b.current_row == 2 + cols
    qtbot.waitUntil(lambda: window.bin_view.photo.has_image(), timeout=10000)
    qtbot.keyClick(b.grid, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert not b.grid_mode and b.table.currentIndex().row() == 2 + cols
    assert window.loader.processes  # decoded in worker processes, not threads


def test_photo_zoom_and_adjustments(qtbot, window: MainWindow) -> None:
    view = window.bin_view
    qtbot.waitUntil(view.photo.has_image, timeout=10000)
    qtbot.keyClick(window.browser.table, Qt.Key.Key_A)
    assert view.photo.zoom == pytest.approx(1.0)
    qtbot.keyClick(window.browser.table, Qt.Key.Key_Plus)
    assert view.photo.zoom == pytest.approx(1.25)
    qtbot.keyClick(window.browser.table, Qt.Key.Key_F)
    assert view.photo.zoom != pytest.approx(1.25)
    view.brightness.setValue(40)
    view.contrast.setValue(30)
    pixmap = view.photo.item.pixmap()
    assert not pixmap.isNull()
    qtbot.keyClick(window.browser.table, Qt.Key.Key_R)
    assert view.brightness.value() == 0 and view.contrast.value() == 0


def test_auditor_asked_once_and_write_errors_reported(qtbot, window: MainWindow, scored_store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    settings.put(settings.AUDITOR, "")
    asked: list[str] = []
    monkeypatch.setattr(window.prompts, "auditor", lambda default: asked.append(default) or "bea")
    key(qtbot, window, Qt.Key.Key_Return)
    key(qtbot, window, Qt.Key.Key_Return)
    assert asked and len(asked) == 1 and settings.auditor() == "bea"
    assert {e.user for e in scored_store.events_since(0)} == {"bea"}
    from binaudit.core.store import StoreError

    def full(*args, **kwargs):
        raise StoreError("The disk is full: the label was not saved.")

    current = window.browser.current_image_id
    monkeypatch.setattr(window.session.writer, "record_label", full)
    key(qtbot, window, "5")
    assert "disk is full" in window.statusBar().currentMessage()
    assert window.browser.current_image_id == current and label(scored_store, current).status == L.RECORDED


def test_import_from_the_welcome_window(qtbot, synth_dataset: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from binaudit.gui.browse.thumbnails import ImageLoader

    monkeypatch.setattr(ImageLoader, "use_processes", False)
    w = MainWindow(None, detect_device=False, poll_ms=0)
    qtbot.addWidget(w)
    w.show()
    assert w.session is None and not w.actions_.confirm.isEnabled()
    target = Workspace(tmp_path / "imported")
    job = w.import_folder(synth_dataset, target)
    qtbot.waitUntil(lambda: not job.running, timeout=60000)
    qtbot.waitUntil(lambda: w.session is not None and w.session.loaded, timeout=10000)
    assert w.browser.shown_count() == 120 and target.exists()
    assert settings.get(settings.LAST_WORKSPACE) == str(target.root)
    from binaudit.gui.shell.app import initial_workspace

    assert initial_workspace(None).root == target.root
    w.close()


def test_about_and_error_dialogs(qtbot, window: MainWindow) -> None:
    from binaudit.core.store import SQLITE_VERSION
    from binaudit.gui.common import errors

    texts: list[str] = []
    answer_modal(lambda box: (texts.append(box.text()), box.accept()))
    window.actions_.about.trigger()
    assert SQLITE_VERSION in texts[0] and "Qt" in texts[0]
    answer_modal(lambda box: (texts.append(box.text()), box.accept()))
    errors._hook(RuntimeError, RuntimeError("boom"), None)
    assert "boom" in texts[1] and "Traceback" not in texts[1]
    assert QApplication.activeModalWidget() is None


def test_drop_a_folder_to_import_it(qtbot, window: MainWindow, synth_dataset: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    monkeypatch.setattr(window.prompts, "import_target", lambda dataset, workspace: "add")
    before = window.session.workspace
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(synth_dataset))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    qtbot.waitUntil(lambda: window.import_job is not None and not window.import_job.running, timeout=60000)
    qtbot.waitUntil(lambda: "ids scanned" in window.statusBar().currentMessage(), timeout=5000)
    assert window.session.workspace == before  # added to the open workspace (re-import: nothing new)
    assert "120 ids scanned" in window.statusBar().currentMessage()


def test_read_only_workspace_refuses_labels_with_a_message(qtbot, scored_store: Store,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from binaudit.core.store import StoreError
    from binaudit.gui.common import session as session_module

    real_open = Store.open

    def open_like_a_read_only_folder(path, readonly=False):  # what a write-protected folder does
        if not readonly:
            raise StoreError("attempt to write a readonly database")
        return real_open(path, readonly=True)

    monkeypatch.setattr(session_module.Store, "open", staticmethod(open_like_a_read_only_folder))
    from binaudit.gui.browse.thumbnails import ImageLoader

    monkeypatch.setattr(ImageLoader, "use_processes", False)
    settings.put(settings.AUDITOR, AUDITOR)
    w = MainWindow(Workspace(scored_store.path.parent), detect_device=False, poll_ms=0)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.session is not None and w.session.loaded and w.bin_view.image_id != "", timeout=10000)
    assert w.session.readonly and "read-only" in w.windowTitle()
    key(qtbot, w, "3")
    assert "read-only" in w.statusBar().currentMessage()
    assert scored_store.event_count() == 0
    w.close()


def test_closing_with_a_write_in_flight_keeps_it(qtbot, window: MainWindow, scored_store: Store) -> None:
    image = window.browser.current_image_id
    assert window.set_count(9)  # handed to the writer thread
    window.close()              # the window goes away before the write has been reported back
    qtbot.wait(50)
    assert label(scored_store, image).count == 9  # stored, and no exception in any slot


def test_empty_queue_context_menu_and_closing_with_a_queue_on(qtbot, synth_store: Store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    w = open_window(qtbot, synth_store, monkeypatch)  # no models: the review queues are empty
    b = w.browser
    b.table.selectRow(0)
    b.contextMenuRequested.emit(b.table.viewport().mapToGlobal(b.table.viewport().rect().center()))
    menu = QApplication.activePopupWidget()
    assert menu is not None and [a.text() for a in menu.actions()][:2] == ["1 selected row(s)", "E&xclude Selected"]
    menu.close()
    b.show_subset("two bins", [b.model.image_id(0), b.model.image_id(1)])
    assert b.shown_count() == 2
    b.filter_bar.clear.click()  # Clear leaves the chart selection too
    assert b.shown_count() == synth_store.count_images() and not b.subset_bar.isVisible()
    w.actions_.audit_queue.trigger()
    assert b.shown_count() == 0 and "queue is empty" in w.statusBar().currentMessage()
    w.close_workspace()  # with the queue on: nothing may touch the closed store (pytest-qt fails on slot errors)
    assert w.session is None and not w.actions_.audit_queue.isChecked()
    w.close()
