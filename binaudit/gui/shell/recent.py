"""File > Recent Workspaces: the workspaces opened lately, most recent first, kept in the app's settings.

A workspace folder that is gone (moved, deleted, an unplugged disk) is pruned when the list is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMenu, QWidget

from binaudit.core.workspace import Workspace
from binaudit.gui.common import settings

RECENT = "workspace/recent"
MAX_RECENT = 10


def _stored() -> list[str]:
    raw = settings.get(RECENT, "[]")
    try:
        paths = json.loads(raw) if isinstance(raw, str) else list(raw or [])
    except ValueError:
        return []
    return [str(p) for p in paths if isinstance(p, str) and p]


def recent_workspaces() -> list[Path]:
    """Workspace folders opened lately, most recent first; ones that no longer exist are dropped (and forgotten)."""
    stored = _stored()
    alive = [p for p in stored if Workspace.at(p).exists()]
    if alive != stored:
        settings.put(RECENT, json.dumps(alive))
    return [Path(p) for p in alive]


def add_recent(workspace: Workspace) -> list[Path]:
    """Put a workspace first in the list (once), keeping at most MAX_RECENT."""
    root = str(workspace.root)
    paths = [root, *(p for p in _stored() if p != root)][:MAX_RECENT]
    settings.put(RECENT, json.dumps(paths))
    return [Path(p) for p in paths]


class RecentMenu(QMenu):
    """The submenu: one entry per recent workspace (name, then the folder), rebuilt each time it opens."""

    def __init__(self, open_workspace: Callable[[Workspace], object], parent: QWidget | None = None):
        super().__init__("&Recent Workspaces", parent)
        self.open_workspace = open_workspace
        self.setToolTipsVisible(True)
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        paths = recent_workspaces()
        for n, path in enumerate(paths, start=1):
            prefix = f"&{n} " if n < 10 else ""
            action = self.addAction(f"{prefix}{path.name}  \u2014  {path.parent}")
            action.setToolTip(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_workspace(Workspace.at(p)))
        if not paths:
            self.addAction("(none yet)").setEnabled(False)
            return
        self.addSeparator()
        self.addAction("&Clear List").triggered.connect(self.clear_list)

    def clear_list(self) -> None:
        settings.put(RECENT, json.dumps([]))
        self.rebuild()
