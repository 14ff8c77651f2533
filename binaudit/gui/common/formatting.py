"""How the app writes values for people: times in the local time zone."""

from __future__ import annotations

from datetime import datetime


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
