"""The bars above the browser's list: progress through a review queue, and the chart selection that limits it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QVBoxLayout, QWidget


class QueueBar(QWidget):
    """Progress through the active review queue."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("queueBar")
        self.title = QLabel()
        self.title.setObjectName("queueTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)  # the bar follows a narrow list instead of widening it
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)  # a thin line under the words, as wide as the list
        top = QHBoxLayout()
        top.addWidget(self.title, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.progress)

    def show_progress(self, title: str, reviewed: int, total: int, variances: int, uncountable: int,
                      blind: bool, corrected_noun: str = "variances found") -> None:
        self.title.setText(title)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(reviewed)
        pct = 100.0 * reviewed / total if total else 0.0
        if variances == 1:
            corrected_noun = corrected_noun.replace("variances", "variance")
        self.text.setText(f"{reviewed:,} of {total:,} reviewed ({pct:.0f}%)  \u00b7  {variances:,} {corrected_noun}"
                          f"  \u00b7  {uncountable:,} uncountable" + ("  \u00b7  blind" if blind else ""))


class SubsetBar(QWidget):
    """Says which chart selection limits the list (e.g. a confusion-matrix cell) and clears it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("queueBar")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.clear = QToolButton(text="Show all", toolTip="Stop limiting the list to the chart's selection")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.clear)
