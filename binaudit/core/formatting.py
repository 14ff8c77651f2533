"""How figures read everywhere (tables, summaries, reports): accuracy as a percentage, RMSE with three decimals."""

from __future__ import annotations

import math

MISSING = "\u2013"  # an en dash where there is no figure


def fmt_pct(value: float | None, missing: str = MISSING) -> str:
    """0.5567 -> "55.7%"; None or NaN -> missing."""
    return missing if value is None or math.isnan(value) else f"{100 * value:.1f}%"


def fmt_num(value: float | None, missing: str = MISSING) -> str:
    """0.9312 -> "0.931" (RMSE and other figures); None or NaN -> missing."""
    return missing if value is None or math.isnan(value) else f"{value:.3f}"
