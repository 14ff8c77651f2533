"""The --db option every workspace command shares: which workspace it names, and opening its store."""

from __future__ import annotations

import argparse

from binaudit.core.store import Store
from binaudit.core.workspace import Workspace, demo_workspace

DB_HELP = "workspace folder or database (default: the demo workspace)"


def add_db_option(parser: argparse.ArgumentParser, help: str = DB_HELP) -> None:
    """The usual --db option."""
    parser.add_argument("--db", help=help)


def add_db_option_after_action(parser: argparse.ArgumentParser) -> None:
    """--db after a sub-action too (`models activate 3 --db W`); SUPPRESS keeps a --db given before the action."""
    parser.add_argument("--db", default=argparse.SUPPRESS, help=DB_HELP)


def workspace_for(db: str | None) -> Workspace:
    """The workspace --db names, or the demo workspace without it."""
    return Workspace.at(db) if db else demo_workspace()


def open_store(db: str | None, must_exist: bool = True) -> tuple[Workspace, Store]:
    """The workspace --db names and its open store; a missing workspace stops the command with what to run."""
    workspace = workspace_for(db)
    if must_exist and not workspace.db_path.exists():
        raise SystemExit(f"binaudit: no workspace at {workspace.db_path}; run `binaudit import DIR --db PATH` "
                         "or `binaudit demo` first")
    return workspace, Store.open(workspace.db_path)


def db_hint(args: argparse.Namespace) -> str:
    """' --db W' to repeat in a suggested command, or '' for the demo workspace."""
    return f" --db {args.db}" if getattr(args, "db", None) else ""
