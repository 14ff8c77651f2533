"""Audit yield: simulated auditors work through the audit queue in rounds; does the loop find variances faster?

The bins are a copy of real photos with planted self-consistent variances, made by bench/real_variances.py
(`--from DIR` reuses one of its out folders: DIR/ws/workspace.db with scored, active models and DIR/truth.json;
otherwise its whole pipeline runs first into OUT/rv with the options below). DIR is never written: each policy
works on its own copy of the workspace database, OUT/<policy>/workspace.db.

The audit population: the bins the audit queue holds (a usable photo some active model scored, a recorded count)
that truth.json knows, in `--split` (default all). A bin is a variance when its original count (truth) differs
from its recorded count. The simulated auditor ("sim-auditor") reviews `--round` bins at a time, top-first, until
`--budget` of the population is reviewed; each review is a real label event through the Store: "confirmed" with
the count when the truth equals the record, "corrected" to the true count otherwise. Policies:
  loop    after each round the loop runs: binaudit.core.audit.loop.update_queue (recalibrates P(variance) on the
          reviewed bins), and every `--finetune-every` rounds `python -m training finetune` of each active
          model, then the new versions are activated and scored, before update_queue; the next round rereads
          the queue as `binaudit queue` does (BrowseIndex.load + queue_order over the unreviewed bins);
  fixed   the same rounds through the Store, no loop: the queue order from the start (models and calibration
          fixed); its review order is checked against the initial queue order;
  random  random order: the exact expectation (reviewed x variances / population) is the baseline of every
          lift, beside the mean and spread of `--shuffles` seeded shuffles (no decision changes a random order,
          so it needs no store);
  best    every variance first: the most any order can find.
Figures: the curve "variances found vs bins reviewed" of each policy (OUT/curves.json, plot OUT/audit_yield.png),
found, recall and lift (found / random expectation) at 10% and 20% of the population reviewed, the part of the
found variances the metadata rule flags (the rest are the models' part), and the same figures on the test split's
bins within the same review orders (test bins reviewed so far; a mark beyond them is left out) and on the bins
whose record a planted variance could have made (real_variances plants only in small counts, so bins above its
largest planted record never hold one; a loop that learns so from the corrections gains there, reported apart).

ok rule: the loop's lift at 10% of the population reviewed is at least 3, with at least 20 variances in the
population (fewer is noise: a small `--limit` smoke run is never ok). Exit 0 when ok, 1 otherwise; the last
line of stdout is one JSON object with every figure, the targets and the settings.

    python bench/audit_yield.py [--from DIR] [--out DIR] [--round 100] [--budget 0.2] [--finetune-every 0]
        [--split all|train|val|test] [--seed 0] [--limit N] [--shuffles 20] [--policies loop,fixed,random,best]
        [pipeline without --from: --source DIR --rate 0.1 --skip-resnet --resnet-epochs 4 --resnet-cross-fit 2
         --threads 2 --workers 2 --device auto --svm-args "..."]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import real_variances as rv

from binaudit.core import labels as L
from binaudit.core.audit import best_curve, found_curve, lift, random_expectation
from binaudit.core.store import Store

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ("loop", "fixed", "random", "best")
STORE_POLICIES = ("loop", "fixed")  # the policies that review through a workspace copy
FRACTIONS = (0.10, 0.20)
SPLITS = ("all", "train", "val", "test")
SIM_USER = "sim-auditor"
TARGET_LIFT_10 = 3.0
MIN_VARIANCES = 20
SECTION_TITLES = {"test_split": "test split's bins",
                  "planted_range": "bins whose record a planted variance could have made (the rest never hold one)"}
MARKER = ".audit_yield"  # marks an out folder this script made, so a rerun may replace it


def say(text: str) -> None:
    """A progress line on stderr (the table and the JSON line go to stdout)."""
    print(f"[audit_yield {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="from_dir", default=None,
                    help="a bench/real_variances.py out folder to reuse (its ws/ and truth.json; never written)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "audit_yield"),
                    help="work folder: workspace copies, curves, plot (replaced on rerun)")
    ap.add_argument("--round", type=int, default=100, help="bins reviewed per round")
    ap.add_argument("--budget", type=float, default=0.2, help="fraction of the population reviewed")
    ap.add_argument("--finetune-every", type=int, default=0,
                    help="fine-tune the active models every R rounds in the loop policy (0 = never)")
    ap.add_argument("--finetune-epochs", type=int, default=None,
                    help="ResNet epochs of each fine-tune (default: the training module's)")
    ap.add_argument("--verified-weight", type=float, default=None,
                    help="weight of verified labels in each fine-tune (default: the training module's)")
    ap.add_argument("--split", choices=SPLITS, default="all", help="which bins form the audit population")
    ap.add_argument("--seed", type=int, default=0, help="seed of the planting, training and random orders")
    ap.add_argument("--limit", type=int, default=0,
                    help="smoke runs: the pipeline copies only the first N source ids; with --from, the "
                         "population is the first N of its bins by id")
    ap.add_argument("--shuffles", type=int, default=20, help="seeded random orders shown beside the expectation")
    ap.add_argument("--policies", default=",".join(POLICIES), help="comma-separated subset of " + ",".join(POLICIES))
    pipeline = ap.add_argument_group("the real_variances pipeline (without --from)")
    pipeline.add_argument("--source", default=str(ROOT.parent / "shared" / "abid-real"))
    pipeline.add_argument("--rate", type=float, default=0.1)
    pipeline.add_argument("--skip-resnet", action="store_true")
    pipeline.add_argument("--resnet-epochs", type=int, default=4)
    pipeline.add_argument("--resnet-cross-fit", type=int, default=2)
    pipeline.add_argument("--svm-args", default=None,
                          help="replace the SVM's reference settings (quoted), e.g. for quick tests")
    pipeline.add_argument("--threads", type=int, default=2)
    pipeline.add_argument("--workers", type=int, default=2)
    pipeline.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    if not policies or any(p not in POLICIES for p in policies):
        ap.error(f"--policies: choose from {', '.join(POLICIES)}")
    if args.round < 1 or not 0 < args.budget <= 1 or args.finetune_every < 0:
        ap.error("--round must be >= 1, --budget in (0, 1], --finetune-every >= 0")
    args.policies = policies
    return args


# ---------------------------------------------------------------------------------------------- the bins
def prepare_out(out: Path, keep: Path | None = None) -> None:
    """A fresh out folder; an existing one is replaced only if this script made it and it does not hold `keep`."""
    if keep is not None and (keep == out or out in keep.parents):
        raise SystemExit(f"audit_yield: --out {out} holds --from {keep}; choose another --out")
    if out.exists():
        if not (out / MARKER).exists():
            raise SystemExit(f"audit_yield: {out} exists and was not made by this script; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by bench/audit_yield.py; removed by its next run\n")


def run_pipeline(args: argparse.Namespace, out: Path) -> Path:
    """bench/real_variances.py's copy, planting, import, training and scoring into OUT/rv; returns that folder.

    Its own table and JSON line (its figures for the same bins) go to OUT/rv.stdout.
    """
    rv_out = out / "rv"
    argv = ["--source", args.source, "--out", str(rv_out), "--rate", str(args.rate), "--seed", str(args.seed),
            "--limit", str(args.limit), "--resnet-epochs", str(args.resnet_epochs),
            "--resnet-cross-fit", str(args.resnet_cross_fit), "--threads", str(args.threads),
            "--workers", str(args.workers), "--device", args.device, *(["--skip-resnet"] if args.skip_resnet else [])]
    if args.svm_args:
        rv.SVM_REFERENCE = shlex.split(args.svm_args)
    say(f"no --from: running bench/real_variances.py {shlex.join(argv)}")
    with (out / "rv.stdout").open("w") as fh, contextlib.redirect_stdout(fh):
        rv.main(argv)  # exits 1 when its own ok rule fails (always on small runs); the bins are made either way
    return rv_out


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a workspace database (SQLite's backup, so a WAL is folded in); the source is only read."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@dataclass
class Population:
    """The audit population in the initial queue order, with what the simulated auditor knows about each bin."""

    ids: list[str]
    true: dict[str, int]
    recorded: dict[str, int]
    split: dict[str, str]
    rule: set[str]  # bins the metadata rule flags (their record contradicts itself)
    dropped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.variance = {i: self.true[i] != self.recorded[i] for i in self.ids}

    @property
    def size(self) -> int:
        return len(self.ids)

    def variances(self, ids: Any = None) -> int:
        return sum(self.variance[i] for i in (self.ids if ids is None else ids))


def queue_now(store: Store, split: str, members: set[str] | None = None) -> list[str]:
    """The unreviewed part of the audit queue as `binaudit queue` reads it (BrowseIndex), restricted to members."""
    from binaudit.core.browse import BrowseFilter, BrowseIndex

    index = BrowseIndex.load(store)
    order = index.queue_order(BrowseFilter(reviewed=False, split=None if split == "all" else split))
    ids = [index.image_id(int(p)) for p in order]
    return ids if members is None else [i for i in ids if i in members]


def load_population(db: Path, truth: dict[str, dict[str, Any]], args: argparse.Namespace) -> Population:
    """The queue's bins that truth.json knows, in queue order; --limit with --from keeps the first N ids."""
    from binaudit.core.browse import BrowseIndex

    with Store.open(db) as store:
        queue = queue_now(store, args.split)
        rows = {r["image_id"]: r for r in store.query("SELECT image_id, recorded_count, split FROM images")}
        index = BrowseIndex.load(store)
    rule = {index.image_id(int(p)) for p in np.flatnonzero(index.metadata_rule())}
    dropped = {"not_in_truth": sum(i not in truth for i in queue),
               "record_differs_from_truth": sum(i in truth and truth[i]["recorded_count"] != rows[i]["recorded_count"]
                                                for i in queue)}
    ids = [i for i in queue if i in truth and truth[i]["recorded_count"] == rows[i]["recorded_count"]]
    if args.from_dir and args.limit > 0:
        keep = set(sorted(ids)[:args.limit])
        ids = [i for i in ids if i in keep]
    return Population(ids=ids, true={i: int(truth[i]["true_count"]) for i in ids},
                      recorded={i: int(rows[i]["recorded_count"]) for i in ids},
                      split={i: rows[i]["split"] for i in ids}, rule=rule.intersection(ids), dropped=dropped)


