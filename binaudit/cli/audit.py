"""`binaudit report`, `sample` and `update-queue`: the audit loop from the shell (no torch, no Qt).

    report        how good the audit queue is: reviewed, found, against random review (from a random sample),
                  the verdict in plain words, the inventory's variance rate, variances left, the next 100 bins
    sample        draw a random (optionally score-stratified) sample of bins for review and mark it
    update-queue  recalibrate the queue's P(variance) on the verified reviews (the loop's cheap half)
"""

from __future__ import annotations

import argparse
import getpass
import json
from dataclasses import asdict
from typing import Any

from binaudit.cli.next_steps import no_active_model_steps, ws_arg
from binaudit.cli.tables import format_table
from binaudit.cli.workspace_args import add_db_option, open_store

CURVE_ROWS = 8  # points of the found-vs-reviewed curve printed


def _user(args: argparse.Namespace) -> str:
    """Who ran the command: --user, else the login name."""
    if args.user:
        return str(args.user)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "binaudit"


def _pct(interval: Any) -> str:
    return "-" if interval is None else interval.describe(1, percent=True)


def _num(interval: Any) -> str:
    """A count with its interval: one decimal below 100, whole numbers above."""
    return "-" if interval is None else interval.describe(1 if abs(interval.value) < 100 else 0)


def _queue_table(report: Any) -> str:
    """What the queue found, against random review."""
    rate = report.random_rate
    rows = [["bins reviewed from the queue", str(report.reviewed)], ["variances found", str(report.found)],
            ["random review would have found",
             "-" if rate is None else f"{report.reviewed * rate.value:.1f} (sample rate {_pct(rate)})"],
            ["lift (found / random)", "-" if rate is None or report.lift != report.lift else f"{report.lift:.2f}x"],
            ["all reviews (queue and sample)", f"{report.all_reviewed} ({report.all_found} variances)"]]
    return format_table((("audit queue", "<"), ("", "<")), rows)


def _curve_table(report: Any) -> str:
    """Variances found after k queue reviews, beside what random review and the best order would have found."""
    n = report.reviewed
    steps = sorted({max(1, round(n * i / CURVE_ROWS)) for i in range(1, CURVE_ROWS + 1)})
    rows = [[str(k), str(report.curve[k - 1]),
             "-" if report.random_curve is None else f"{report.random_curve[k - 1]:.1f}",
             "-" if report.best_curve is None else str(report.best_curve[k - 1])] for k in steps]
    return format_table((("reviewed", ">"), ("found", ">"), ("random", ">"), ("best", ">")), rows)


def _inventory_table(report: Any) -> str:
    """The whole inventory's record accuracy, from the random sample."""
    rows = [["variance rate (records wrong)", _pct(report.variance_rate)],
            ["record accuracy", _pct(report.record_accuracy)],
            [f"variances among {report.estimate_sample.population:,} bins", _num(report.variances_total)]]
    return format_table((("inventory", "<"), ("estimate", "<")), rows)


def _sample_lines(report: Any, ws: str) -> list[str]:
    """Where the random sample stands, and what to review next."""
    s = report.sample
    if s is None:
        return [f"Inventory: cannot tell yet: draw a random sample with `binaudit sample --size 100 --db {ws}` "
                "and review it."]
    kind = f"stratified by P(variance), {len(s.strata)} strata" if s.stratified else "simple random"
    lines = [f"Random sample #{s.id} ({kind}, seed {s.seed}, drawn {s.created_at[:16].replace('T', ' ')} by "
             f"{s.created_by}): {s.reviewed} of {s.size} reviewed, {s.found} variances."]
    from binaudit.core.audit.report import UNCHECKED

    lines += [note for note in report.notes if note != UNCHECKED]  # that one goes with the stopping lines
    if report.variance_rate is not None:
        lines += ["", f"inventory estimates from random sample #{report.estimate_sample.id}:", _inventory_table(report)]
    if s.unreviewed:
        lines += ["", f"Review next ({s.unreviewed} sampled bins left, in this order; in the app: "
                      f"Label > Random-sample audit): {', '.join(s.next_to_review)}"
                  + (" ..." if s.unreviewed > len(s.next_to_review) else "")]
    return lines


