"""The photo keeps the space: docks beside it and closed until asked for, remembered across restarts; label
dialogs beside the photo, not over it; a splitter handle wide enough to grab; SKU names with their full name."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QMessageBox, QToolBar

from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.browse.table_model import COLUMN_KEYS
from binaudit.gui.shell.main_window import MainWindow
from binaudit.gui.training.process import TrainingRequest
from tests.gui.support import answer_modal, wait_for


def _global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def open_charts(qtbot, window, width: int, height: int) -> None:
    """The window at this size with the Charts dock open, laid out."""
    window.resize(width, height)
    window.charts_dock.show()
    qtbot.waitUntil(lambda: window.charts_dock.isVisible())
    central = window.centralWidget()
    qtbot.waitUntil(lambda: central.width() + window.charts_dock.width() <= window.width())  # laid out
    qtbot.wait(50)


def test_the_charts_dock_opens_beside_the_photo_and_leaves_it_its_height(qtbot, window) -> None:
    open_charts(qtbot, window, 1280, 800)
    central, photo = window.centralWidget(), window.bin_view.photo
    assert window.width() == 1280  # no part's minimum width pushes the window wider than asked
    assert window.dockWidgetArea(window.charts_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    # the dock beside the photo takes width, not the photo's height (docked below, it left the photo 89 px)
    assert photo.height() >= 0.55 * central.height(), (photo.height(), central.height())
    # the photo keeps the most: the list gives way first (at 3f4c12a the photo had 624 of 1,280 px; the
    # filter row and the photo tools then made the window 1,506 px wide with the dock open)
    assert photo.width() >= 0.55 * window.width(), (photo.width(), window.width())
    assert photo.width() > window.browser.width() + window.charts_dock.width(), (photo.width(), window.browser.width())
    assert central.height() >= 0.8 * (window.height() - window.menuBar().height() - window.statusBar().height()
                                      - window.toolbar.height())
    assert window.charts_dock.width() <= 0.3 * window.width() + 40


def test_a_bigger_window_gives_the_photo_more(qtbot, window) -> None:
    open_charts(qtbot, window, 1280, 800)
    small = window.bin_view.photo.width() / window.width()
    open_charts(qtbot, window, 1600, 1000)
    photo = window.bin_view.photo
    assert photo.width() / window.width() > small >= 0.55, (photo.width(), small)
    assert photo.height() >= 0.55 * window.centralWidget().height()


def test_the_list_gives_way_first_and_gets_its_width_back(qtbot, window) -> None:
    window.resize(1400, 900)
    qtbot.wait(50)
    browser, photo = window.browser, window.bin_view.photo
    splitter = window.workbench.splitter
    splitter.setSizes([500, sum(splitter.sizes()) - 500])  # the user's split ...
    splitter.splitterMoved.emit(500, 1)
    qtbot.wait(20)
    central = window.centralWidget()
    list_w, photo_w, central_w = browser.width(), photo.width(), central.width()
    window.charts_dock.show()  # ... a dock opens: the list narrows, the photo keeps its width while it can
    qtbot.waitUntil(lambda: browser.width() < list_w)
    qtbot.wait(50)
    taken, given = central_w - central.width(), list_w - browser.width()
    assert browser.width() == 240 and given < taken  # the list gave way down to its narrowest ...
    assert photo_w - photo.width() == taken - given, (photo_w, photo.width(), taken, given)  # ... the photo the rest
    window.charts_dock.hide()  # closed again: the list is back at the user's width
    qtbot.waitUntil(lambda: browser.width() == list_w)
    assert abs(photo.width() - photo_w) <= 2


def test_filters_wrap_and_photo_tools_overflow_in_a_narrow_window(qtbot, window) -> None:
    bar, view = window.browser.filter_bar, window.bin_view
    assert bar.minimumSizeHint().width() <= 240 and view.minimumSizeHint().width() <= 420, (
        bar.minimumSizeHint().width(), view.minimumSizeHint().width())
    open_charts(qtbot, window, 1024, 700)
    assert window.width() == 1024
    for widget in (bar.search, bar.recorded, bar.predicted, bar.reviewed, bar.more, bar.mismatch, bar.clear):
        assert widget.isVisible() and widget.geometry().right() <= bar.width(), widget  # wrapped, none cut off
    assert bar.recorded.y() < bar.clear.y()  # on more than one row
    tools = view.findChild(QToolBar, "photoTools")
    assert tools.width() <= view.width()


def test_starting_a_run_does_not_open_the_runs_dock(qtbot, window) -> None:
    texts: list[str] = []
    answer_modal(lambda box: (texts.append(box.text()), box.accept()), timeout=30, kind=QMessageBox)
    proc = window.training.start(TrainingRequest("resnet", str(window.session.workspace.db_path),
                                                 ["--recipe", "tiny", "--stages", "bad"], "Retrain ResNet (tiny)"))
    assert "Started: Retrain ResNet" in window.statusBar().currentMessage()
    wait_for(qtbot, lambda: not proc.active and bool(texts), 30_000)
    assert not window.training.dock.isVisible()
    assert window.training.runs.row_of(proc) is not None  # the dock lists it for when the user opens it
    window.training.views[id(proc)].close()


def test_dock_state_is_restored_when_the_window_reopens(qtbot, window, scored_store: Store) -> None:
    window.resize(790, 590)  # a window that fits offscreen's 800 x 600 screen, so restoreGeometry keeps its size
    window.charts_dock.show()
    qtbot.waitUntil(lambda: window.charts_dock.isVisible())
    window.resizeDocks([window.charts_dock], [230], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    width = window.charts_dock.width()
    window.close()
    again = MainWindow(Workspace(scored_store.path.parent), detect_device=False, poll_ms=0)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.session is not None and again.session.loaded)
    try:
        assert again.charts_dock.isVisible() and not again.training.dock.isVisible()
        assert again.dockWidgetArea(again.charts_dock) == Qt.DockWidgetArea.RightDockWidgetArea
        assert abs(again.charts_dock.width() - width) <= 4, (again.charts_dock.width(), width)
    finally:
        again.close()


def test_the_reason_dialog_opens_beside_the_photo(qtbot, window) -> None:
    window.move(0, 0)
    window.resize(1280, 800)
    qtbot.wait(50)
    seen: list[tuple[QRect, QRect]] = []

    def look(dialog) -> None:
        seen.append((dialog.frameGeometry(), _global_rect(window.bin_view.photo)))
        dialog.reject()

    answer_modal(look)
    window.actions_.uncountable.trigger()
    assert seen, "the reason dialog did not open"
    dialog_rect, photo_rect = seen[0]
    assert not dialog_rect.intersects(photo_rect), (dialog_rect, photo_rect)
    assert window.screen().availableGeometry().contains(dialog_rect)


def test_the_splitter_handle_is_wide_enough_to_grab(window) -> None:
    splitter = window.workbench.splitter
    assert splitter.handleWidth() >= 6
    assert splitter.handle(1).width() >= 6


def test_sku_names_elide_with_the_full_name_in_a_tooltip(qtbot, window) -> None:
    table = window.bin_view.skus
    long_name = "A very long product name that cannot fit in the narrow SKU table column at all"
    table.show_items([{"asin": "B000TEST01", "name": long_name, "quantity": 2, "length": 1.0, "width": 2.0,
                       "height": 3.0, "length_unit": "inches", "weight": 1.5, "weight_unit": "pounds"}])
    cell = table.item(0, 1)
    assert cell.text() == long_name and cell.toolTip() == long_name
    assert table.textElideMode() == Qt.TextElideMode.ElideRight


def test_no_empty_model_columns_and_a_queue_bar_that_wraps(qtbot, window, part2_window) -> None:
    """A kind with no active model gets no columns (the trained workspace has an SVM only), so the Mismatch
    column stays in view; the audit queue's bar wraps in a narrow list instead of widening it."""
    def hidden(w, key: str) -> bool:
        return w.browser.table.isColumnHidden(COLUMN_KEYS.index(key))

    assert not any(hidden(window, k) for k in ("resnet", "resnet_conf", "svm", "mismatch"))  # both active
    w = part2_window
    assert w.session.index.model_kinds() == ["svm"]
    assert hidden(w, "resnet") and hidden(w, "resnet_conf") and not hidden(w, "svm") and not hidden(w, "mismatch")
    w.actions_.audit_queue.trigger()
    assert w.browser.queue_bar.isVisible() and "reviewed" in w.browser.queue_bar.text.text()
    assert w.browser.minimumSizeHint().width() <= 240, w.browser.minimumSizeHint().width()