# ---------------------------------------------------------------------------------------------- reviewing
def review(store: Store, ids: list[str], pop: Population) -> None:
    """One label event per bin, as an auditor who sees the true count records it."""
    for image_id in ids:
        true = pop.true[image_id]
        status = L.CONFIRMED if true == pop.recorded[image_id] else L.CORRECTED
        store.record_label(image_id, user=SIM_USER, status=status, count=true)


def budget_bins(pop: Population, budget: float) -> int:
    return max(1, round(budget * pop.size))


@dataclass
class Simulated:
    """One store policy's reviews in order, per-round notes and seconds."""

    order: list[str]
    rounds: list[dict[str, Any]]
    seconds: float
    loop_seconds: float = 0.0
    stopping: dict[str, Any] = field(default_factory=dict)


def simulate(ws: Path, policy: str, pop: Population, args: argparse.Namespace) -> Simulated:
    """Rounds of `--round` reviews from the top of the queue, the loop after each round when policy is loop."""
    started = time.perf_counter()
    members, budget = set(pop.ids), budget_bins(pop, args.budget)
    order: list[str] = []
    rounds: list[dict[str, Any]] = []
    loop_seconds = 0.0
    while len(order) < budget:
        with Store.open(ws / "workspace.db") as store:
            take = queue_now(store, args.split, members)[:min(args.round, budget - len(order))]
            if not take:
                break
            review(store, take, pop)
        order += take
        row: dict[str, Any] = {"round": len(rounds) + 1, "reviewed": len(order), "found": pop.variances(order),
                               "found_this_round": pop.variances(take)}
        if policy == "loop" and len(order) < budget:
            t = time.perf_counter()
            row.update(run_loop(ws, args, len(rounds) + 1, budget - len(order)))
            row["loop_seconds"] = round(time.perf_counter() - t, 2)
            loop_seconds += row["loop_seconds"]
        rounds.append(row)
        say(f"{policy}: round {row['round']}: {row['found_this_round']}/{len(take)} variances, "
            f"{row['found']} found in {len(order)} reviews")
    return Simulated(order, rounds, time.perf_counter() - started, loop_seconds)


