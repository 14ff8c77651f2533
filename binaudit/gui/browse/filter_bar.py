"""The browser's filter row: widgets in, a core.browse.BrowseFilter out (text search debounced).

Enter in the search box searches at once and Esc leaves it; both give the keyboard back to the list
(`done`), so the next J or digit labels instead of typing into the search."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from binaudit.core import abid
from binaudit.core.browse import SPLITS, BrowseFilter
from binaudit.gui.common.flow_layout import FlowLayout

MAX_LISTED_COUNT = 9


class _TypingGuard(QObject):
    """While the search box has focus, plain keys type text instead of triggering label shortcuts."""

    escaped = Signal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            key_event: QKeyEvent = event  # type: ignore[assignment]
            mods = key_event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
            if mods == Qt.KeyboardModifier.NoModifier:
                event.accept()
        elif event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:  # type: ignore[attr-defined]
            self.escaped.emit()
            return True
        return False


def _combo(items: list[tuple[str, Any]], tip: str) -> QComboBox:
    combo = QComboBox()
    for text, value in items:
        combo.addItem(text, value)
    combo.setToolTip(tip)
    # may shrink (text elided) so the browser does not force the bin view narrow
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)  # "Predicted" in full, two to a row in the narrowest list; longer entries elide
    return combo


class FilterBar(QWidget):
    """Search box and filter combos; filterChanged carries the new BrowseFilter, done asks for focus back,
    cleared when the user pressed Clear."""

    filterChanged = Signal(object)
    done = Signal()
    cleared = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._hidden = BrowseFilter()
        self.blind = False  # blind review: no filter on a count the auditor has not seen (set_blind)
        self.search = QLineEdit(placeholderText="Bin id, name or ASIN (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(140)
        self._guard = _TypingGuard(self)
        self.search.installEventFilter(self._guard)
        self._guard.escaped.connect(self.done)
        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.search.returnPressed.connect(self._emit_now)

        self.status = _combo([("Status", None)] + [(s.replace("_", " "), s) for s in abid.STATUSES],
                             "Import status of the photo and metadata")
        counts = [(str(n), (n, n)) for n in range(MAX_LISTED_COUNT + 1)] + [(f"{MAX_LISTED_COUNT + 1}+", (10, None))]
        self.recorded = _combo([("Recorded", None)] + [(f"Recorded {t}", v) for t, v in counts],
                               "Recorded count (EXPECTED_QUANTITY)")
        self.predicted = _combo([("Predicted", None)] + [(f"Predicted {n}", n) for n in range(MAX_LISTED_COUNT + 1)],
                                "Count predicted by any active model")
        self.reviewed = _combo([("Reviewed", None), ("Unreviewed", False), ("Reviewed \u2713", True)],
                               "Whether someone has decided on the image")
        self.split = _combo([("Split", None)] + [(s, s) for s in SPLITS], "Training split")
        self.mismatch = QCheckBox("Mismatch only")
        self.mismatch.setToolTip("Only images whose predicted count differs from the recorded count")
        self.clear = QToolButton(text="Clear", toolTip="Clear all filters")
        self.clear.clicked.connect(self.reset)
        self.clear.clicked.connect(self.cleared)

        self.more = self._more_button()
        self.mismatch.toggled.connect(self._emit_now)
        for combo in (self.status, self.recorded, self.predicted, self.reviewed, self.split):
            combo.activated.connect(self._emit_now)
        row = FlowLayout(spacing=6)  # wraps onto more rows when the browser is narrow (the photo keeps the width)
        for widget in (self.recorded, self.predicted, self.reviewed, self.more, self.mismatch, self.clear):
            row.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addLayout(row)

    def _more_button(self) -> QToolButton:
        """The less-used filters (import status, training split) in a menu; the button counts the ones set."""
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(8, 6, 8, 6)
        form.addRow("Import status", self.status)
        form.addRow("Training split", self.split)
        holder = QWidgetAction(self)
        holder.setDefaultWidget(box)
        menu = QMenu(self)
        menu.addAction(holder)
        for combo in (self.status, self.split):
            combo.setMinimumContentsLength(12)
            combo.activated.connect(lambda _=0: menu.hide())
        button = QToolButton(text="More", toolTip="Filter by import status or training split")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        button.setMenu(menu)
        return button

    def _show_more(self) -> None:
        """'More (1)' while a filter in the More menu is set, so a hidden filter is never forgotten."""
        n = sum(combo.currentIndex() > 0 for combo in (self.status, self.split))
        self.more.setText(f"More ({n})" if n else "More")

    def _emit_now(self, *_: Any) -> None:
        """A combo picked, the box ticked or Enter in the search box: filter now and hand the keyboard back."""
        self._debounce.stop()
        self._emit()
        self.done.emit()

    def _emit(self) -> None:
        self._show_more()
        self.filterChanged.emit(self.current())

    def current(self) -> BrowseFilter:
        status = self.status.currentData()
        recorded = self.recorded.currentData()
        return replace(
            self._hidden,
            statuses=frozenset([status]) if status else frozenset(),
            recorded_min=recorded[0] if recorded else None,
            recorded_max=recorded[1] if recorded else None,
            predicted=self.predicted.currentData(),
            mismatch_only=self.mismatch.isChecked(),
            reviewed=self.reviewed.currentData(),
            split=self.split.currentData(),
            text=self.search.text().strip(),
        )

    def set_filter(self, f: BrowseFilter) -> None:
        """Show a filter (e.g. one set from a menu, a chart or a test) and emit it.

        Fields without a widget (label statuses, which model predicts) are kept until reset. In blind review
        the filters on counts (recorded, predicted, mismatch) are dropped: the list would show them.
        """
        if self.blind:
            f = without_counts(f)
        self._hidden = replace(BrowseFilter(), label_statuses=f.label_statuses, predicted_by=f.predicted_by,
                               scored_only=f.scored_only)
        widgets = (self.search, self.status, self.recorded, self.predicted, self.reviewed, self.split, self.mismatch)
        for w in widgets:
            w.blockSignals(True)
        try:
            self.search.setText(f.text)
            self._select(self.status, next(iter(f.statuses)) if f.statuses else None)
            rec = None if f.recorded_min is None and f.recorded_max is None else (f.recorded_min, f.recorded_max)
            self._select(self.recorded, rec)
            self._select(self.predicted, f.predicted)
            self._select(self.reviewed, f.reviewed)
            self._select(self.split, f.split)
            self.mismatch.setChecked(f.mismatch_only)
        finally:
            for w in widgets:
                w.blockSignals(False)
        self._debounce.stop()
        self._show_more()
        self.filterChanged.emit(f)

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        for i in range(combo.count()):
            if combo.itemData(i) == value:
                combo.setCurrentIndex(i)
                return
        combo.setCurrentIndex(0)

    def reset(self) -> None:
        self.set_filter(BrowseFilter())
        self.done.emit()

    def set_blind(self, blind: bool) -> None:
        """Blind review: the count filters are off and cannot be set (a list of "Recorded 3" bins tells each
        bin's recorded count); they come back with the counts."""
        self.blind = blind
        for widget in (self.recorded, self.predicted, self.mismatch):
            widget.setEnabled(not blind)
            tip = widget.property("seeingTip") or widget.toolTip()
            widget.setProperty("seeingTip", tip)
            widget.setToolTip(f"{tip} (off in blind review: it would show the counts)" if blind else tip)
        current = self.current()
        if blind and without_counts(current) != current:
            self.set_filter(current)  # without the count filters


def without_counts(f: BrowseFilter) -> BrowseFilter:
    """The filter less what would show counts in blind review: recorded count, predicted count, mismatch."""
    return replace(f, recorded_min=None, recorded_max=None, predicted=None, predicted_by="any",
                   mismatch_only=False)
