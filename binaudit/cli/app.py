"""`binaudit gui` and `binaudit demo`: the desktop app; the only commands that import Qt, and only when they run."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable

from binaudit.cli.display_check import check_xcb
from binaudit.core.workspace import Workspace


def no_display() -> bool:
    """True on a Linux machine with no screen to open a window on (and no Qt platform chosen)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cannot_open_window(workspace: Workspace | None) -> str | None:
    """Why the window cannot open here (no display; a system library Qt's xcb plugin needs), else None."""
    if no_display():
        where = f" {shlex.quote(str(workspace.root))}" if workspace else ""
        return (f"binaudit: no display to open the app on; on a desktop run `binaudit gui{where}` "
                "(or set QT_QPA_PLATFORM=offscreen)")
    return check_xcb()


def launch_gui(workspace: Workspace | None, background: Callable[[], bool] | None = None) -> int:
    """Open the app on a workspace (or its welcome page); exit status 1, saying why, when no window can open.

    background() runs in a worker once the window is up (True: it changed the workspace, which reloads).
    """
    why = cannot_open_window(workspace)
    if why:
        print(why, file=sys.stderr)
        return 1
    from binaudit.gui.shell.app import run_app

    return run_app(workspace, background=background)


def demo_ready(workspace: Workspace) -> bool:
    """An earlier `binaudit demo` left a workspace with its dataset: the window can open on it at once."""
    return workspace.exists() and (workspace.dataset_dir / "truth.json").exists()


def _demo_state(workspace: Workspace) -> tuple:
    """What a refresh of the demo may change: images by status and the models with their active flags."""
    from binaudit.core.store import Store

    with Store.open(workspace.db_path) as store:  # writable: an older workspace is brought up to date first
        models = tuple((int(m["id"]), bool(m["active"])) for m in store.list_models())
        return tuple(sorted(store.status_counts().items())), models


def refresh_demo(n: int, train: bool) -> bool:
    """Bring an existing demo up to date (rescan, models); True when that changed it (the window reloads)."""
    from binaudit.core.workspace import demo_workspace
    from binaudit.demo import build_demo

    before = _demo_state(demo_workspace())
    workspace = build_demo(n=n, train=train)
    return _demo_state(workspace) != before


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the demo workspace, then open it unless --no-gui (an existing one opens first and is checked
    in the background); without a window to open, exit 1 after building it."""
    from binaudit.core.workspace import demo_workspace
    from binaudit.demo import build_demo

    existing = demo_workspace()
    if not args.no_gui and not args.fresh and demo_ready(existing) and not cannot_open_window(existing):
        return launch_gui(existing, background=lambda: refresh_demo(args.n, not args.no_train))
    workspace = build_demo(n=args.n, fresh=args.fresh, train=not args.no_train)
    if args.no_gui:
        return 0
    why = cannot_open_window(workspace)
    if why:
        print(f"{why}\nbinaudit: the demo workspace is built ({workspace.root}) but not opened; "
              "`binaudit demo --no-gui` only builds it", file=sys.stderr)
        return 1
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