# ---------------------------------------------------------------------------------------------- the loop
def run_loop(ws: Path, args: argparse.Namespace, round_no: int, left: int) -> dict[str, Any]:
    """The loop after a round: fine-tune and rescore every --finetune-every rounds (not when less than a full
    round of reviews is left: minutes of training for a few bins), then update_queue."""
    from binaudit.core.audit.loop import update_queue

    out: dict[str, Any] = {}
    if args.finetune_every and round_no % args.finetune_every == 0 and left >= args.round:
        out["finetuned"] = finetune_and_score(ws, args, round_no)
    with Store.open(ws / "workspace.db") as store:
        update = update_queue(store, user=SIM_USER)
    out["update"] = describe_update(update)
    return out


def describe_update(update: Any) -> dict[str, Any]:
    """What the loop's update fitted and did to the top of the queue, for the per-round notes."""
    rec = update.recalibration
    return {"id": update.id, "reviewed": update.reviewed, "positives": update.positives,
            "new_in_top": update.new_in_top, "top": update.top, "text": update.describe(),
            "candidate": rec.candidate, "coefficients": {k: round(float(v), 4) for k, v in rec.coefficients.items()},
            "intercept": round(float(rec.intercept), 4), "error_sizes": [round(v, 4) for v in rec.error_sizes]}


