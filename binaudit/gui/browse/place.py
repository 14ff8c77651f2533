"""The auditor's place in a list view across a model reset (reload, rescoring, a filter that keeps the bin).

Before the rows are recomputed the current bin's height on screen is remembered; after, the view is
scrolled so the same bin sits at the same height. When nothing moved (same rows) that is the same
scroll position; when rows above it came or went, the bin stays under the auditor's eyes.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QAbstractItemView


class PlaceKeeper:
    """remember(view) before a reset, restore(view, index) after it (see the module docstring)."""

    def __init__(self) -> None:
        self._top: int | None = None

    def remember(self, view: QAbstractItemView) -> None:
        """Note where the view's current item sits in its viewport (nothing when there is none)."""
        index = view.currentIndex()
        self._top = view.visualRect(index).top() if index.isValid() and view.isVisible() else None

    def forget(self) -> None:
        self._top = None

    def restore(self, view: QAbstractItemView, index: QModelIndex) -> None:
        """Scroll so `index` sits where the remembered item sat; nothing remembered: leave the view as it is."""
        top, self._top = self._top, None
        if top is None or not index.isValid():
            return
        view.doItemsLayout()  # the scroll range of the new rows, now rather than at the next paint
        shift = view.visualRect(index).top() - top
        if shift == 0:
            return
        bar = view.verticalScrollBar()
        if view.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerPixel:
            bar.setValue(bar.value() + shift)
        else:
            step = max(1, view.visualRect(index).height())
            bar.setValue(bar.value() + round(shift / step))
