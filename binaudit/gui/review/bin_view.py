"""One bin: the photo with zoom and adjustments, its counts and mismatch badge, predictions, SKUs, history.

In blind review (see common.blind) an undecided bin shows none of its counts; a decided one shows them
all and a line comparing the decision with the record and the models."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from binaudit.core import labels as L
from binaudit.core.kinds import MODEL_TITLES
from binaudit.core.labels import EffectiveLabel, LabelEvent
from binaudit.gui.browse.thumbnails import BROKEN, NO_PHOTO, ImageLoader
from binaudit.gui.common.blind import comparison, hides_counts
from binaudit.gui.common.formatting import local_time
from binaudit.gui.common.session import WorkspaceSession
from binaudit.gui.review.panels import HistoryPanel, ModelPrediction, SkuTable
from binaudit.gui.review.photo_view import PhotoView

PHOTO_HEIGHT_SHARE = 0.78  # of the bin view's height for the photo pane, the rest for SKUs and predictions


def _slider(tip: str) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(-100, 100)
    slider.setValue(0)
    slider.setFixedWidth(110)
    slider.setToolTip(tip)
    slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return slider


class BinView(QWidget):
    """Shows the image given to show_image(); what it shows is what a decision records."""

    def __init__(self, session: WorkspaceSession, loader: ImageLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self.image_id = ""
        self.row: dict[str, Any] | None = None
        self.label: EffectiveLabel | None = None
        self.models: dict[str, dict[str, Any] | None] = {}
        self.predictions: dict[str, dict[str, Any] | None] = {}
        self.blind = False
        self._details_height = 0  # the details pane's height to restore once laid out; 0 = the default split

        self.title = QLabel()
        self.title.setObjectName("binTitle")
        self.badge = QLabel()
        self.badge.setObjectName("badge")
        self.info = QLabel()
        self.info.setObjectName("binInfo")
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)  # wraps in a narrow bin view instead of widening it
        self.warning = QLabel()
        self.warning.setObjectName("warning")
        self.warning.setWordWrap(True)
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()

        self.photo = PhotoView(self)
        self.brightness = _slider("Brightness")
        self.contrast = _slider("Contrast")
        for slider in (self.brightness, self.contrast):
            slider.valueChanged.connect(self._adjust)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(44)
        self.photo.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))

        self.model_panels = {kind: ModelPrediction(title) for kind, title in MODEL_TITLES.items()}
        self.skus = SkuTable()
        self.history = HistoryPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.skus, "SKUs")
        self.tabs.addTab(self.history, "History")
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._build()

    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self._photo_pane())
        split.addWidget(self._detail_pane())
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([int(PHOTO_HEIGHT_SHARE * 1000), int((1 - PHOTO_HEIGHT_SHARE) * 1000)])  # the photo the most
        split.setChildrenCollapsible(False)
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(split)
        self.loader.photoReady.connect(self._photo_ready)
        self.show_image("")

    def _photo_tools(self) -> QToolBar:
        """Fit, 1:1, zoom, brightness and contrast: a toolbar whose last tools go behind its \u00bb button when
        the bin view is narrow (it never makes the bin view wider than the photo needs)."""
        bar = QToolBar()
        bar.setObjectName("photoTools")
        bar.setIconSize(QSize(16, 16))
        for text, tip, slot in (("Fit", "Fit the photo to the view (F)", self.photo.fit),
                                ("1:1", "Actual size (A)", self.photo.actual_size),
                                ("\u2212", "Zoom out (-)", lambda: self.photo.zoom_by(1 / 1.25)),
                                ("+", "Zoom in (+)", lambda: self.photo.zoom_by(1.25))):
            bar.addAction(text, slot).setToolTip(tip)
        bar.addWidget(self.zoom_label)
        bar.addSeparator()
        for name, slider in (("Brightness", self.brightness), ("Contrast", self.contrast)):
            bar.addWidget(QLabel(f" {name} "))
            bar.addWidget(slider)
        bar.addAction("Reset", self.reset_adjustments).setToolTip("Reset brightness and contrast (R)")
        for button in bar.findChildren(QToolButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the list
        return bar

    def _photo_pane(self) -> QWidget:
        """Title and badge, the bin's info lines, the photo tools, the photo."""
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.badge)
        head.addStretch(1)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(4)
        top_layout.addLayout(head)
        top_layout.addWidget(self.info)
        top_layout.addWidget(self.warning)
        top_layout.addWidget(self.banner)
        top_layout.addWidget(self._photo_tools())
        top_layout.addWidget(self.photo, 1)
        return top

    def _detail_pane(self) -> QSplitter:
        """The models' predictions (or the blind-review note) beside the SKU and history tabs."""
        predictions = QWidget()
        pred_layout = QVBoxLayout(predictions)
        pred_layout.setContentsMargins(0, 0, 0, 0)
        self.blind_note = QLabel("Blind review: the recorded count, the SKU quantities and the models' "
                                 "predictions stay hidden until you count, so they do not anchor you. "
                                 "Ctrl+B shows them.")
        self.blind_note.setObjectName("blindNote")
        self.blind_note.setWordWrap(True)
        self.blind_note.hide()
        pred_layout.addWidget(self.blind_note)
        for panel in self.model_panels.values():
            pred_layout.addWidget(panel)
        pred_layout.addStretch(1)
        self.predictions_box = predictions
        predictions.setMinimumWidth(220)
        predictions.setMaximumWidth(320)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(predictions)
        bottom.addWidget(self.tabs)
        bottom.setStretchFactor(0, 0)
        bottom.setStretchFactor(1, 1)
        bottom.setChildrenCollapsible(False)
        return bottom

    # ------------------------------------------------------------------ showing an image
    def keep_details_height(self, pixels: int) -> None:
        """The details pane this tall (the user's last choice), applied once the view has its real size."""
        self._details_height = pixels
        self._apply_details_height()

    def details_height(self) -> int:
        return self.splitter.sizes()[1]

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._apply_details_height()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._apply_details_height()

    def _apply_details_height(self) -> None:
        total = sum(self.splitter.sizes())
        wanted = self._details_height
        if wanted and self.isVisible() and total > wanted + 120:  # the photo keeps at least 120 px
            self.splitter.setSizes([total - wanted, wanted])
            self._details_height = 0

    def show_image(self, image_id: str) -> None:
        """Show an image ('' = none); reads its row, label, items, predictions and history from the store."""
        changed = image_id != self.image_id
        self.image_id = image_id
        if changed:
            self.banner.hide()
        if not image_id:
            self.row, self.label = None, None
            self.title.setText("No image selected")
            for w in (self.badge, self.info, self.warning):
                w.setText("")
                w.hide()
            self.photo.set_image(None, "")
            self.skus.show_items([])
            self.history.show_events([], None)
            for panel in self.model_panels.values():
                panel.show_prediction(None, None, None)
            return
        self.refresh()
        if changed:
            self._show_photo()

    def _show_photo(self) -> None:
        path = self.row.get("path") if self.row else None
        if not path:
            self.photo.set_image(None, "No photo for this bin" + (f":\n{self.row.get('reason')}" if self.row and self.row.get("reason") else ""))
            return
        image = self.loader.photo(self.image_id, path)
        if image is BROKEN:
            self.photo.set_image(None, "The photo cannot be decoded.")
        elif image is not None:
            self.photo.set_image(image)
        else:
            thumb = self.loader.thumbs.get_item(self.image_id)
            usable = thumb is not None and thumb is not BROKEN and thumb is not NO_PHOTO
            self.photo.set_image(thumb if usable else None, "Loading photo\u2026")

    def _photo_ready(self, image_id: str) -> None:
        if image_id == self.image_id:
            self._show_photo()

    def refresh(self) -> None:
        """Re-read the current image's label, predictions and history (after a relabel or a poll)."""
        if not self.image_id:
            return
        store = self.session.store
        self.row = store.get_image(self.image_id)
        if self.row is None:
            self.show_image("")
            return
        self.label = store.effective_label(self.image_id)
        self.models = self.session.active_models()
        self.predictions = {}
        for kind, model in self.models.items():
            rows = store.predictions(int(model["id"]), [self.image_id]) if model else []
            self.predictions[kind] = rows[0] if rows else None
        self._show_text()
        self.skus.show_items(store.items_for_image(self.image_id))
        self.history.show_events(store.label_history(self.image_id), self.recorded)
        self.tabs.setTabText(1, f"History ({self.history.rowCount()})")
        self.tabs.setTabText(0, f"SKUs ({self.skus.rowCount()})")
        for kind, panel in self.model_panels.items():
            panel.show_prediction(self.models.get(kind), self.predictions.get(kind), self.recorded)
        self._show_blind()

    @property
    def recorded(self) -> int | None:
        return None if self.row is None else self.row.get("recorded_count")

    @property
    def counts_hidden(self) -> bool:
        """Blind review of a bin nobody has decided about: none of its counts is on screen."""
        return hides_counts(self.blind, self.label.status if self.label is not None else None)

    def comparison(self, status: str, count: int | None, reason: str | None) -> str:
        """How a decision compares with this bin's record and the models ('you: 4 · record: 5 · models: ...')."""
        predicted = {MODEL_TITLES.get(kind, kind): pred["predicted"]
                     for kind, pred in self.predictions.items() if pred is not None}
        return comparison(status, count, reason, self.recorded, predicted)

    def _label_text(self, label: EffectiveLabel) -> str:
        if label.status in (L.RECORDED, L.RESET):
            return "not reviewed"
        if self.blind:
            return html.escape(self.comparison(label.status, label.count, label.reason))
        return (f"Label <b>{html.escape(label.describe())}</b> by {html.escape(label.user or '?')}, "
                f"{local_time(label.at)}")

    def _show_text(self) -> None:
        row, label = self.row or {}, self.label
        self.title.setText(f"Bin {html.escape(self.image_id)}")
        recorded, hidden = self.recorded, self.counts_hidden
        parts = ["Recorded <i>hidden until you count</i>" if hidden else
                 f"Recorded <b>{recorded if recorded is not None else 'none'}</b>"]
        if label is not None:
            parts.append(self._label_text(label))
        parts.append(f"{row.get('split', '')} split")
        if row.get("width"):
            parts.append(f"{row['width']}\u00d7{row['height']} px")
        self.info.setText("  \u00b7  ".join(parts))
        self.info.show()
        status = row.get("status")
        if status and status != "ok":
            reason = "details after your count" if hidden else row.get("reason") or ""
            self.warning.setText(f"\u26a0 {str(status).replace('_', ' ')}: {reason}")
            self.warning.show()
        else:
            self.warning.hide()
        self._show_badge()

    def _disagreeing(self) -> list[str]:
        recorded = self.recorded
        out = []
        if recorded is None:
            return out
        for kind, pred in self.predictions.items():
            if pred is None:
                continue
            classes = (self.models.get(kind) or {}).get("classes") or [recorded]
            target = min(max(recorded, min(classes)), max(classes))
            if pred["predicted"] != target:
                out.append(f"{MODEL_TITLES.get(kind, kind)} {pred['predicted']}")
        return out

    def _show_badge(self) -> None:
        if self.counts_hidden or not any(self.predictions.values()):
            self.badge.hide()
            return
        disagree = self._disagreeing()
        if disagree:
            self.badge.setText(f"MISMATCH  {', '.join(disagree)} vs recorded {self.recorded}")
            self.badge.setProperty("kind", "mismatch")
        else:
            self.badge.setText("Models agree with the record")
            self.badge.setProperty("kind", "agree")
        self.badge.style().unpolish(self.badge)
        self.badge.style().polish(self.badge)
        self.badge.show()

    # ------------------------------------------------------------------ blind, banner, adjustments
    def set_blind(self, blind: bool) -> None:
        self.blind = blind
        if self.image_id and self.row is not None:
            self._show_text()
        self._show_blind()

    def _show_blind(self) -> None:
        """Show or hide the counts (see counts_hidden): predictions, SKU quantities, labels in the history."""
        hidden = self.counts_hidden
        for kind, panel in self.model_panels.items():
            panel.setVisible(not hidden and self.models.get(kind) is not None)  # no active model: no empty panel
        self.blind_note.setVisible(hidden)
        self.skus.hide_quantities(hidden)
        self.history.hide_labels(hidden)
        self._show_badge()

    def notify_external(self, event: LabelEvent) -> None:
        """Another auditor changed the shown image: say so (the view has been refreshed)."""
        self.banner.setText(f"Changed by {html.escape(event.user)} at {local_time(event.at)}: "
                            f"now {html.escape(event.describe())}. Your next decision replaces this label.")
        self.banner.show()

    def _adjust(self) -> None:
        self.photo.set_adjustments(self.brightness.value(), self.contrast.value())

    def reset_adjustments(self) -> None:
        self.brightness.setValue(0)
        self.contrast.setValue(0)

    def fit_photo(self) -> None:
        self.photo.fit()

    def photo_actual_size(self) -> None:
        self.photo.actual_size()

    def zoom_photo(self, factor: float) -> None:
        self.photo.zoom_by(factor)

    def shown_predictions(self) -> dict[str, Any]:
        """The predictions as they are on screen, recorded with a decision."""
        out: dict[str, Any] = {"blind": self.counts_hidden}
        for kind, pred in self.predictions.items():
            model = self.models.get(kind)
            if pred is None or model is None:
                continue
            entry: dict[str, Any] = {"model_id": int(model["id"])}
            if not self.counts_hidden:
                entry.update(predicted=pred["predicted"], confidence=round(float(pred.get("confidence") or 0), 4),
                             probs=[round(float(p), 4) for p in pred["probs"]])
            out[kind] = entry
        return out
