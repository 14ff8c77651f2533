"""`binaudit score`, `queue` and `train`: models at work on a workspace; ml and training load only when they run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from binaudit.cli.next_steps import no_active_model_steps, unscored_steps, ws_arg
from binaudit.cli.tables import format_table
from binaudit.cli.workspace_args import add_db_option, open_store
from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.progress import progress_bar
from binaudit.core.queues import AUDIT_QUEUE, QUEUES, QueueSpec, queue_by


def cmd_train(args: argparse.Namespace) -> int:
    """`binaudit train ...` is `python -m training ...` (same arguments, same JSON-lines stream)."""
    from training.__main__ import main as training_main

    return training_main(list(args.args))


def _models_to_score(store: Any, workspace: Any, args: argparse.Namespace) -> list[int]:
    if args.model is not None:
        if store.get_model(args.model) is None:
            raise SystemExit(f"binaudit: no model {args.model} in this workspace (see `binaudit models`)")
        return [args.model]
    kinds = MODEL_KINDS if args.kind == "all" else (args.kind,)
    ids = [int(m["id"]) for m in (store.active_model(k) for k in kinds) if m]
    if not ids:
        steps = no_active_model_steps(store, workspace) or (
            f"no active {args.kind} model; see `binaudit models --db {ws_arg(workspace)}`")
        raise SystemExit(f"binaudit: nothing to score with: {steps}")
    return ids


def cmd_score(args: argparse.Namespace) -> int:
    """Score every usable image with a model (or the active ones); already-scored images are skipped."""
    from binaudit.ml.device import DeviceUnavailable
    from binaudit.ml.modelfiles import ModelFileError
    from binaudit.ml.scoring import score_images

    workspace, store = open_store(args.db)
    with store:
        failed = 0
        for model_id in _models_to_score(store, workspace, args):
            kind = store.get_model(model_id)["kind"]
            try:
                with progress_bar(f"score with model {model_id} ({kind})", "img") as bar:
                    summary = score_images(store, model_id, device=args.device, batch_size=args.batch_size,
                                           num_workers=args.workers, force=args.force, progress=bar)
            except (ModelFileError, DeviceUnavailable) as exc:
                print(f"binaudit: model {model_id}: {exc}", file=sys.stderr)
                failed += 1
                continue
            print(summary.describe())
            for image_id, why in list(summary.error_messages.items())[:10]:
                print(f"  unreadable {image_id}: {why}")
    return 1 if failed else 0


def _prediction(model: Any, pos: int) -> str:
    """A model's count and confidence for one row, '-' where it has none."""
    if model is None or not model.active or model.predicted[pos] < 0:
        return "-"
    return f"{int(model.predicted[pos])} ({model.confidence[pos]:.2f})"


def _queue_row(index: Any, spec: QueueSpec, rank: int, pos: int, score: float) -> list[str]:
    """One queue row: rank, image, recorded count, label, [rule,] each model's prediction, the score."""
    recorded = "-" if index.recorded[pos] < 0 else str(int(index.recorded[pos]))
    row = [str(rank), index.image_id(pos), recorded, index.label_text(pos)[:22]]
    if spec == AUDIT_QUEUE:
        row.append(f"sum={index.sku_sum[pos]}" if index.metadata_rule(pos) else "-")
    return row + [_prediction(index.models.get(kind), pos) for kind in MODEL_KINDS] + [f"{score:.3f}"]


def _has_predictions(index: Any) -> bool:
    """True when an active model has a stored prediction for at least one row (else the queue is empty)."""
    return any(bool((index.models[kind].predicted >= 0).any()) for kind in index.model_kinds())


def cmd_queue(args: argparse.Namespace) -> int:
    """Print the top of a review queue from the active models' stored predictions (as the app orders it)."""
    from binaudit.core.browse import BrowseFilter, BrowseIndex

    workspace, store = open_store(args.db)
    with store:
        index = BrowseIndex.load(store)
        steps = None if index.model_kinds() else no_active_model_steps(store, workspace)
    if not _has_predictions(index):
        raise SystemExit(f"binaudit: the queue is empty: {steps or unscored_steps(workspace)}")
    spec = queue_by(args.by)
    queue = index.queue_order(BrowseFilter() if args.all else BrowseFilter(reviewed=False), key=spec.sort_key)
    order = queue[:args.top]
    scores = index.queue_score(spec.sort_key, order)
    rule = [("rule", "<")] if spec == AUDIT_QUEUE else []
    columns = [("rank", ">"), ("image", "<"), ("recorded", ">"), ("label", "<"), *rule,
               *((kind, ">") for kind in MODEL_KINDS), ("score", ">")]
    rows = [_queue_row(index, spec, rank, int(pos), float(score))
            for rank, (pos, score) in enumerate(zip(order, scores), start=1)]
    rule_note = "; rule sum=N: the record's SKU quantities add up to N" if spec == AUDIT_QUEUE else ""
    pool_note = f"; score = P(variance), pool {index.pool.describe()}" if spec == AUDIT_QUEUE else ""
    if spec == AUDIT_QUEUE and index.queue_update is not None:
        pool_note += f", recalibrated by {index.queue_update.describe()}"
    print(f"{spec.by} queue ({spec.audience}): top {len(rows)} of {len(queue)}, ordered by {spec.order} "
          f"(score){rule_note}{pool_note}")
    print(format_table(columns, rows))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add train, score and queue to the `binaudit` parser."""
    # prefix_chars no argument uses: every word after "train", --help included, goes to python -m training
    p = sub.add_parser("train", add_help=False, prefix_chars="\x00",
                       help="train models: `binaudit train --help` (python -m training)")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("score", help="score every image with a model and store the predictions")
    add_db_option(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", type=int, help="model id (see `binaudit info`)")
    which.add_argument("--active", action="store_true", help="the active model(s) (the default)")
    p.add_argument("--kind", choices=(*MODEL_KINDS, "all"), default="all", help="with --active: which kind")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--force", action="store_true", help="rescore images this model already scored")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="decoding processes")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("queue", help="print the top of the review queue from stored predictions")
    add_db_option(p)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--by", choices=[q.by for q in QUEUES], default=AUDIT_QUEUE.by)
    p.add_argument("--all", action="store_true", help="include images already reviewed")
    p.set_defaults(func=cmd_queue)