def stopping_check(ws: Path, pop: Population, args: argparse.Namespace, order: list[str]) -> dict[str, Any]:
    """The app's stopping guidance after the last round (queue_report) beside the truth: variances expected in the
    next 100 bins of the queue vs found there, and variances still unreviewed vs the estimate."""
    from binaudit.core.audit.loop import queue_report

    with Store.open(ws / "workspace.db") as store:
        report = queue_report(store, next_n=100)
        upcoming = queue_now(store, args.split, set(pop.ids))[:100]
    left = pop.variances() - pop.variances(order)

    def interval(i: Any) -> list[float] | None:
        return None if i is None else [round(i.value, 1), round(i.low, 1), round(i.high, 1)]

    return {"expected_in_next_100": interval(report.expected_next), "found_in_next_100": pop.variances(upcoming),
            "remaining_estimate": interval(report.remaining), "remaining_source": report.remaining_source,
            "remaining_true": left, "verdict": report.verdict.text, "queue_update": report.queue_update}


def finetune_and_score(ws: Path, args: argparse.Namespace, round_no: int) -> dict[str, int]:
    """`python -m training finetune` of each active model on the verified labels, then activate and score.

    The new version keeps its parent's out-of-fold predictions for the unreviewed training bins (the training
    module's rule), so on those bins the queue changes only through update_queue; val and test bins are rescored.
    """
    with Store.open(ws / "workspace.db") as store:
        active = {kind: int(m["id"]) for kind in ("svm", "resnet") if (m := store.active_model(kind))}
    logs = ws / "logs"
    logs.mkdir(exist_ok=True)
    made = {}
    for kind, parent in active.items():
        cmd = [sys.executable, "-m", "training", "finetune", "--db", str(ws), "--model", str(parent),
               "--threads", str(args.threads), "--device", args.device]
        cmd += ["--epochs", str(args.finetune_epochs)] if args.finetune_epochs is not None else []
        cmd += ["--verified-weight", str(args.verified_weight)] if args.verified_weight is not None else []
        result = rv.train(cmd, ws, f"finetune_{kind}_round{round_no}")
        rv.activate(ws / "workspace.db", result.model_id, logs / f"activate_{kind}_round{round_no}.log")
        rv.run_logged(rv.cli("score", "--db", str(ws), "--model", str(result.model_id), "--device", args.device,
                             "--workers", str(args.workers)), logs / f"score_{kind}_round{round_no}.log",
                      f"score {kind} (round {round_no})")
        made[kind] = result.model_id
    return made


# ---------------------------------------------------------------------------------------------- figures
def marks(n: int) -> dict[str, int]:
    """Bins reviewed at each fraction of a population of n."""
    return {f"{round(100 * f)}%": max(1, round(f * n)) for f in FRACTIONS}


