"""`binaudit import`, `synth`, `download-abid`, `export` and `info`: datasets into and out of a workspace (no torch)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from binaudit.cli.next_steps import ws_arg
from binaudit.cli.tables import format_table
from binaudit.cli.workspace_args import add_db_option, open_store
from binaudit.core.export import RESULT_FIELDS
from binaudit.core.progress import progress_bar
from binaudit.core.workspace import Workspace, default_workspace_for_dataset


def _import_target(args: argparse.Namespace, dataset: Path) -> Workspace:
    """--db's workspace, --name's readable one (claimed for this dataset), else one of its own (hashed name)."""
    from binaudit.core.workspace_names import WorkspaceNameError, claim_name, named_workspace

    if args.db and args.name:
        raise SystemExit("binaudit: give --db or --name, not both")
    if not args.name:
        return Workspace.at(args.db) if args.db else default_workspace_for_dataset(dataset)
    try:
        workspace = named_workspace(args.name)
        claim_name(workspace, dataset)
    except WorkspaceNameError as exc:
        raise SystemExit(f"binaudit: {exc}") from None
    return workspace


def cmd_import(args: argparse.Namespace) -> int:
    """Import a dataset folder into its workspace (--db's, --name's, else one of its own) and say where it went."""
    from binaudit.core.importer import import_dataset
    from binaudit.core.splits import parse_ratios
    from binaudit.core.store import Store

    dataset = Path(args.dir)
    if not dataset.is_dir():
        raise SystemExit(f"binaudit: {dataset} is not a folder")
    workspace = _import_target(args, dataset)
    workspace.ensure()
    with Store.open(workspace.db_path) as store, progress_bar(f"import {dataset.name}", "files") as bar:
        summary = import_dataset(store, dataset, ratios=parse_ratios(args.split), progress=bar,
                                 workers=args.workers)
        has_models = bool(store.list_models())
    ws = ws_arg(workspace)
    print(f"{summary.describe()}\nworkspace: {workspace.root}\n  open it:  binaudit gui {ws}")
    if not has_models:
        print(f"  no model yet: python -m training svm --db {ws}   or   binaudit models import FILE --db {ws}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    """Write a synthetic dataset in ABID layout."""
    from binaudit.core.synth import INCONSISTENT_SHARE, generate_dataset

    share = INCONSISTENT_SHARE if args.inconsistent_share is None else args.inconsistent_share
    try:
        with progress_bar("synthesise bins", "img") as bar:
            summary = generate_dataset(Path(args.out), args.n, seed=args.seed, mismatch_rate=args.mismatch_rate,
                                       inconsistent_share=share, max_count=args.max_count,
                                       image_scale=args.scale, progress=bar)
    except ValueError as exc:
        raise SystemExit(f"binaudit: {exc}") from None
    print(f"wrote {summary.n} bins to {summary.out} ({summary.n_mismatched} with a wrong recorded count, "
          f"{summary.n_inconsistent} of them contradicting their own SKU list; "
          f"truth in {Path(summary.out) / 'truth.json'})")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Fetch a slice of the real dataset; exit status 1 when some files failed."""
    from binaudit.core.download import DownloadError, download_abid

    try:
        with progress_bar("download ABID", "files") as bar:
            summary = download_abid(Path(args.dest), args.limit, endpoint_url=args.endpoint_url,
                                    start_after=args.start_after, progress=bar)
    except DownloadError as exc:
        raise SystemExit(f"binaudit: {exc}") from None
    print(f"downloaded {summary.downloaded} files, skipped {summary.skipped} already verified, "
          f"{len(summary.failed)} failed")
    for key, why in summary.failed[:20]:
        print(f"  {key}: {why}")
    return 0 if not summary.failed else 1


def _export_results(store: Any, out: Path, args: argparse.Namespace) -> str:
    """The results export with --all / --reviewed-only and --columns; what it wrote, in words."""
    from binaudit.core import export

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    n = export.export_audit_results(store, out, fmt=args.format, reviewed_only=not args.all, columns=columns)
    fields = export.result_columns(columns)
    which = "every image" if args.all else "reviewed images only"
    return f"exported {n:,} rows ({which}; {len(fields)} columns: {', '.join(fields)}) to {out}"