def _stopping_lines(report: Any) -> list[str]:
    """Variances left in the unreviewed bins and in the next bins of the queue."""
    lines = []
    if report.remaining is not None:
        lines.append(f"Variances still in the unreviewed bins: {_num(report.remaining)}, from the "
                     f"{report.remaining_source}.")
    if report.expected_next is not None:
        shown = min(report.next_n, report.queue_size)
        lines.append(f"Expected in the next {shown} bins of the queue ({report.queue_size:,} unreviewed in it): "
                     f"{_num(report.expected_next)}, from their calibrated P(variance).")
    elif report.queue_size == 0:
        lines.append("The audit queue is empty: no unreviewed bin has a P(variance).")
    else:
        from binaudit.core.audit.report import UNCHECKED

        lines.append("Variances expected in the next bins of the queue and left: " + UNCHECKED)
    return lines


def print_report(report: Any, workspace: Any) -> None:
    """The report as text: tables like `binaudit info`, the verdict in plain words."""
    ws = ws_arg(workspace)
    update = report.queue_update or "none (the queue is the models' own P(variance); `binaudit update-queue`)"
    print(f"workspace {workspace.db_path}\nqueue update in force: {update}\n")
    print(_queue_table(report))
    print(f"\nVerdict: {report.verdict.text}")
    if report.verdict.better_than_random is None and report.sample is None:
        print(f"  cannot tell yet: draw a random sample with `binaudit sample --size 100 --db {ws}`")
    if report.reviewed:
        print("\nvariances found vs bins reviewed (random: expected at the sample's rate)")
        print(_curve_table(report))
    print()
    print("\n".join(_sample_lines(report, ws)))
    print()
    print("\n".join(_stopping_lines(report)))


def _nothing_to_report(store: Any, workspace: Any) -> str | None:
    """Why there is nothing to report (no active model, no review, no sample), or None."""
    steps = no_active_model_steps(store, workspace)
    if steps and not store.reviews_in_order() and store.audit_sample() is None:
        return f"nothing to report yet: no review, no random sample, and {steps}"
    return None


def cmd_report(args: argparse.Namespace) -> int:
    """Print how good the audit queue is (or its JSON)."""
    from binaudit.core.audit.loop import queue_report

    workspace, store = open_store(args.db)
    with store:
        why = _nothing_to_report(store, workspace)
        if why:
            raise SystemExit(f"binaudit: {why}")
        report = queue_report(store, next_n=args.next)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print_report(report, workspace)
    return 0


def _strata_table(bins: list[Any], strata: int) -> str:
    """Each stratum's bins in the population and draws, labelled by its score range."""
    seen: dict[int, tuple[int, int]] = {}
    for b in bins:
        seen[b.stratum] = (b.stratum_size, b.stratum_drawn)
    rows = [["unscored" if h == strata else f"{h + 1} of {strata} (by P(variance), low to high)", f"{size:,}",
             str(drawn)] for h, (size, drawn) in sorted(seen.items())]
    return format_table((("stratum", "<"), ("bins", ">"), ("drawn", ">")), rows)


def _has_scores(store: Any) -> bool:
    """True when an active model has stored predictions (what a stratified sample is cut by)."""
    from binaudit.core.kinds import MODEL_KINDS

    active = [m for m in (store.active_model(k) for k in MODEL_KINDS) if m]
    return any(store.query("SELECT 1 FROM predictions WHERE model_id = ? LIMIT 1", [m["id"]]) for m in active)