def figures(order: list[str], pop: Population, members: set[str] | None = None) -> dict[str, Any]:
    """Found, recall, lift and the rule's part at 10% and 20% of the members reviewed, for one review order."""
    members = set(pop.ids) if members is None else members
    seen = [i for i in order if i in members]
    n, k_all = len(members), pop.variances(members)
    rate = k_all / n if n else 0.0
    curve = found_curve(np.array([pop.variance[i] for i in seen], dtype=bool))
    out: dict[str, Any] = {"reviewed": len(seen), "found": int(curve[-1]) if curve.size else 0}
    for tag, k in marks(n).items():
        if k > len(seen):
            out[tag] = None  # this order reviewed fewer of these bins
            continue
        found = int(curve[k - 1])
        rule = sum(pop.variance[i] and i in pop.rule for i in seen[:k])
        out[tag] = {"reviewed": k, "found": found, "recall": round(found / k_all, 4) if k_all else None,
                    "random_expected": round(float(random_expectation(k, rate)), 2),
                    "best": int(best_curve(k_all, k)), "lift": round(lift(found, k, rate), 3),
                    "found_by_rule": rule, "found_by_models": found - rule}
    return out


def random_orders(pop: Population, args: argparse.Namespace) -> list[list[str]]:
    """`--shuffles` seeded random orders of the population, each cut at the budget."""
    rng = np.random.default_rng(args.seed)
    budget = budget_bins(pop, args.budget)
    ids = np.array(pop.ids, dtype=object)
    return [list(rng.permutation(ids)[:budget]) for _ in range(args.shuffles)]


def best_order(pop: Population, args: argparse.Namespace) -> list[str]:
    """Every variance first (in queue order), then the rest: the most any order can find."""
    ranked = [i for i in pop.ids if pop.variance[i]] + [i for i in pop.ids if not pop.variance[i]]
    return ranked[:budget_bins(pop, args.budget)]


def random_figures(orders: list[list[str]], pop: Population, members: set[str] | None = None) -> dict[str, Any]:
    """The exact expectation of a random order (the lift's baseline: lift 1), beside the shuffles' mean."""
    members = set(pop.ids) if members is None else members
    n, k_all = len(members), pop.variances(members)
    shuffled = [figures(o, pop, members) for o in orders]
    budget = len(orders[0]) if orders else 0
    expected_reviewed = round(budget * n / len(pop.ids)) if pop.ids else 0
    out: dict[str, Any] = {"reviewed": expected_reviewed,
                           "found": round(float(random_expectation(expected_reviewed, k_all / n if n else 0.0)), 2)}
    for tag, k in marks(n).items():
        found = [f[tag]["found"] for f in shuffled if f[tag] is not None]
        if k > expected_reviewed or not found:
            out[tag] = None
            continue
        expected = float(random_expectation(k, k_all / n))
        out[tag] = {"reviewed": k, "found": round(expected, 2), "recall": round(expected / k_all, 4) if k_all else None,
                    "random_expected": round(expected, 2), "best": int(best_curve(k_all, k)), "lift": 1.0,
                    "shuffles_mean": round(float(np.mean(found)), 2), "shuffles_min": int(np.min(found)),
                    "shuffles_max": int(np.max(found)), "shuffles": len(found)}
    return out


def curves(orders: dict[str, list[str]], shuffles: list[list[str]], pop: Population,
           members: set[str] | None = None) -> dict[str, Any]:
    """Each policy's found-vs-reviewed curve over the members (cumulative found after 1..n member reviews)."""
    members = set(pop.ids) if members is None else members
    out: dict[str, Any] = {"bins": len(members), "variances": pop.variances(members)}
    for name, order in orders.items():
        seen = [i for i in order if i in members]
        out[name] = found_curve(np.array([pop.variance[i] for i in seen], dtype=bool)).tolist()
    if shuffles:
        seen = [[i for i in o if i in members] for o in shuffles]
        length = min(len(s) for s in seen)
        stack = np.array([found_curve(np.array([pop.variance[i] for i in s[:length]], dtype=bool)) for s in seen])
        out["random_shuffles_low"] = np.percentile(stack, 5, axis=0).tolist() if length else []
        out["random_shuffles_high"] = np.percentile(stack, 95, axis=0).tolist() if length else []
    return out


