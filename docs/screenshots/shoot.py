"""Screenshots of the main window on a workspace, with the photo's measured share of the width.

Run under a display (Xvfb: `xvfb-run -s "-screen 0 1920x1200x24" python docs/screenshots/shoot.py ...`),
with a fresh BINAUDIT_HOME so no saved window state or splitter position is restored:

    python docs/screenshots/shoot.py WORKSPACE OUT.png --size 1280x800 --charts

It opens the window at that size (Charts dock open with --charts, blind review with --blind), waits for the
workspace and the first photo, saves `widget.grab()` of the window and prints one JSON line of widths:
window, central widget, browser, bin view, photo, the dock, and the photo's share of the window.
It uses only MainWindow's public parts, so the same script shoots an older checkout (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication


def _wait(app: QApplication, condition, seconds: float) -> bool:
    """Process events until condition() holds or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def _settle(app: QApplication, seconds: float) -> None:
    _wait(app, lambda: False, seconds)


def widths(window) -> dict[str, int | float]:
    """The measured widths of the window's parts and the photo's share of the window and the central widget."""
    photo = window.bin_view.photo
    out: dict[str, int | float] = {"window": window.width(), "central": window.centralWidget().width(),
                                   "browser": window.browser.width(), "bin_view": window.bin_view.width(),
                                   "photo": photo.width(), "photo_h": photo.height(),
                                   "dock": window.charts_dock.width() if window.charts_dock.isVisible() else 0}
    out["photo_share_window"] = round(photo.width() / window.width(), 3)
    out["photo_share_central"] = round(photo.width() / window.centralWidget().width(), 3)
    return out


def shoot(args: argparse.Namespace) -> dict[str, int | float]:
    from binaudit.core.workspace import Workspace
    from binaudit.gui.common import settings
    from binaudit.gui.shell.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings.put(settings.AUDITOR, "screenshots")
    settings.put(settings.BLIND, bool(args.blind))
    width, height = (int(v) for v in args.size.lower().split("x"))
    window = MainWindow(Workspace(Path(args.workspace)), detect_device=False)
    window.resize(width, height)
    window.move(0, 0)
    window.show()
    if not _wait(app, lambda: window.session is not None and window.session.loaded, 60):
        raise SystemExit("the workspace did not open in 60 s")
    if args.charts:
        window.charts_dock.show()
    if args.select:
        window.browser.select_image(args.select)
    _settle(app, args.settle)
    window.grab().save(args.out)
    figures = widths(window)
    window.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("out")
    parser.add_argument("--size", default="1600x1000", help="WIDTHxHEIGHT of the window")
    parser.add_argument("--charts", action="store_true", help="open the Charts dock")
    parser.add_argument("--blind", action="store_true", help="blind review on")
    parser.add_argument("--select", default="", help="show this bin id")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to let photos and charts load")
    args = parser.parse_args()
    print(json.dumps({"shot": args.out, **shoot(args)}))


if __name__ == "__main__":
    main()
