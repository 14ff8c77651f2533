"""The splitter between the list and the bin view: the photo keeps its width, the list gives way first.

The auditor's work is the photo. The split is kept as shares of the window's width (the user's, from dragging
the handle, or the default). When the space shrinks (a dock opens beside the photo, the window gets smaller)
the list narrows first, down to LIST_MIN_W, and only then the bin view; when it grows again the list goes back
to its share and the photo takes the rest.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QSplitter, QWidget

LIST_MIN_W = 240  # the list's narrowest: the id, recorded and label columns, the filters on three rows


class PhotoFirstSplitter(QSplitter):
    """A horizontal splitter of two widgets, the list (first) and the bin view; see the module docstring."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._wanted: tuple[float, float] | None = None  # (list, bin view) widths as shares of the window's
        self._remember_when_laid_out = False
        self.splitterMoved.connect(lambda *_: self.remember())

    def want(self, list_share: float) -> None:
        """The split to keep: the list this share of the window's width, the bin view the rest."""
        self._wanted = (list_share, 1.0 - list_share)
        self.setSizes([int(1000 * list_share), int(1000 * (1.0 - list_share))])

    def restore(self, state: object) -> bool:
        """A split saved by saveState; kept as wanted once laid out (a splitter not yet shown has no real sizes)."""
        restored = self.restoreState(state)  # type: ignore[arg-type]
        self._remember_when_laid_out = restored
        return restored

    def remember(self) -> None:
        """The current split is the one to keep (after the user dragged the handle, or a restore)."""
        sizes, width = self.sizes(), self.window().width()
        if len(sizes) == 2 and min(sizes) > 0 and width > 0:
            self._wanted = (sizes[0] / width, sizes[1] / width)

    def list_width(self, total: int) -> int:
        """The list's width when the two share `total` pixels: its share, less what the bin view would miss."""
        if self._wanted is None:
            return self.sizes()[0]
        width = self.window().width()
        wanted_list, wanted_view = (round(share * width) for share in self._wanted)
        floor = max(LIST_MIN_W, self.widget(0).minimumSizeHint().width())
        return max(min(floor, total), min(wanted_list, total - wanted_view))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Apply the split to the space there is now (once shown: the window's width is known)."""
        sizes = self.sizes()
        if len(sizes) != 2 or not self.isVisible() or sum(sizes) <= 0:
            return
        if self._remember_when_laid_out:
            self._remember_when_laid_out = False
            self.remember()
            return
        total = sum(sizes)
        left = self.list_width(total)
        if left != sizes[0]:
            self.setSizes([left, total - left])