def recalibration_ceiling(db: Path, pop: Population, args: argparse.Namespace) -> dict[str, Any]:
    """What limits the loop's cheap half: lift at 10% of the queue reordered by the same recalibration fitted with
    every bin's truth known (in-sample: the most these features can give), on a random sample of the budget's
    size (no selection), and on the fixed queue's reviewed top (what the loop sees), beside the models' order."""
    from binaudit.core.audit import apply_recalibration, fit_recalibration
    from binaudit.core.browse import BrowseIndex

    with Store.open(db) as store:
        index = BrowseIndex.load(store)
    pos = index.positions(pop.ids)  # in the initial queue order
    prior = index.base_variance_logit(pos)
    x = {name: column[pos] for name, column in index.recalibration_features().items()}
    is_var = np.array([pop.variance[i] for i in pop.ids], dtype=bool)
    rule = np.array([i in pop.rule for i in pop.ids], dtype=bool)
    budget, k10 = budget_bins(pop, args.budget), marks(pop.size)["10%"]
    rate = pop.variances() / pop.size

    evidence = replace(index.count_evidence(pos), verified=np.array([pop.true[i] for i in pop.ids], np.int64))

    def lift_if_fitted_on(rows: np.ndarray, candidate: str = "full") -> float:
        rec = fit_recalibration({n: c[rows] for n, c in x.items()}, is_var[rows], prior[rows], candidate=candidate,
                                evidence=evidence.rows(rows))
        p = apply_recalibration(rec, x, prior, evidence)
        order = np.lexsort((-p, ~rule))  # the rule's rows first, as the queue keeps them
        return round(lift(int(is_var[order[:k10]].sum()), k10, rate), 3)

    sample = np.random.default_rng(args.seed).choice(pop.size, budget, replace=False)
    return {"models_order": round(lift(int(is_var[:k10].sum()), k10, rate), 3),
            "fitted_on_all_truth": lift_if_fitted_on(np.arange(pop.size)),
            "fitted_on_random_sample": lift_if_fitted_on(sample),
            "fitted_on_queue_top": lift_if_fitted_on(np.arange(budget)), "fitted_rows": budget,
            "sizes_fitted_on_all_truth": lift_if_fitted_on(np.arange(pop.size), "sizes"),
            "sizes_fitted_on_queue_top": lift_if_fitted_on(np.arange(budget), "sizes")}


# ---------------------------------------------------------------------------------------------- report
COLOURS = {"loop": "tab:red", "fixed": "tab:blue", "random": "tab:gray", "best": "tab:green"}


