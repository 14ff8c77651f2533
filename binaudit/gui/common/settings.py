"""QSettings kept as an INI file in binaudit's data directory (BINAUDIT_HOME in tests)."""

from __future__ import annotations

import getpass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from binaudit.core.workspace import data_home

LAST_WORKSPACE = "workspace/last"
AUDITOR = "labels/auditor"
BLIND = "audit/blind"
GEOMETRY = "window/geometry"
STATE = "window/state"
SPLITTER = "window/splitter"
DETAILS_HEIGHT = "window/details_height"  # px of the predictions and SKU/history tabs below the photo
VIEW_MODE = "browser/view"
DEVICE = "models/device"
QUEUE_UPDATE_EVERY = "audit/queue_update_every"  # decisions between automatic queue updates; 0 = only when asked
QUEUE_FINETUNE = "audit/queue_update_finetune"   # also fine-tune the active models after an update
DEFAULT_QUEUE_UPDATE_EVERY = 25


def settings() -> QSettings:
    path = data_home() / "settings.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def get(key: str, default: Any = None) -> Any:
    return settings().value(key, default)


def get_bool(key: str, default: bool = False) -> bool:
    value = settings().value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def get_int(key: str, default: int = 0) -> int:
    """An integer setting; a value that is not a whole number gives the default."""
    try:
        return int(settings().value(key, default))
    except (TypeError, ValueError):
        return default


def put(key: str, value: Any) -> None:
    s = settings()
    s.setValue(key, value)
    s.sync()


def restore_window(window: QMainWindow) -> bool:
    """Size, position, docks and toolbar as the user left them (1480 x 900 the first time); True if restored."""
    geometry, state = get(GEOMETRY), get(STATE)
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    else:
        window.resize(1480, 900)
    return isinstance(state, QByteArray) and not state.isEmpty() and window.restoreState(state)


def save_window(window: QMainWindow) -> None:
    put(GEOMETRY, window.saveGeometry())
    put(STATE, window.saveState())


def auditor() -> str | None:
    name = get(AUDITOR)
    return str(name).strip() if name and str(name).strip() else None


def default_auditor_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return ""
