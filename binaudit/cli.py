"""The `binaudit` command: one subcommand per job; Qt is imported only for `gui` and `demo`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from binaudit import __version__
from binaudit.core.progress import Cancelled, progress_bar
from binaudit.core.workspace import Workspace, default_workspace_for_dataset, demo_workspace


def _workspace(db: Optional[str]) -> Workspace:
    if db:
        return Workspace.at(db)
    return demo_workspace()


def _open_store(db: Optional[str], must_exist: bool = True):
    from binaudit.core.store import Store

    workspace = _workspace(db)
    if must_exist and not workspace.db_path.exists():
        raise SystemExit(f"binaudit: no workspace at {workspace.db_path}; run `binaudit import DIR --db PATH` "
                         "or `binaudit demo` first")
    return workspace, Store.open(workspace.db_path)


# ---------------------------------------------------------------------- commands
def cmd_import(args: argparse.Namespace) -> int:
    from binaudit.core.importer import import_dataset
    from binaudit.core.splits import parse_ratios
    from binaudit.core.store import Store

    dataset = Path(args.dir)
    if not dataset.is_dir():
        raise SystemExit(f"binaudit: {dataset} is not a folder")
    workspace = Workspace.at(args.db) if args.db else default_workspace_for_dataset(dataset)
    workspace.ensure()
    with Store.open(workspace.db_path) as store, progress_bar(f"import {dataset.name}", "files") as bar:
        summary = import_dataset(store, dataset, ratios=parse_ratios(args.split), progress=bar,
                                 workers=args.workers)
    print(f"{summary.describe()}\nworkspace: {workspace.db_path}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from binaudit.core.synth import generate_dataset

    with progress_bar("synthesise bins", "img") as bar:
        summary = generate_dataset(Path(args.out), args.n, seed=args.seed, mismatch_rate=args.mismatch_rate,
                                   max_count=args.max_count, image_scale=args.scale, progress=bar)
    print(f"wrote {summary.n} bins to {summary.out} ({summary.n_mismatched} with a wrong recorded count; "
          f"truth in {Path(summary.out) / 'truth.json'})")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from binaudit.core.download import DownloadError, download_abid

    try:
        with progress_bar("download ABID", "files") as bar:
            summary = download_abid(Path(args.dest), args.limit, endpoint_url=args.endpoint_url,
                                    start_after=args.start_after, progress=bar)
    except DownloadError as exc:
        raise SystemExit(f"binaudit: {exc}")
    print(f"downloaded {summary.downloaded} files, skipped {summary.skipped} already verified, "
          f"{len(summary.failed)} failed")
    for key, why in summary.failed[:20]:
        print(f"  {key}: {why}")
    return 0 if not summary.failed else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from binaudit.demo import build_demo

    workspace = build_demo(n=args.n, fresh=args.fresh, train=not args.no_train)
    if args.no_gui:
        return 0
    return _launch_gui(workspace)


def cmd_gui(args: argparse.Namespace) -> int:
    return _launch_gui(Workspace.at(args.workspace) if args.workspace else None)


def _no_display() -> bool:
    """True on a Linux machine with no screen to open a window on (and no Qt platform chosen)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _launch_gui(workspace: Optional[Workspace]) -> int:
    if _no_display():
        where = f" on {workspace.root}" if workspace else ""
        print(f"binaudit: no display to open the app{where}; on a desktop run `binaudit gui"
              f"{' ' + str(workspace.root) if workspace else ''}` (or set QT_QPA_PLATFORM=offscreen)",
              file=sys.stderr)
        return 0
    from binaudit.gui.shell.app import run_app

    return run_app(workspace)


def cmd_info(args: argparse.Namespace) -> int:
    from binaudit.core.store import SQLITE_VERSION

    workspace, store = _open_store(args.db)
    with store:
        print(f"workspace {workspace.db_path} (SQLite {SQLITE_VERSION})")
        for status, n in sorted(store.status_counts().items()):
            print(f"  {status:20s} {n}")
        print(f"  label events         {store.event_count()}")
        for model in store.list_models():
            flag = "*" if model["active"] else " "
            print(f" {flag}model {model['id']}: {model['kind']} {model['architecture']} {model['metrics']}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from binaudit.core import export

    _, store = _open_store(args.db)
    out = Path(args.out)
    try:
        with store, progress_bar(f"export {args.what}", "img") as bar:
            if args.what == "results":
                n = export.export_audit_results(store, out, fmt=args.format, reviewed_only=not args.all)
            elif args.what == "metadata":
                n = export.export_corrected_metadata(store, out, progress=bar)
            else:
                n = export.export_image_folders(store, out, link=args.link, progress=bar)
    except export.ExportError as exc:
        raise SystemExit(f"binaudit: {exc}")
    print(f"exported {n} images to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="binaudit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"binaudit {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("import", help="import an ABID-layout or flat dataset folder into a workspace")
    p.add_argument("dir")
    p.add_argument("--db", help="workspace folder or database file (default: one per dataset in the data dir)")
    p.add_argument("--split", default="70/20/10", help="train/val/test ratios (default 70/20/10)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes reading and checking files (default: one per core, at most 4)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("synth", help="write a synthetic dataset in ABID layout (the embedded default)")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mismatch-rate", type=float, default=0.1)
    p.add_argument("--max-count", type=int, default=8)
    p.add_argument("--scale", type=float, default=1.0, help="photo size relative to real ABID photos")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("download-abid", help="fetch a slice of the real dataset from its public bucket")
    p.add_argument("dest")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--start-after", default=None, help="resume the listing after this metadata key")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("demo", help="build the demo workspace (synthetic bins + trained models) and open it")
    p.add_argument("--n", type=int, default=600, help="number of synthetic bins")
    p.add_argument("--fresh", action="store_true", help="rebuild the demo workspace from scratch")
    p.add_argument("--no-gui", action="store_true", help="build it and stop")
    p.add_argument("--no-train", action="store_true", help="skip training the demo models")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("workspace", nargs="?")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("export", help="export audit results, corrected metadata or an image folder per count")
    p.add_argument("what", choices=["results", "metadata", "folders"])
    p.add_argument("out", help="file (results: .csv or .json) or folder (metadata, folders)")
    p.add_argument("--db")
    p.add_argument("--format", choices=["csv", "json"], help="results format (default: from the suffix)")
    p.add_argument("--all", action="store_true", help="results for every image, not only reviewed ones")
    p.add_argument("--link", choices=["hardlink", "symlink", "copy"], default="hardlink")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", help="summarise a workspace")
    p.add_argument("--db")
    p.set_defaults(func=cmd_info)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub: argparse._SubParsersAction) -> None:
    """Commands whose modules live outside core (ml, training, export) register themselves here."""
    from binaudit import commands

    commands.register(sub)


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        return _launch_gui(None)
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


if __name__ == "__main__":
    sys.exit(main())
