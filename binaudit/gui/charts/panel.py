"""The Charts dock: confusion matrix of an active model (cells list their bins in the browser),
per-class accuracy of the active models, and recorded / labelled / predicted count distributions.

Everything is computed from the browse index already in memory (binaudit.core.compare maths), so
the charts follow relabels and model switches without touching the database.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from binaudit.core import labels as L
from binaudit.core.browse import LABEL_STATUSES, SPLITS, BrowseIndex
from binaudit.core.compare import count_distribution, label_vs_predicted, per_class_accuracy
from binaudit.core.kinds import MODEL_TITLES
from binaudit.gui.charts.widgets import BLUE, GREEN, GREY, ORANGE, BarChart, ConfusionMatrixChart
from binaudit.gui.common.session import WorkspaceSession

REFRESH_MS = 300


def scope_mask(index: BrowseIndex, split: str | None, blind: bool) -> np.ndarray:
    """The bins charted: all or one split's; in blind review only the decided ones (the others' counts are hidden)."""
    keep = index.split == SPLITS.index(split) if split else np.ones(len(index), bool)
    return keep & index.reviewed_mask() if blind else keep


def usable_mask(index: BrowseIndex, split: str | None, blind: bool = False) -> np.ndarray:
    """Charted rows with a countable effective label (not uncountable/excluded)."""
    blocked = [LABEL_STATUSES.index(s) for s in (L.UNCOUNTABLE, L.EXCLUDED)]
    return scope_mask(index, split, blind) & (index.effective >= 0) & ~np.isin(index.label_status, blocked)


def cell_images(index: BrowseIndex, kind: str, true: int, pred: int, split: str | None,
                blind: bool = False) -> list[str]:
    """Image ids of one confusion cell: effective label `true` (top class = that or more), predicted `pred`."""
    m = index.models[kind]
    top = max(m.classes) if m.classes else 5
    keep = usable_mask(index, split, blind) & (m.predicted == pred) & (np.minimum(index.effective, top) == true)
    return [index.image_id(int(p)) for p in np.nonzero(keep)[0]]


class ChartsPanel(QWidget):
    """See the module docstring. subsetRequested(title, image ids) asks the browser to list a cell's bins."""

    subsetRequested = Signal(str, list)

    def __init__(self, session: WorkspaceSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.blind = False  # blind review: only the decided bins are charted (set_blind)
        self.model_combo = QComboBox(toolTip="Which active model's predictions the charts show")
        self.split_combo = QComboBox(toolTip="Which images: all, or one training split")
        self.split_combo.addItem("All images", None)
        for split in SPLITS:
            self.split_combo.addItem(f"{split} split", split)
        self.confusion = ConfusionMatrixChart("Label vs predicted")
        self.per_class = BarChart("Accuracy per labelled count")
        self.counts = BarChart("How many bins hold each count")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setObjectName("hint")
        self.tabs = QTabWidget()
        for chart, short, full in ((self.confusion, "Confusion", "Confusion matrix: label against prediction"),
                                   (self.per_class, "Per count", "Accuracy per labelled count"),
                                   (self.counts, "Counts", "How many bins hold each count")):
            self.tabs.setTabToolTip(self.tabs.addTab(chart, short), full)  # short: all three fit a narrow dock
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_combo)
        top.addWidget(self.split_combo)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.caption)
        self._timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.model_combo.activated.connect(lambda _: self.refresh())
        self.split_combo.activated.connect(lambda _: self.refresh())
        self.tabs.currentChanged.connect(lambda _: self._update_caption())
        self.confusion.cellClicked.connect(self._cell_clicked)
        session.indexLoaded.connect(self.refresh)
        session.rowsChanged.connect(lambda _ids: self._timer.start())
        self._stale = True

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if self._stale:
            self.refresh()

    # ------------------------------------------------------------------ data
    def kind(self) -> str | None:
        return self.model_combo.currentData()

    def split(self) -> str | None:
        return self.split_combo.currentData()

    def set_blind(self, blind: bool) -> None:
        """Blind review: chart only the bins the auditor has decided, so no total tells an undecided bin's counts."""
        self.blind = blind
        self.refresh()

    def refresh(self) -> None:
        """Recompute every chart from the index (cheap: a few numpy passes)."""
        if not self.session.loaded or self.session.closed:
            return
        if not self.isVisible():  # hidden dock: recompute when shown
            self._stale = True
            return
        self._stale = False
        index = self.session.index
        kinds = index.model_kinds()
        current = self.kind()
        self.model_combo.clear()
        for kind in kinds:
            self.model_combo.addItem(f"{MODEL_TITLES.get(kind, kind)} #{index.models[kind].model_id}", kind)
        if current in kinds:
            self.model_combo.setCurrentIndex(kinds.index(current))
        kind = self.kind()
        usable = usable_mask(index, self.split(), self.blind)
        if kind is None:
            self.confusion.set_matrix(np.zeros((0, 0)), [])
            self.per_class.set_data([], [])
            self.counts.set_data([], [])
            self.caption.setText("No active model: activate one (Training > Models) to see its charts.")
            return
        m = index.models[kind]
        classes = list(m.classes) or list(range(6))
        top = max(classes)
        cm = label_vs_predicted(index.effective, m.predicted, usable, classes)
        self.confusion.set_matrix(cm, classes, f"{top}+")
        self.confusion.title = f"Label vs {MODEL_TITLES.get(kind, kind)} #{m.model_id}"
        groups = []
        for other, color in zip(kinds, (BLUE, ORANGE)):
            om = index.models[other]
            ocm = label_vs_predicted(index.effective, om.predicted, usable, list(om.classes) or classes)
            groups.append((f"{MODEL_TITLES.get(other, other)} #{om.model_id}", color, per_class_accuracy(ocm)))
        self.per_class.set_data([f"{c}+" if c == top else str(c) for c in classes], groups, percent=True, y_max=1.0)
        scope = scope_mask(index, self.split(), self.blind)
        recorded, predicted = count_distribution(np.where(scope, index.recorded, -1),
                                                 np.where(scope, m.predicted, -1), top)
        labelled, _ = count_distribution(np.where(usable, index.effective, -1), np.zeros(0), top)
        self.counts.set_data([f"{c}+" if c == top else str(c) for c in classes],
                             [("recorded", GREY, recorded), ("label", GREEN, labelled),
                              (f"predicted by {MODEL_TITLES.get(kind, kind)}", BLUE, predicted)])
        self._matrix_total = int(cm.sum())
        self._update_caption()

    def _update_caption(self) -> None:
        if self.kind() is None:
            return
        texts = {
            0: f"Rows: the effective label (an auditor's count, else the recorded one; {self._matrix_total:,} "
               "countable bins). Columns: the model's prediction. Click a cell to list its bins in the browser.",
            1: "Share of the bins with each labelled count that the model predicts exactly.",
            2: "Recorded counts from the metadata, effective labels after review, and the model's predictions.",
        }
        blind = ("Blind review: only the bins you have decided are charted, so no total tells the counts of the "
                 "others. ") if self.blind else ""
        self.caption.setText(blind + texts.get(self.tabs.currentIndex(), ""))

    _matrix_total = 0

    def _cell_clicked(self, true: int, pred: int) -> None:
        kind = self.kind()
        if kind is None:
            return
        ids = cell_images(self.session.index, kind, true, pred, self.split(), self.blind)
        top = max(self.session.index.models[kind].classes or (5,))
        label = f"{true}+" if true == top else str(true)
        where = f" ({self.split()} split)" if self.split() else ""
        self.subsetRequested.emit(f"Label {label}, {MODEL_TITLES.get(kind, kind)} predicts {pred}{where}", ids)

