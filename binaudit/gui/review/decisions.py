"""The labelling commands (confirm, a count, a typed count, uncountable, exclude) on the image on screen.

Each becomes one Decision for the LabelController, carrying the label event the auditor was looking
at and the predictions as shown (so a conflict is detected and the store records what anchored them).

Two-digit counts from the keyboard, without a dialog, and no slower for the single digits: 0 and 2-9
record at once, as they always did, because no count typed with them needs a second digit below 20
(20 or more is 1% of the real bins: N asks for it). Only 1 is ambiguous, 1 or 10-19 (7.7% and 8.6%
of the real bins): it waits a short pause for a second digit (QSettings `labels/two_digit_pause_ms`,
600 ms; 0 turns two-digit entry off). Meanwhile the bin stays on screen and the status bar says
so. A second digit records 1x, Enter or C records 1 at once, the pause ending records 1; moving to
another bin records 1 for the bin it was typed on; U, X or N replace it; Undo drops it. Either way
one decision per bin: one event, one undo step.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from binaudit.core import labels as L
from binaudit.gui.common import settings
from binaudit.gui.review.bin_view import BinView
from binaudit.gui.review.labeling import Decision, LabelController, LabelState, count_status

PAUSE_SETTING = "labels/two_digit_pause_ms"
DEFAULT_PAUSE_MS = 600
RETRY_MS = 50  # a typed count whose pause ended while the previous label was still being saved
# short: the status bar shares its width with the workspace, the counts and the models
BLIND_CONFIRM = "Blind review: no count to confirm. Type the count you see (0\u20139, 10\u201319, N)."


class LabelPrompts(Protocol):
    """The two questions a single decision may ask (shell.dialogs.Prompts answers them)."""

    def reason(self, image_id: str) -> str | None: ...

    def count(self, image_id: str, initial: int) -> int | None: ...


class Decisions(QObject):
    """Decisions about the bin the BinView shows, written by the workspace's LabelController.

    Each command returns whether a write started; message(text, ms) is for the status bar.
    """

    message = Signal(str, int)

    def __init__(self, bin_view: BinView, controller: LabelController, prompts: LabelPrompts,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.bin_view, self.controller, self.prompts = bin_view, controller, prompts
        self.pause_ms = pause_ms()
        self._typed: Decision | None = None  # a 1 waiting for its second digit
        self._typed_recorded: int | None = None
        self._pause = QTimer(self, singleShot=True)
        self._pause.timeout.connect(self.flush)

    def _decision(self, status: str, count: int | None = None, reason: str | None = None
                  ) -> Decision | None:
        """A decision about the image on screen (with the event id and predictions shown); None without one."""
        view = self.bin_view
        if not view.image_id or view.label is None:
            self.message.emit("No image selected.", 4000)
            return None
        return Decision(view.image_id, LabelState(status, count, reason), view.label.event_id,
                        view.shown_predictions())

    def decide(self, status: str, count: int | None = None, reason: str | None = None) -> bool:
        """Record a decision about the image on screen; it replaces a typed 1 still waiting."""
        self.cancel_typed()
        decision = self._decision(status, count, reason)
        return decision is not None and self.controller.decide(decision)

    # ------------------------------------------------------------------ digit keys (module docstring)
    def digit(self, n: int) -> bool:
        """A digit key: a count at once, a 1 that waits for a second digit, or that second digit."""
        if self._typed is not None:
            typed, recorded = self._typed, self._typed_recorded
            self.cancel_typed()
            count = 10 + n
            return self.controller.decide(replace(typed, after=LabelState(count_status(count, recorded), count)))
        if n != 1 or self.pause_ms <= 0:
            return self.set_count(n)
        decision = self._decision(count_status(1, self.bin_view.recorded), 1)
        if decision is None:
            return False
        self._typed, self._typed_recorded = decision, self.bin_view.recorded
        self._pause.start(self.pause_ms)
        self.message.emit("1\u2026  a second digit now makes 10\u201319; Enter records 1 at once.", self.pause_ms + 400)
        return True

    @property
    def typing(self) -> bool:
        """Whether a typed 1 waits for its second digit."""
        return self._typed is not None

    def flush(self) -> bool:
        """Record a typed 1 now (its pause ended, Enter, another bin); False when none waits."""
        if self._typed is None:
            return False
        if self.controller.busy:
            self._pause.start(RETRY_MS)
            return True
        typed = self._typed
        self.cancel_typed()
        return self.controller.decide(typed)

    def cancel_typed(self) -> bool:
        """Drop a typed 1 that waits (nothing was saved); True when there was one."""
        had = self._typed is not None
        self._typed = self._typed_recorded = None
        self._pause.stop()
        return had

    def set_count(self, count: int) -> bool:
        return self.decide(count_status(count, self.bin_view.recorded), count)

    def confirm_recorded(self) -> bool:
        """C or Enter: confirm the recorded count, or record a typed 1 at once.

        In blind review the recorded count of an undecided bin is hidden, and confirming what the auditor has
        not seen is no count: nothing is recorded and the status bar asks for the auditor's own count."""
        if self._typed is not None:
            return self.flush()
        if not self.bin_view.image_id:
            return False
        if self.bin_view.counts_hidden:
            self.message.emit(BLIND_CONFIRM, 8000)
            return False
        if self.bin_view.recorded is None:
            self.message.emit("This bin has no recorded count to confirm; type the count instead.", 6000)
            return False
        return self.decide(L.CONFIRMED, self.bin_view.recorded)

    def enter_count(self) -> bool:
        self.cancel_typed()
        if not self.bin_view.image_id:
            return False
        first_guess = 0 if self.bin_view.counts_hidden else self.bin_view.recorded or 0  # blind: not the record
        count = self.prompts.count(self.bin_view.image_id, first_guess)
        return count is not None and self.set_count(count)

    def mark_uncountable(self) -> bool:
        self.cancel_typed()
        if not self.bin_view.image_id:
            return False
        reason = self.prompts.reason(self.bin_view.image_id)
        return reason is not None and self.decide(L.UNCOUNTABLE, reason=reason)

    def exclude(self) -> bool:
        return self.decide(L.EXCLUDED)


def pause_ms() -> int:
    """How long a typed 1 waits for a second digit (ms, from the settings; 0: it does not wait)."""
    try:
        return max(0, int(settings.get(PAUSE_SETTING, DEFAULT_PAUSE_MS)))
    except (TypeError, ValueError):
        return DEFAULT_PAUSE_MS
