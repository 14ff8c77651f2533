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
