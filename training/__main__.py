"""`python -m training`: train ResNet and SVM counters on a workspace's effective labels.

Subcommands: resnet (train a recipe), resume, svm, finetune (a registered model trained further on the
verified labels), baselines, lr-find, recipes. Progress goes to stdout
as JSON lines (docs/TRAINING.md); logging to stderr. Exit codes: 0 finished, 1 failed, 2 usage, 3 cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .recipes import RECIPES, Recipe, add_recipe_arguments, apply_overrides, describe_recipes, get_recipe
from .stream import EXIT_FAILED, Stream, TrainingFailed, log, setup_logging

if TYPE_CHECKING:
    from .distributed import DistInfo
    from .session import RunScope, Session


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="workspace folder or its workspace.db")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def _apply_threads(threads: int) -> None:
    """Cap torch's and the BLAS/OpenMP pools' threads (an oversubscribed OpenBLAS is many times slower)."""
    from .features import set_threads
    set_threads(threads)


# ---------------------------------------------------------------------- resnet
def cmd_resnet(args: argparse.Namespace) -> int:
    """Train (or, with --resume, continue) a ResNet recipe."""
    if args.resume:
        return run_resnet(args.db, None, Path(args.resume), args)
    recipe = apply_overrides(get_recipe(args.recipe), args)
    return run_resnet(args.db, recipe, None, args)


def cmd_resume(args: argparse.Namespace) -> int:
    from .runs import read_json
    saved = read_json(Path(args.run_dir) / "config.json")
    if saved["kind"] == "finetune" and (saved["config"].get("finetune") or {}).get("model_kind") == "resnet":
        from .finetune import resume_finetune
        return resume_finetune(args.db or saved["db"], Path(args.run_dir), _resume_recipe(saved, args))
    if saved["kind"] != "resnet":
        print(f"training: {args.run_dir} is a {saved['kind']} run; only ResNet runs resume "
              "(SVM runs are short: start a new one)", file=sys.stderr)
        return EXIT_FAILED
    return run_resnet(args.db or saved["db"], None, Path(args.run_dir), args)


def _resume_recipe(saved: dict[str, Any], args: argparse.Namespace) -> Recipe:
    """The saved recipe; only machine settings (device, workers, threads) may change on resume."""
    recipe = Recipe.from_dict(saved["config"])
    changes = {k: getattr(args, f"r_{k}") for k in ("device", "workers", "threads")
               if getattr(args, f"r_{k}", None) is not None}
    return dataclasses.replace(recipe, **changes)


def run_resnet(db: str | None, recipe: Recipe | None, resume: Path | None, args: argparse.Namespace) -> int:
    """A new run of recipe on db, or (resume) the run in that directory, on one process or under torchrun."""
    from .session import guarded_run
    return guarded_run(lambda scope: _resnet_run(scope, db, recipe, resume, args))


def _resnet_run(scope: RunScope, db: str | None, recipe: Recipe | None, resume: Path | None,
                args: argparse.Namespace) -> int:
    """The ResNet run inside guarded_run: recipe and workspace, torchrun ranks, the run row, started, epochs."""
    from . import distributed as D
    from .resnet_train import ResNetRun, resume_checkpoint, seed_everything
    from .runs import read_json

    if resume is not None:
        saved = read_json(resume / "config.json")
        recipe, db = _resume_recipe(saved, args), db or saved["db"]
    assert recipe is not None and db is not None
    _apply_threads(recipe.threads)
    from binaudit.ml.device import choose_device
    dist = D.init_distributed(choose_device(recipe.device).type)
    scope.cleanups.append(lambda: D.shutdown(dist))
    scope.stream.enabled = dist.is_main
    if not dist.is_main:
        log.setLevel("WARNING")
    session = scope.open(db, is_main=dist.is_main)
    ckpt = None
    if resume is not None:
        session.resume_run(resume)
        ckpt = resume_checkpoint(session.run_dir, dist.is_main)
    else:
        _begin_shared_run(session, recipe, dist)
    session.emit_started("resnet", recipe.name, recipe.to_dict(), recipe.max_count + 1, resumed=resume is not None,
                         epochs=recipe.total_epochs(), world_size=dist.world, device=recipe.device, pid=os.getpid())
    seed_everything(recipe.seed)
    return ResNetRun(session, recipe, scope.stop, dist, ckpt).run()


def _begin_shared_run(session: Session, recipe: Recipe, dist: DistInfo) -> None:
    """Rank 0 freezes the labels and starts the run; every rank then has its id, directory and label sets."""
    from . import distributed as D
    error = None
    if dist.is_main:
        try:
            session.begin_run("resnet", recipe.name, recipe.to_dict(), recipe.split, recipe.max_count, recipe.or_more)
        except TrainingFailed as exc:
            error = str(exc)
    shared = D.broadcast_object((error, session.run_id, session.run_dir, session.label_snapshot, session.sets), dist)
    error, session.run_id, session.run_dir, session.label_snapshot, session.sets = shared
    if error:
        raise TrainingFailed(error)


# ---------------------------------------------------------------------- svm
def cmd_svm(args: argparse.Namespace) -> int:
    from .session import guarded_run
    from .svm_config import SVMConfig
    from .svm_train import run_svm

    names = {f.name for f in dataclasses.fields(SVMConfig)}
    cfg = SVMConfig(**{k: v for k, v in vars(args).items() if k in names and v is not None})
    _apply_threads(args.threads)
    return guarded_run(lambda scope: run_svm(scope, args.db, cfg))


def _svm_arguments(p: argparse.ArgumentParser) -> None:
    from .svm_config import SVMConfig
    d = SVMConfig()
    p.add_argument("--size", type=int, default=d.size, help="raw pixel features: photo squashed to SIZE x SIZE")
    p.add_argument("--hog", action="store_true", help="add HOG features")
    p.add_argument("--blobs", action="store_true", help="add Laplacian-of-Gaussian blob counts")
    p.add_argument("--hog-size", type=int, default=d.hog_size)
    p.add_argument("--pca", type=int, default=d.pca, help="PCA components, randomized solver (0 = none)")
    p.add_argument("--kernel", default=d.kernel, choices=("rbf", "poly", "linear", "sigmoid"))
    p.add_argument("--C", type=float, default=d.C)
    p.add_argument("--gamma", default=d.gamma, help="scale, auto or a number")
    p.add_argument("--degree", type=int, default=d.degree)
    p.add_argument("--search", action="store_true", help="cross-validated grid over C and gamma first")
    p.add_argument("--folds", type=int, default=d.folds, help="k for out-of-fold probabilities (0 = skip)")
    p.add_argument("--split", default=d.split, help="store, or ratios like 80/10/10")
    p.add_argument("--max-count", type=int, default=d.max_count)
    p.add_argument("--or-more", action="store_true", help="keep larger counts as the top class")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers, help="feature extraction processes")
    p.add_argument("--threads", type=int, default=0)


# ---------------------------------------------------------------------- finetune
def cmd_finetune(args: argparse.Namespace) -> int:
    """A new version of a registered model trained further on the verified labels (training.finetune)."""
    from .finetune import FinetuneOptions, run_finetune
    from .session import guarded_run
    options = FinetuneOptions(args.model, args.epochs, args.verified_weight, args.lr, args.device, args.workers,
                              args.threads).validate()
    _apply_threads(args.threads)
    return guarded_run(lambda scope: run_finetune(scope, args.db, options))


def _finetune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=int, required=True, metavar="ID", help="the registered model to start from")
    p.add_argument("--epochs", type=int, default=2, help="ResNet: epochs at the low rate (an SVM is refitted)")
    p.add_argument("--verified-weight", type=float, default=3.0, metavar="W",
                   help="weight of a training photo whose label a person confirmed or corrected (others: 1)")
    p.add_argument("--lr", type=float, default=None, help="ResNet: learning rate (default: the parent's / 10)")
    p.add_argument("--device", default=None, help="ResNet: auto, cpu, cuda, mps (an SVM runs on the CPU)")
    p.add_argument("--workers", type=int, default=None, help="data loader / feature extraction processes")
    p.add_argument("--threads", type=int, default=0)


# ---------------------------------------------------------------------- baselines, lr-find, recipes
def cmd_baselines(args: argparse.Namespace) -> int:
    from .baselines_cli import run_baselines_cli
    _apply_threads(args.threads)
    return run_baselines_cli(args)


def cmd_lr_find(args: argparse.Namespace) -> int:
    from .lr_find_cli import run_lr_find
    recipe = apply_overrides(get_recipe(args.recipe), args)
    _apply_threads(recipe.threads)
    return run_lr_find(args.db, recipe, args.num_iter, args.start_lr, args.end_lr)


def cmd_recipes(args: argparse.Namespace) -> int:
    print(describe_recipes())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("resnet", help="train a ResNet recipe (or --resume a run)")
    _db_argument(p)
    p.add_argument("--recipe", default="resnet34-scratch-step", choices=sorted(RECIPES))
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run from its checkpoint")
    add_recipe_arguments(p)
    p.set_defaults(func=cmd_resnet)

    p = sub.add_parser("resume", help="continue a stopped ResNet run from its checkpoint")
    p.add_argument("run_dir")
    p.add_argument("--db", help="workspace (default: the one the run was started on)")
    p.add_argument("-v", "--verbose", action="store_true")
    for name in ("device", "workers", "threads"):
        p.add_argument(f"--{name}", dest=f"r_{name}", type=str if name == "device" else int, default=None)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("svm", help="train an SVM (pixels/PCA/HOG/blobs) with out-of-fold probabilities")
    _db_argument(p)
    _svm_arguments(p)
    p.set_defaults(func=cmd_svm)

    p = sub.add_parser("finetune", help="a new model version: a registered model trained further on the verified "
                       "labels (weighted), keeping its out-of-fold predictions")
    _db_argument(p)
    _finetune_arguments(p)
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("baselines", help="classic baselines: per-class accuracy table (counts x methods)")
    _db_argument(p)
    from .baselines_cli import add_arguments as add_baseline_arguments
    add_baseline_arguments(p)
    p.set_defaults(func=cmd_baselines)

    p = sub.add_parser("lr-find", help="learning-rate range test: plot loss vs lr and suggest a rate")
    _db_argument(p)
    p.add_argument("--recipe", default="resnet34-scratch-step", choices=sorted(RECIPES))
    p.add_argument("--num-iter", type=int, default=100)
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=10.0)
    add_recipe_arguments(p)
    p.set_defaults(func=cmd_lr_find)

    p = sub.add_parser("recipes", help="list the named recipes and the published figures they reproduce")
    p.set_defaults(func=cmd_recipes, verbose=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", False))
    try:
        return int(args.func(args))
    except ValueError as exc:  # bad override values, unknown recipes
        log.error("%s", exc)
        Stream().emit("failed", reason=str(exc), model_id=None, run_id=None, metrics={})
        return 2


if __name__ == "__main__":
    sys.exit(main())
