"""`binaudit gui` and `binaudit demo`: the desktop app; the only commands that import Qt, and only when they run."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from binaudit.core.workspace import Workspace


def no_display() -> bool:
    """True on a Linux machine with no screen to open a window on (and no Qt platform chosen)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch_gui(workspace: Optional[Workspace]) -> int:
    """Open the app on a workspace (or its welcome page); without a display, say how to open it instead."""
    if no_display():
        where = f" on {workspace.root}" if workspace else ""
        print(f"binaudit: no display to open the app{where}; on a desktop run `binaudit gui"
              f"{' ' + str(workspace.root) if workspace else ''}` (or set QT_QPA_PLATFORM=offscreen)",
              file=sys.stderr)
        return 0
    from binaudit.gui.shell.app import run_app

    return run_app(workspace)


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the demo workspace, then open it unless --no-gui."""
    from binaudit.demo import build_demo

    workspace = build_demo(n=args.n, fresh=args.fresh, train=not args.no_train)
    if args.no_gui:
        return 0
    return launch_gui(workspace)


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the app, on the named workspace if one is given."""
    return launch_gui(Workspace.at(args.workspace) if args.workspace else None)


def register(sub: argparse._SubParsersAction) -> None:
    """Add demo and gui to the `binaudit` parser."""
    p = sub.add_parser("demo", help="build the demo workspace (synthetic bins + trained models) and open it")
    p.add_argument("--n", type=int, default=600, help="number of synthetic bins")
    p.add_argument("--fresh", action="store_true", help="rebuild the demo workspace from scratch")
    p.add_argument("--no-gui", action="store_true", help="build it and stop")
    p.add_argument("--no-train", action="store_true", help="skip training the demo models")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("workspace", nargs="?")
    p.set_defaults(func=cmd_gui)