def plot(curve_sets: dict[str, dict[str, Any]], path: Path, title: str) -> str:
    """Found vs reviewed, one panel per bin set (all bins, test split), saved as PNG; returns how it was drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curve_sets), figsize=(6.5 * len(curve_sets), 5), squeeze=False)
    for ax, (name, c) in zip(axes[0], curve_sets.items()):
        draw_panel(ax, c, name)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"matplotlib {matplotlib.__version__}"


def draw_panel(ax: Any, c: dict[str, Any], name: str) -> None:
    """One panel: each policy's curve, the random expectation with the shuffles' 5-95% band, 10% and 20% marks."""
    n, k = c["bins"], c["variances"]
    longest = max((len(v) for key, v in c.items() if key in POLICIES), default=0)
    x = np.arange(longest + 1)
    if c.get("random_shuffles_low"):
        xs = np.arange(1, len(c["random_shuffles_low"]) + 1)
        ax.fill_between(xs, c["random_shuffles_low"], c["random_shuffles_high"], color="tab:gray", alpha=0.2,
                        label="random shuffles 5-95%")
    ax.plot(x, x * (k / n if n else 0), color="tab:gray", linestyle="--", label="random (expected)")
    ax.plot(x, np.minimum(x, k), color="tab:green", linestyle=":", label="best possible")
    for policy in ("fixed", "loop"):
        if policy in c:  # from (0, 0): nothing found before the first review
            ax.plot(np.arange(len(c[policy]) + 1), [0, *c[policy]], color=COLOURS[policy], label=f"queue, {policy}")
    for f in FRACTIONS:
        ax.axvline(f * n, color="black", linewidth=0.6, alpha=0.4)
        ax.text(f * n, 0, f" {round(100 * f)}%", fontsize=8, va="bottom")
    ax.set_xlim(0, max(longest, 1))
    ax.set_ylim(0, max(min(longest, k), 1) * 1.05)
    ax.set_xlabel(f"bins reviewed ({name}: {n} bins, {k} variances)")
    ax.set_ylabel("variances found")
    ax.legend(fontsize=8, loc="upper left")


def fmt_cell(row: dict[str, Any] | None) -> str:
    """found (lift x, rule part) at one mark, or '-' where the order did not get there."""
    if row is None:
        return "-"
    return f"{row['found']:g} ({row['lift']:.2f}x)"


def print_table(result: dict[str, Any]) -> None:
    """The figures as a readable table on stdout."""
    pop = result["population"]
    s = result["settings"]
    print(f"\naudit yield: {pop['bins']} bins ({s['split']}), {pop['variances']} variances "
          f"(rate {pop['rate']:.3f}; metadata rule flags {pop['rule_flagged']} bins, {pop['rule_flagged_variances']}"
          f" of them variances); {result['budget']} reviews ({s['budget']:.0%}) in rounds of {s['round']}, "
          f"fine-tune every {s['finetune_every'] or 'never'}")
    for section in ("all", "test_split", "planted_range"):
        block = result["policies"] if section == "all" else result[section]["policies"]
        if section != "all":
            t = result[section]
            print(f"\n{SECTION_TITLES[section]} within the same review orders ({t['bins']} bins, "
                  f"{t['variances']} variances):")
        print(f"  {'policy':<10} {'reviewed':>8} {'found':>7} {'@10%: found (lift)':>20} {'@20%: found (lift)':>20} "
              f"{'rule part @10%':>15}")
        for name, row in block.items():
            ten = row.get("10%")
            rule = "-" if not ten or "found_by_rule" not in ten else f"{ten['found_by_rule']} of {ten['found']}"
            print(f"  {name:<10} {row['reviewed']:>8} {row['found']:>7g} {fmt_cell(ten):>20} "
                  f"{fmt_cell(row.get('20%')):>20} {rule:>15}")
    print(f"\nok rule: loop lift at 10% >= {TARGET_LIFT_10} with >= {MIN_VARIANCES} variances: {result['ok']}")
    print(f"plot: {result['plot']}\n")


# ---------------------------------------------------------------------------------------------- main
def base_folder(args: argparse.Namespace, out: Path) -> Path:
    """The real_variances out folder to start from: --from, else a fresh pipeline run into OUT/rv."""
    if args.from_dir:
        base = Path(args.from_dir).resolve()
        for need in (base / "ws" / "workspace.db", base / "truth.json"):
            if not need.exists():
                raise SystemExit(f"audit_yield: --from {base}: no {need.relative_to(base)} (a real_variances out folder)")
        return base
    return run_pipeline(args, out)


def store_policies(base: Path, out: Path, pop: Population, args: argparse.Namespace) -> dict[str, Simulated]:
    """Run each asked store policy on its own copy of the base workspace database."""
    done = {}
    for policy in (p for p in STORE_POLICIES if p in args.policies):
        ws = out / policy
        copy_database(base / "ws" / "workspace.db", ws / "workspace.db")
        say(f"{policy}: reviewing in rounds of {args.round} on {ws / 'workspace.db'}")
        done[policy] = simulate(ws, policy, pop, args)
        done[policy].stopping = stopping_check(ws, pop, args, done[policy].order)
    return done


def measure(pop: Population, sims: dict[str, Simulated], args: argparse.Namespace,
            members: set[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(figures per policy, curves) over the members (all of the population by default)."""
    orders = {name: sim.order for name, sim in sims.items()}
    shuffles = random_orders(pop, args) if "random" in args.policies else []
    if "best" in args.policies:
        orders["best"] = best_order(pop, args)
    table: dict[str, Any] = {}
    for name in args.policies:
        table[name] = random_figures(shuffles, pop, members) if name == "random" else figures(orders[name], pop,
                                                                                           members)
    return table, curves(orders, shuffles, pop, members)


def planted_range(pop: Population) -> set[str]:
    """Bins whose record is no larger than the largest record a planted variance has: real_variances plants only
    in bins of small counts, so a bin above this never holds a variance, which a loop can learn from the reviews
    (an artefact of the planting, reported apart)."""
    top = max((pop.recorded[i] for i in pop.ids if pop.variance[i]), default=-1)
    return {i for i in pop.ids if pop.recorded[i] <= top}


