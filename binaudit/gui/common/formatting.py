"""How the app writes values for people: times in the local time zone, status-bar text that leaves room."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

STATUS_PART_MAX_PX = 220  # each permanent status-bar part at most this wide, so messages keep the rest


def local_time(iso: str | None) -> str:
    """A stored UTC ISO timestamp as local "YYYY-MM-DD HH:MM" ('' for none; unparseable text as it is)."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def active_models_text(models: dict[str, dict | None]) -> str:
    """The status bar's active models: "kind: name #id" for each model kind, "kind: none" where none is active."""
    return "  ".join(f"{kind}: {m.get('name') or m.get('architecture')} #{m['id']}" if m else f"{kind}: none"
                     for kind, m in models.items())


def elide_for_status_bar(text: str, label: QLabel, max_px: int = STATUS_PART_MAX_PX) -> str:
    """`text` cut in the middle with an ellipsis to fit `max_px` in the label's font (the whole text is its tooltip)."""
    return label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, max_px)


def set_status_part(label: QLabel, text: str, max_px: int = STATUS_PART_MAX_PX) -> None:
    """A permanent status-bar part: its text elided to `max_px`, the whole text in the tooltip."""
    label.setText(elide_for_status_bar(text, label, max_px))
    label.setToolTip(text)
