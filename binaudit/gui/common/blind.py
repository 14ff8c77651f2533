"""Blind review: which bins hide their counts, and the comparison shown once the auditor has counted.

In blind review every count of a bin (the recorded count, the SKU quantities, the record's consistency
warning, the models' predictions and mismatch) stays off screen until the auditor has decided about that
bin; from then on the bin shows all of them and how they compare with the decision.
"""

from __future__ import annotations

from typing import Any

from binaudit.core import labels as L

UNDECIDED = (L.RECORDED, L.RESET)


def hides_counts(blind: bool, label_status: str | None) -> bool:
    """Whether a bin's counts are hidden: blind review and nobody has decided about it yet."""
    return blind and (label_status is None or label_status in UNDECIDED)


def your_decision(status: str, count: int | None, reason: str | None) -> str:
    """The auditor's decision in a few words: a count, 'uncountable (blurred)', 'excluded'."""
    if status in (L.CONFIRMED, L.CORRECTED):
        return str(count)
    if status == L.UNCOUNTABLE:
        return f"uncountable ({reason})" if reason else "uncountable"
    if status == L.EXCLUDED:
        return "excluded"
    return "no decision"


def comparison(status: str, count: int | None, reason: str | None, recorded: int | None,
               predicted: dict[str, Any]) -> str:
    """'you: 4 · record: 5 · models: ResNet 4, SVM 3' (predicted: model title -> predicted count)."""
    models = ", ".join(f"{title} {n}" for title, n in predicted.items()) or "none scored"
    record = "none" if recorded is None else str(recorded)
    return f"you: {your_decision(status, count, reason)}  \u00b7  record: {record}  \u00b7  models: {models}"