def cmd_sample(args: argparse.Namespace) -> int:
    """Draw a random sample of bins for review, mark it in the store, and say what to review next."""
    from binaudit.core.audit.loop import draw_sample

    workspace, store = open_store(args.db)
    ws = ws_arg(workspace)
    with store:
        if args.stratified and not _has_scores(store):
            steps = no_active_model_steps(store, workspace) or f"score first: binaudit score --active --db {ws}"
            raise SystemExit("binaudit: --stratified cuts strata by P(variance), which needs an active model's "
                             f"scores; draw a simple sample (leave out --stratified) or: {steps}")
        try:
            sample_id = draw_sample(store, args.size, user=_user(args), stratified=args.stratified, seed=args.seed,
                                    strata=args.strata, note=args.note)
        except ValueError as exc:
            raise SystemExit(f"binaudit: {exc}") from None
        sample = store.audit_sample(sample_id) or {}
        bins = store.audit_sample_bins(sample_id)
    if args.json:
        print(json.dumps({"sample": sample, "bins": [asdict(b) for b in bins]}))
        return 0
    kind = "stratified by P(variance), proportional allocation" if args.stratified else "simple random"
    print(f"Random sample #{sample_id}: {len(bins)} bins drawn from {sample['population']:,} with a photo and a "
          f"recorded count ({kind}, seed {sample['seed']}); marked in the workspace.")
    if args.stratified:
        print("\n" + _strata_table(bins, args.strata))
    shown = [b.image_id for b in bins[:args.show]]
    print(f"\nReview them in this order (any first part of it is still a random sample), confirming or "
          f"correcting each count: in the app (binaudit gui --db {ws}), Label > Random-sample audit walks them.")
    more = len(bins) - len(shown)
    print(", ".join(shown) + (f" ... ({more} more: `binaudit report --db {ws}` lists the next ones)" if more else ""))
    print(f"\nThen `binaudit report --db {ws}` gives the inventory's record accuracy with its 95% interval and "
          "whether the queue beats random review.")
    return 0


def cmd_update_queue(args: argparse.Namespace) -> int:
    """Recalibrate the audit queue's P(variance) on the verified reviews and record it as the update in force."""
    from binaudit.core.audit.loop import update_queue

    workspace, store = open_store(args.db)
    with store:
        steps = no_active_model_steps(store, workspace)
        if steps:
            raise SystemExit(f"binaudit: the queue has no P(variance) to update: {steps}")
        update = update_queue(store, user=_user(args))
    if args.json:
        print(json.dumps({"id": update.id, "reviewed": update.reviewed, "positives": update.positives,
                          "last_event_id": update.last_event_id, "top": update.top, "new_in_top": update.new_in_top,
                          "moved_in_top": update.moved_in_top, "describe": update.describe(),
                          "recalibration": json.loads(update.recalibration.to_json())}))
        return 0
    print(update.describe())
    coefficients = sorted(update.recalibration.coefficients.items(), key=lambda kv: -abs(kv[1]))
    if coefficients:
        rows = [[name, f"{value:+.3f}"] for name, value in coefficients]
        print("\nlogit P(variance) = the models' logit" + f" {update.recalibration.intercept:+.3f} + ...")
        print(format_table((("feature", "<"), ("coefficient", ">")), rows))
    print(f"\nThe app and `binaudit queue --db {ws_arg(workspace)}` now order the audit queue by it.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add report, sample and update-queue to the `binaudit` parser."""
    p = sub.add_parser("report", help="how good the audit queue is, against random review, and what is left")
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--next", type=int, default=100, help="bins of the queue the stopping guidance looks at")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sample", help="draw a random sample of bins for review (the inventory's accuracy)")
    add_db_option(p)
    p.add_argument("--size", type=int, required=True, help="bins to draw")
    p.add_argument("--stratified", action="store_true", help="strata by the current P(variance), proportional")
    p.add_argument("--strata", type=int, default=4, help="with --stratified: how many score strata")
    p.add_argument("--seed", type=int, help="random seed (default: chosen and recorded)")
    p.add_argument("--user", help="who draws it (default: the login name)")
    p.add_argument("--note", help="a note kept with the sample")
    p.add_argument("--show", type=int, default=20, help="bins to list")
    p.add_argument("--json", action="store_true", help="print the sample and its bins as JSON")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("update-queue", help="recalibrate the audit queue on the verified reviews")
    add_db_option(p)
    p.add_argument("--user", help="who runs it (default: the login name)")
    p.add_argument("--json", action="store_true", help="print the update as JSON")
    p.set_defaults(func=cmd_update_queue)