def cmd_export(args: argparse.Namespace) -> int:
    """Export audit results, corrected metadata or one image folder per count."""
    from binaudit.core import export

    if args.what != "results" and (args.columns or args.all):
        raise SystemExit("binaudit: --all, --reviewed-only and --columns are options of `export results`")
    _, store = open_store(args.db)
    out = Path(args.out)
    try:
        with store, progress_bar(f"export {args.what}", "img") as bar:
            if args.what == "results":
                said = _export_results(store, out, args)
            elif args.what == "metadata":
                said = f"exported {export.export_corrected_metadata(store, out, progress=bar):,} corrected records to {out}"
            else:
                n = export.export_image_folders(store, out, link=args.link, progress=bar)
                said = f"exported {n:,} images to {out}"
    except export.ExportError as exc:
        raise SystemExit(f"binaudit: {exc}") from None
    print(said)
    return 0


def images_table(status_counts: dict[str, int], label_events: int) -> str:
    """Images per import status, their total and the number of label events, as a table."""
    rows = [[status.replace("_", " "), str(n)] for status, n in sorted(status_counts.items())]
    rows += [["all images", str(sum(status_counts.values()))], ["label events", str(label_events)]]
    return format_table((("images", "<"), ("count", ">")), rows)


def cmd_info(args: argparse.Namespace) -> int:
    """Summarise a workspace: images by status, label events and the registered models."""
    from binaudit.cli.models import models_table
    from binaudit.core.store import SQLITE_VERSION

    workspace, store = open_store(args.db)
    with store:
        images = images_table(store.status_counts(), store.event_count())
        models = models_table(store)
    print(f"workspace {workspace.db_path} (SQLite {SQLITE_VERSION})\n")
    print(images)
    print("\nmodels (accuracy and RMSE: on the split named under on; scored: images with stored predictions)")
    print(models or "none yet: `binaudit train ...` or `binaudit models import FILE`")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add import, synth, download-abid, export and info to the `binaudit` parser."""
    p = sub.add_parser("import", help="import an ABID-layout or flat dataset folder into a workspace")
    p.add_argument("dir")
    add_db_option(p, help="workspace folder or database file (default: one per dataset in the data dir)")
    p.add_argument("--name", help="a readable workspace name: DATA_DIR/workspaces/NAME instead of a hashed folder "
                                  "(refused when it already holds another dataset)")
    p.add_argument("--split", default="70/20/10", help="train/val/test ratios (default 70/20/10)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes reading and checking files (default: one per core, at most 4)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("synth", help="write a synthetic dataset in ABID layout (the embedded default)")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mismatch-rate", type=float, default=0.1)
    p.add_argument("--inconsistent-share", type=float, default=None,
                   help="of the wrong records, the share whose SKU quantities contradict EXPECTED_QUANTITY "
                        "(the rest are self-consistent, as a misplaced item is; default: the generator's 10%%)")
    p.add_argument("--max-count", type=int, default=8)
    p.add_argument("--scale", type=float, default=1.0, help="photo size relative to real ABID photos")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("download-abid", help="fetch a slice of the real dataset from its public bucket")
    p.add_argument("dest")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--start-after", default=None, help="resume the listing after this metadata key")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("export", help="export audit results, corrected metadata or an image folder per count")
    p.add_argument("what", choices=["results", "metadata", "folders"])
    p.add_argument("out", help="file (results: .csv or .json) or folder (metadata, folders)")
    add_db_option(p)
    p.add_argument("--format", choices=["csv", "json"], help="results format (default: from the suffix)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--reviewed-only", action="store_true",
                       help="results for the reviewed images only (the default; an undone decision is not a review)")
    which.add_argument("--all", action="store_true", help="results for every image, not only reviewed ones")
    p.add_argument("--columns", help="results: comma-separated columns to write (default: all; image_id always "
                                     "first): " + ", ".join(RESULT_FIELDS))
    p.add_argument("--link", choices=["hardlink", "symlink", "copy"], default="hardlink")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", help="summarise a workspace")
    add_db_option(p)
    p.set_defaults(func=cmd_info)
