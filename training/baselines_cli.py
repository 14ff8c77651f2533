"""`python -m training baselines`: arguments and the printed per-class table (the fitting is in baselines.py)."""

from __future__ import annotations

import argparse
import json
import logging

log = logging.getLogger("training")

FEATURES = ("pixels", "pca", "hog", "blobs")
METHODS = ("logreg", "tree", "linsvc", "nusvc", "svc-rbf", "svc-poly")
# The published table's columns: LR, tree and SVM on pixels, SVM on blobs, HOG and PCA; then the other SVMs.
DEFAULT_COLUMNS = ("logreg:pixels", "tree:pixels", "svc-rbf:pixels", "svc-rbf:blobs", "svc-rbf:hog",
                   "svc-rbf:pca", "linsvc:pca", "nusvc:pca", "svc-poly:pca")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--methods", default=",".join(DEFAULT_COLUMNS),
                   help=f"comma-separated METHOD:FEATURE columns; methods {', '.join(METHODS)}; "
                        f"features {', '.join(FEATURES)}")
    p.add_argument("--size", type=int, default=32, help="raw pixels: photo squashed to SIZE x SIZE (published: 224)")
    p.add_argument("--hog-size", type=int, default=64)
    p.add_argument("--pca", type=int, default=100, help="PCA components (published: about 1000)")
    p.add_argument("--published-grids", action="store_true", help="the published (large) grids, ten-fold CV")
    p.add_argument("--cv", type=int, default=0, help="folds of the search (default 3, or 10 with --published-grids)")
    p.add_argument("--split", default="store", help="store, or ratios like 70/20/10")
    p.add_argument("--eval-split", default="test", choices=("val", "test"))
    p.add_argument("--max-count", type=int, default=5)
    p.add_argument("--or-more", action="store_true")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", help="also write the results to this JSON file")


def run_baselines_cli(args: argparse.Namespace) -> int:
    """Print the per-class accuracy table (rows: count 0..N and overall; columns: methods)."""
    from binaudit.core.store import Store
    from binaudit.core.workspace import Workspace

    from .baselines import run_baselines
    from .metrics import per_class_table
    from .stream import TrainingFailed

    workspace = Workspace.at(args.db)
    if not workspace.db_path.exists():
        log.error("no workspace database at %s", workspace.db_path)
        return 1
    try:
        with Store.open(workspace.db_path) as store:
            results = run_baselines(store, args)
    except TrainingFailed as exc:
        log.error("%s", exc)
        return 1
    print(f"Per-class accuracy on the {args.eval_split} split "
          f"({results[next(iter(results))]['n']} images; {args.size} px features)")
    print(per_class_table(results, args.max_count + 1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0
