"""The bin photo: zoom (wheel, +/-), pan (drag), fit, 1:1, and brightness/contrast to see through tape."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM, MAX_ZOOM = 0.05, 16.0


def adjust(image: QImage, brightness: int, contrast: int) -> QImage:
    """Brightness (-100..100, an offset) and contrast (-100..100, a gain around mid-grey) through a lookup table."""
    if brightness == 0 and contrast == 0:
        return image
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = rgb.width(), rgb.height(), rgb.bytesPerLine()
    buffer = np.frombuffer(rgb.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    gain = (100.0 + contrast) / 100.0 if contrast <= 0 else 100.0 / max(1.0, 100.0 - contrast)
    levels = (np.arange(256, dtype=np.float32) - 128.0) * gain + 128.0 + brightness * 1.28
    lut = np.clip(levels, 0, 255).astype(np.uint8)
    out = np.ascontiguousarray(lut[buffer[:, : w * 3]])
    return QImage(out.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


class PhotoView(QGraphicsView):
    """Shows one QImage. fit() follows the window size until the user zooms; actual_size() is 1:1."""

    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QColor("#2b2b2b"))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._original: QImage | None = None
        self._brightness = 0
        self._contrast = 0
        self._fit = True
        self._message = ""

    # ------------------------------------------------------------------ content
    def set_image(self, image: QImage | None, message: str = "") -> None:
        """Show an image (None clears the view and shows message instead); keeps zoom mode."""
        self._original = image if image is not None and not image.isNull() else None
        self._message = message if self._original is None else ""
        self._render()
        if self._fit:
            self.fit()
        self.viewport().update()

    def has_image(self) -> bool:
        return self._original is not None

    def set_adjustments(self, brightness: int, contrast: int) -> None:
        self._brightness, self._contrast = int(brightness), int(contrast)
        self._render()

    def _render(self) -> None:
        if self._original is None:
            self.item.setPixmap(QPixmap())
            self.scene().setSceneRect(QRectF(0, 0, 1, 1))
            return
        image = adjust(self._original, self._brightness, self._contrast)
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._message:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor("#dddddd"))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self._message)
            painter.restore()

    # ------------------------------------------------------------------ zoom
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self._fit = True
        if self._original is not None:
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.zoom)

    def actual_size(self) -> None:
        self._fit = False
        self.resetTransform()
        self.zoomChanged.emit(self.zoom)

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        self._fit = False
        self.scale(target / self.zoom, target / self.zoom)
        self.zoomChanged.emit(self.zoom)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()
