"""GUI under stress: a seeded random walk of 2,000 UI actions (keys, clicks on headers, filter changes,
undo/redo, queue switches) on the real window: no exception in any slot, no leaked threads or timers,
and at the end the store agrees with the undo history. BINAUDIT_GUI_WALK sets the length (soak runs)."""

from __future__ import annotations

import os
import random
import threading

from PySide6.QtCore import Qt, QThreadPool, QTimer

from binaudit.core import labels as L
from binaudit.core.browse import BrowseFilter
from binaudit.core.store import Store
from binaudit.gui.review.label_dialogs import CountDialog, ReasonDialog
from binaudit.gui.review.labeling import LabelState
from binaudit.gui.shell.main_window import MainWindow
from tests.gui.support import AUDITOR, answer_modal, wait_idle

WALK_LENGTH = int(os.environ.get("BINAUDIT_GUI_WALK", "2000"))
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def test_random_walk(qtbot, window: MainWindow, scored_store: Store) -> None:
    rng = random.Random(20240)
    b = window.browser
    word = scored_store.query("SELECT name FROM items WHERE name != '' LIMIT 1")[0]["name"].split()[0]

    def press(k, mods=Qt.KeyboardModifier.NoModifier) -> None:
        qtbot.waitUntil(lambda: window.isActiveWindow())
        qtbot.keyClick(b.grid if b.grid_mode else b.table, k, mods)
        wait_idle(qtbot, window)

    def uncountable() -> None:
        answer_modal(lambda d: qtbot.keyClick(d.list, str(rng.randint(1, 5))) if rng.random() < 0.8 else d.reject(),
                     kind=ReasonDialog)
        press("u")

    def enter_count() -> None:
        def answer(d) -> None:
            d.spin.setValue(rng.randint(0, 30))
            d.accept()
        answer_modal(answer, kind=CountDialog)
        press("n")

    filters = [BrowseFilter(), BrowseFilter(mismatch_only=True), BrowseFilter(recorded_min=2, recorded_max=2),
               BrowseFilter(reviewed=False), BrowseFilter(split="train"), BrowseFilter(text=word),
               BrowseFilter(statuses=frozenset({"inconsistent"})), BrowseFilter(predicted=3)]
    actions = [
        (30, lambda: press(str(rng.randint(0, 9)))),
        (10, lambda: press(Qt.Key.Key_Return)),
        (5, lambda: press("x")),
        (4, uncountable),
        (3, enter_count),
        (12, lambda: press(Qt.Key.Key_Z, CTRL)),
        (8, lambda: press(Qt.Key.Key_Z, CTRL | SHIFT)),
        (6, lambda: press("j")),
        (4, lambda: press("k")),
        (4, lambda: press(Qt.Key.Key_Down)),
        (2, lambda: press(Qt.Key.Key_G, CTRL)),
        (2, lambda: press(Qt.Key.Key_A, CTRL | SHIFT)),
        (2, lambda: press(Qt.Key.Key_B, CTRL)),
        (2, lambda: press(Qt.Key.Key_L, CTRL | SHIFT)),
        (3, lambda: b.set_filter(rng.choice(filters))),
        (2, lambda: b.table.horizontalHeader().setSortIndicator(rng.randrange(13), rng.choice(
            [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder]))),
        (2, lambda: press(rng.choice([Qt.Key.Key_Plus, Qt.Key.Key_Minus, Qt.Key.Key_F, Qt.Key.Key_A, Qt.Key.Key_R]))),
    ]
    weights = [w for w, _ in actions]

    def active_timers() -> int:
        return sum(t.isActive() for t in window.findChildren(QTimer))

    wait_idle(qtbot, window)
    threads_before, timers_before = threading.active_count(), active_timers()
    for _ in range(WALK_LENGTH):
        rng.choices(actions, weights)[0][1]()
        if b.current_image_id:
            assert window.bin_view.image_id == b.current_image_id
    qtbot.waitUntil(lambda: b.model.view is not None)
    wait_idle(qtbot, window)

    # the store agrees with the undo history: each image's label is the after-state of its last applied
    # step, or the before-state of its first step when every step on it was undone
    stack = window.controller.stack
    expected: dict[str, LabelState] = {}
    for i in range(stack.count()):
        cmd = stack.command(i)
        if i < stack.index():
            expected[cmd.image_id] = cmd.after
        elif cmd.image_id not in expected:
            expected[cmd.image_id] = cmd.before
    assert expected, "the walk made no decisions"
    for image_id, state in expected.items():
        label = scored_store.effective_label(image_id)
        if state.status in (L.RECORDED, L.RESET):
            assert label.status in (L.RECORDED, L.RESET), image_id
        else:
            assert (label.status, label.count, label.reason) == (state.status, state.count, state.reason), image_id
    assert all(e.user == AUDITOR for e in scored_store.events_since(0))
    assert window.loader.pending >= 0 and not window.controller.busy
    QThreadPool.globalInstance().waitForDone(10_000)
    window.statusBar().clearMessage()  # stops the status bar's own message timeout
    qtbot.wait(500)  # debounce timers (e.g. the charts' 300 ms redraw) fire and stop
    assert threading.active_count() <= threads_before, "the walk leaked Python threads"
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    running = [(t.parent().__class__.__name__, t.objectName(), t.interval(), t.isSingleShot())
               for t in window.findChildren(QTimer) if t.isActive()]
    assert active_timers() <= timers_before, f"the walk left timers running: {running}"
