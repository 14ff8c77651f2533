"""The labelling commands (confirm, a count, a typed count, uncountable, exclude) on the image on screen.

Each becomes one Decision for the LabelController, carrying the label event the auditor was looking
at and the predictions as shown (so a conflict is detected and the store records what anchored them).
"""

from __future__ import annotations

from typing import Optional, Protocol

from PySide6.QtCore import QObject, Signal

from binaudit.core import labels as L
from binaudit.gui.review.bin_view import BinView
from binaudit.gui.review.labeling import Decision, LabelController, LabelState, count_status


class LabelPrompts(Protocol):
    """The two questions a single decision may ask (shell.dialogs.Prompts answers them)."""

    def reason(self, image_id: str) -> Optional[str]: ...

    def count(self, image_id: str, initial: int) -> Optional[int]: ...


class Decisions(QObject):
    """Decisions about the bin the BinView shows, written by the workspace's LabelController.

    Each command returns whether a write started; message(text, ms) is for the status bar.
    """

    message = Signal(str, int)

    def __init__(self, bin_view: BinView, controller: LabelController, prompts: LabelPrompts,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.bin_view, self.controller, self.prompts = bin_view, controller, prompts

    def decide(self, status: str, count: Optional[int] = None, reason: Optional[str] = None) -> bool:
        """Record a decision about the image on screen (with the event id and predictions shown)."""
        view = self.bin_view
        if not view.image_id or view.label is None:
            self.message.emit("No image selected.", 4000)
            return False
        decision = Decision(view.image_id, LabelState(status, count, reason), view.label.event_id,
                            view.shown_predictions())
        return self.controller.decide(decision)

    def set_count(self, count: int) -> bool:
        return self.decide(count_status(count, self.bin_view.recorded), count)

    def confirm_recorded(self) -> bool:
        if not self.bin_view.image_id:
            return False
        if self.bin_view.recorded is None:
            self.message.emit("This bin has no recorded count to confirm; type the count instead.", 6000)
            return False
        return self.decide(L.CONFIRMED, self.bin_view.recorded)

    def enter_count(self) -> bool:
        if not self.bin_view.image_id:
            return False
        count = self.prompts.count(self.bin_view.image_id, self.bin_view.recorded or 0)
        return count is not None and self.set_count(count)

    def mark_uncountable(self) -> bool:
        if not self.bin_view.image_id:
            return False
        reason = self.prompts.reason(self.bin_view.image_id)
        return reason is not None and self.decide(L.UNCOUNTABLE, reason=reason)

    def exclude(self) -> bool:
        return self.decide(L.EXCLUDED)