def population_facts(pop: Population) -> dict[str, Any]:
    k = pop.variances()
    return {"bins": pop.size, "variances": k, "rate": round(k / pop.size, 4) if pop.size else None,
            "rule_flagged": len(pop.rule), "rule_flagged_variances": pop.variances(pop.rule),
            "splits": {s: sum(v == s for v in pop.split.values()) for s in SPLITS[1:]},
            "left_out_of_queue_bins": pop.dropped}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything after parsing: the bins, the policies, the figures, the plot; returns the result."""
    out = Path(args.out).resolve()
    started = time.perf_counter()
    prepare_out(out, Path(args.from_dir).resolve() if args.from_dir else None)
    base = base_folder(args, out)
    truth = json.loads((base / "truth.json").read_text())["images"]
    probe = out / "initial" / "workspace.db"  # opened read-write (Store migrates), so a copy, never base's own
    copy_database(base / "ws" / "workspace.db", probe)
    pop = load_population(probe, truth, args)
    say(f"population: {pop.size} bins, {pop.variances()} variances ({args.split})")
    ceiling = recalibration_ceiling(probe, pop, args)
    say(f"recalibration ceiling (lift at 10%): {ceiling}")
    sims = store_policies(base, out, pop, args)
    table, curve_all = measure(pop, sims, args)
    test_members = {i for i in pop.ids if pop.split[i] == "test"}
    test_table, curve_test = measure(pop, sims, args, test_members)
    in_range = planted_range(pop)
    range_table, _ = measure(pop, sims, args, in_range)
    (out / "curves.json").write_text(json.dumps({"all": curve_all, "test": curve_test}))
    budget = budget_bins(pop, args.budget)
    drawn = plot({"all": curve_all, "test split": curve_test}, out / "audit_yield.png",
                 f"audit yield: {budget} reviews in rounds of {args.round}, "
                 + (f"fine-tune every {args.finetune_every} rounds" if args.finetune_every else "no fine-tuning")
                 + f" ({base.name})")
    fixed = sims.get("fixed")
    return {
        "bench": "audit_yield",
        "settings": {**{k: v for k, v in vars(args).items()}, "from": str(base), "out": str(out),
                     "user": SIM_USER, "argv": sys.argv[1:], "commands": rv.COMMANDS_RUN},
        "population": population_facts(pop), "budget": budget,
        "policies": table,
        "test_split": {"bins": len(test_members), "variances": pop.variances(test_members), "policies": test_table},
        "planted_range": {"bins": len(in_range), "variances": pop.variances(in_range), "policies": range_table,
                          "largest_record": max((pop.recorded[i] for i in in_range), default=None)},
        "lift_at_10pct": {name: (row.get("10%") or {}).get("lift") for name, row in table.items()},
        "lift_at_20pct": {name: (row.get("20%") or {}).get("lift") for name, row in table.items()},
        "rounds": {name: sim.rounds for name, sim in sims.items()},
        "recalibration_ceiling_lift_at_10pct": ceiling,
        "stopping": {name: sim.stopping for name, sim in sims.items()},
        "fixed_matches_initial_queue": None if fixed is None else fixed.order == pop.ids[:len(fixed.order)],
        "plot": str(out / "audit_yield.png"), "plot_drawn_with": drawn, "curves": str(out / "curves.json"),
        "seconds": {"total": round(time.perf_counter() - started, 1),
                    **{name: round(sim.seconds, 1) for name, sim in sims.items()},
                    **({"loop_updates": round(sims["loop"].loop_seconds, 1)} if "loop" in sims else {})},
        "targets": {"lift_at_10pct_min": TARGET_LIFT_10, "min_variances": MIN_VARIANCES},
    }


def verdict(result: dict[str, Any]) -> bool:
    """The ok rule of the module docstring."""
    loop = result["lift_at_10pct"].get("loop")
    return bool(loop is not None and loop >= TARGET_LIFT_10 and result["population"]["variances"] >= MIN_VARIANCES)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    result["ok"] = verdict(result)
    print_table(result)
    (Path(result["settings"]["out"]) / "result.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
