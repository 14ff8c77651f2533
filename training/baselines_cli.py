"""`python -m training baselines`: the arguments, their mapping onto BaselineConfig, and the printed table."""

from __future__ import annotations

import argparse
import json
import logging

from .baselines_config import DEFAULT_COLUMNS, FEATURES, METHODS, BaselineConfig, parse_columns

log = logging.getLogger("training")


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = BaselineConfig()
    p.add_argument("--methods", default=",".join(DEFAULT_COLUMNS),
                   help=f"comma-separated METHOD:FEATURE columns; methods {', '.join(METHODS)}; "
                        f"features {', '.join(FEATURES)}")
    p.add_argument("--size", type=int, default=d.size, help="raw pixels: photo squashed to SIZE x SIZE (published: 224)")
    p.add_argument("--hog-size", type=int, default=d.hog_size)
    p.add_argument("--pca", type=int, default=d.pca, help="PCA components (published: about 1000)")
    p.add_argument("--published-grids", action="store_true", help="the published (large) grids, ten-fold CV")
    p.add_argument("--cv", type=int, default=d.cv, help="folds of the search (default 3, or 10 with --published-grids)")
    p.add_argument("--split", default=d.split, help="store, or ratios like 70/20/10")
    p.add_argument("--eval-split", default=d.eval_split, choices=("val", "test"))
    p.add_argument("--max-count", type=int, default=d.max_count)
    p.add_argument("--or-more", action="store_true")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")


def config_from_args(args: argparse.Namespace) -> BaselineConfig:
    """The run's settings from the parsed command line (--db, --threads and --json are the command's own)."""
    return BaselineConfig(columns=parse_columns(args.methods), size=args.size, hog_size=args.hog_size, pca=args.pca,
                          published_grids=args.published_grids, cv=args.cv, split=args.split,
                          eval_split=args.eval_split, max_count=args.max_count, or_more=args.or_more,
                          workers=args.workers)


def run_baselines_cli(args: argparse.Namespace) -> int:
    """Print the per-class accuracy table (rows: count 0..N and overall; columns: methods)."""
    from binaudit.core.store import Store
    from binaudit.core.workspace import Workspace

    from .baselines import run_baselines
    from .metrics import per_class_table
    from .stream import TrainingFailed

    cfg = config_from_args(args)
    workspace = Workspace.at(args.db)
    if not workspace.db_path.exists():
        log.error("no workspace database at %s", workspace.db_path)
        return 1
    try:
        with Store.open(workspace.db_path) as store:
            results = run_baselines(store, cfg)
    except TrainingFailed as exc:
        log.error("%s", exc)
        return 1
    print(f"Per-class accuracy on the {cfg.eval_split} split "
          f"({results[next(iter(results))]['n']} images; {cfg.size} px features)")
    print(per_class_table(results, cfg.num_classes))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0
