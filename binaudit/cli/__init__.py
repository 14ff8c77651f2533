"""The `binaudit` command: one subcommand per job; Qt is imported only for `gui` and `demo`.

    workspace_args.py  --db: which workspace a command works on, opening its store
    tables.py          plain-text tables
    data.py            import, synth, download-abid, export, info
    app.py             gui, demo (the only Qt users, imported when they run)
    scoring.py         score, queue, train (ml and training imported when they run)
    models.py          models [activate|export|import]
    audit.py           report, sample, update-queue (the audit loop)
"""

from __future__ import annotations

import argparse
import sys

from binaudit import __version__
from binaudit.cli import app, audit, data, models, scoring
from binaudit.core.progress import Cancelled


def build_parser() -> argparse.ArgumentParser:
    """The `binaudit` parser with every command module's subcommands."""
    parser = argparse.ArgumentParser(prog="binaudit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"binaudit {__version__}")
    sub = parser.add_subparsers(dest="command")
    for module in (data, app, scoring, models, audit):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one `binaudit` command; with no arguments, open the app."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        return app.launch_gui(None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except Cancelled:
        print("binaudit: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("binaudit: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as exc:
        print(f"binaudit: {exc}", file=sys.stderr)
        return 1


def _user_errors() -> tuple[type[BaseException], ...]:
    """Failures whose message says what to do, printed without a traceback (imported only when one occurs)."""
    from binaudit.core.importer import ImportWorkerDied
    from binaudit.core.store import StoreError

    return StoreError, ImportWorkerDied
