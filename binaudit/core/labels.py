"""Label vocabulary and value types: events are the source of truth, the effective label derives from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONFIRMED = "confirmed"
CORRECTED = "corrected"
UNCOUNTABLE = "uncountable"
EXCLUDED = "excluded"
RESET = "reset"  # back to the recorded count (how undoing a first decision is written)
RECORDED = "recorded"  # the effective status of an image nobody has labelled

EVENT_STATUSES = (CONFIRMED, CORRECTED, UNCOUNTABLE, EXCLUDED, RESET)
UNCOUNTABLE_REASONS = ("occluded", "taped over", "blurred", "empty frame", "other")
ACTIONS = ("label", "undo", "redo", "bulk", "conflict-keep")
# Statuses that keep a photo out of training.
NOT_TRAINABLE = (UNCOUNTABLE, EXCLUDED)


class StaleLabelError(Exception):
    """The image's label changed since the caller read it; nothing was written."""

    def __init__(self, image_id: str, expected_event_id: int | None, current: EffectiveLabel):
        self.image_id = image_id
        self.expected_event_id = expected_event_id
        self.current = current
        who = current.user or "someone"
        super().__init__(
            f"Image {image_id} was changed by {who} at {current.at} "
            f"(now {current.describe()}) after you opened it."
        )


@dataclass(frozen=True)
class LabelEvent:
    """One appended decision about one image."""

    id: int
    image_id: str
    user: str
    at: str
    action: str
    status: str
    count: int | None
    reason: str | None
    previous_event_id: int | None
    previous_status: str | None
    previous_count: int | None
    predictions: dict[str, Any] | None

    def describe(self) -> str:
        return describe_label(self.status, self.count, self.reason)


@dataclass(frozen=True)
class EffectiveLabel:
    """The label that counts now: the latest event, else the recorded count."""

    image_id: str
    count: int | None
    status: str
    event_id: int | None
    user: str | None = None
    at: str | None = None
    reason: str | None = None

    @property
    def trainable(self) -> bool:
        return self.count is not None and self.status not in NOT_TRAINABLE

    def describe(self) -> str:
        return describe_label(self.status, self.count, self.reason)


def describe_label(status: str, count: int | None, reason: str | None = None) -> str:
    """Short human text such as "corrected to 4" or "uncountable (taped over)"."""
    if status == UNCOUNTABLE:
        return f"uncountable ({reason})" if reason else "uncountable"
    if status == EXCLUDED:
        return "excluded from training"
    if status in (RECORDED, RESET):
        return f"recorded count {count}" if count is not None else "no count"
    return f"{status} {count}" if status == CONFIRMED else f"{status} to {count}"


def validate_event(status: str, count: int | None, reason: str | None) -> None:
    """Refuse an event that makes no sense before it reaches the database."""
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown label status {status!r}")
    if status in (CONFIRMED, CORRECTED) and (count is None or count < 0 or count > 10_000):
        raise ValueError(f"a {status} label needs a count between 0 and 10000, got {count!r}")
    if status == UNCOUNTABLE and not reason:
        raise ValueError("an uncountable label needs a reason")