def test_the_photo_height_the_user_chose_is_kept_when_the_window_reopens(qtbot, window, scored_store: Store) -> None:
    split = window.bin_view.splitter
    qtbot.waitUntil(lambda: min(split.sizes()) > 0)
    total = sum(split.sizes())
    split.setSizes([total - 300, 300])  # the user drags the details pane up to 300 px
    qtbot.wait(20)
    details = split.sizes()[1]
    window.close()
    again = MainWindow(Workspace(scored_store.path.parent), detect_device=False, poll_ms=0)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.session is not None and again.session.loaded)
    try:
        qtbot.waitUntil(lambda: min(again.bin_view.splitter.sizes()) > 0)
        assert abs(again.bin_view.splitter.sizes()[1] - details) <= 4, (again.bin_view.splitter.sizes(), details)
    finally:
        again.close()


def test_status_bar_parts_leave_messages_room_and_keep_the_whole_text_in_tooltips(qtbot, window) -> None:
    window.resize(1280, 800)
    qtbot.wait(50)
    parts = (window.sb_workspace, window.sb_counts, window.sb_models, window.sb_device)
    window.sb_models.setText("")
    window._update_models()
    assert "resnet" in window.sb_models.toolTip() and "svm" in window.sb_models.toolTip()
    used = sum(part.sizeHint().width() for part in parts)
    assert used <= 0.55 * window.width(), [(p.text(), p.sizeHint().width()) for p in parts]


def test_the_charts_tabs_fit_the_dock_at_1280(qtbot, window) -> None:
    open_charts(qtbot, window, 1280, 800)
    tabs = window.charts_dock.panel.tabs
    bar = tabs.tabBar()
    assert bar.tabRect(tabs.count() - 1).right() <= bar.width(), (bar.tabRect(tabs.count() - 1), bar.width())
    assert all(tabs.tabToolTip(i) for i in range(tabs.count()))
