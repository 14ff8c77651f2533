"""Does the audit queue find variances on real photos? Self-consistent variances planted into a copy of real bins.

Steps (every step's output goes to a log file in the out folder):
  1. copy an ABID-layout folder (`--source`, default ../shared/abid-real): photos as hard links (a copy where
     linking fails), metadata written afresh; into a random `--rate` of the eligible bins (recorded count
     0..MAX_COUNT, at least one SKU, SKU quantities adding up to EXPECTED_QUANTITY) plant a variance as a misplaced
     item looks: EXPECTED_QUANTITY and one SKU's `quantity` change together by a non-zero delta in -2..+2 (both
     stay >= 0). Photos whose original records match (the count and the same key, ASIN and quantity of every
     SKU: one bin shot again) get the same change, so they stay one bin. The original counts (the truth) go to OUT/truth.json, never into the copy;
  2. `binaudit import COPY --db OUT/ws`;
  3. `python -m training svm ...` (the issue's reference settings) and `python -m training resnet --recipe demo ...`
     train on the workspace's recorded (partly planted) counts, as they would in the app;
  4. the models are activated (`binaudit models activate`, or Store.activate_model where that command is missing)
     and `binaudit score` scores every photo;
  5. on the test split, and separately on the training split (where each model's stored predictions are
     out-of-fold when its run kept cross-fitted ones: the SVM's always, the ResNet's with --cross-fit):
     - count accuracy and RMSE (counts 0..MAX_COUNT) of each model against the ORIGINAL records, beside chance
       (a uniform guess over 0..MAX_COUNT, its expected accuracy and RMSE) and always predicting the commonest
       recorded count of the training split;
     - recall of the planted variances in the first 5% and 10% of the audit queue: the app's own
       (BrowseIndex.queue_order over the split's scored photos), the same queue restricted to recorded counts
       0..MAX_COUNT (the models' range), and each model's stored mismatch score alone; beside a random order of
       the same photos (mean of `--shuffles` seeded shuffles) and the best possible order;
     - how many planted variances the metadata rule (an inconsistent record leads the queue) flags.

ok rule: on the test split, the app's own queue holds at least 1.5x the planted variances a random order of the
same photos holds in its first 10% (recall@10% >= 1.5 x the shuffles' mean), with at least 20 planted variances
in the test split (fewer is noise, so a `--limit` smoke run is never ok). The script exits 0 when ok, else 1,
and ends with one line of JSON holding every figure, the targets and the exact settings.

    python bench/real_variances.py [--source DIR] [--out DIR] [--rate 0.1] [--seed 0] [--limit N]
        [--resnet-epochs 5] [--input-size 48] [--skip-resnet] [--threads 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.core.abid import DatasetEntry, scan_dataset

ROOT = Path(__file__).resolve().parents[1]

MAX_COUNT = 5
DELTAS = (-2, -1, 1, 2)
FRACTIONS = (0.05, 0.10)
SPLITS_MEASURED = ("test", "train")
TARGET_RATIO = 1.5
MIN_PLANTED_TEST = 20
MARKER = ".real_variances"  # marks an out folder this script made, so a rerun may replace it
COMMANDS_RUN: list[str] = []  # every subprocess this run started, in order, for the JSON line
SVM_REFERENCE = ["--size", "32", "--hog", "--pca", "100", "--max-count", str(MAX_COUNT)]


def say(text: str) -> None:
    """A progress line on stderr (the table and the JSON line go to stdout)."""
    print(f"[real_variances {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(ROOT.parent / "shared" / "abid-real"),
                    help="an ABID-layout (or flat) folder of photos and records (default: ../shared/abid-real)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "real_variances"),
                    help="work folder: the copy, truth.json, the workspace, models and logs (replaced on rerun)")
    ap.add_argument("--rate", type=float, default=0.1, help="fraction of the eligible photos given a variance")
    ap.add_argument("--seed", type=int, default=0, help="seed of the planting, the training runs and the shuffles")
    ap.add_argument("--limit", type=int, default=0, help="only the first N ids of the source (smoke runs)")
    ap.add_argument("--skip-resnet", action="store_true", help="train and score the SVM only")
    ap.add_argument("--resnet-recipe", default="demo", help="python -m training recipes (default: demo)")
    ap.add_argument("--resnet-epochs", type=int, default=5, help="ResNet epochs (default: the demo's 5)")
    ap.add_argument("--resnet-cross-fit", type=int, default=0,
                    help="K fold models score the ResNet's training photos out-of-fold (0 = in-sample; 2 about "
                         "doubles the ResNet's time)")
    ap.add_argument("--resnet-args", default="",
                    help="more `python -m training resnet` arguments, quoted (e.g. \"--loss neighbour --letterbox\")")
    ap.add_argument("--input-size", type=int, default=48, help="ResNet input size in pixels (default: the demo's 48)")
    ap.add_argument("--batch-size", type=int, default=32, help="ResNet training batch")
    ap.add_argument("--svm-folds", type=int, default=None,
                    help="k of the SVM's out-of-fold probabilities (default: the training module's)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for training")
    ap.add_argument("--workers", type=int, default=2, help="processes for import, SVM features and score decoding")
    ap.add_argument("--device", default="auto", help="training and scoring device: auto, cpu, cuda, ...")
    ap.add_argument("--shuffles", type=int, default=100, help="random orders averaged for the random baseline")
    return ap.parse_args(argv)


# ---------------------------------------------------------------------------------------------- planting
@dataclass
class Record:
    """One source id: its files, its parsed record (None if it does not parse) and its planned change."""

    entry: DatasetEntry
    doc: dict[str, Any] | None = None
    raw: bytes = b""
    sku: str | None = None
    delta: int = 0


def load_records(source: Path, limit: int) -> list[Record]:
    """Pair photos and records as the importer does; the first `limit` ids (all when 0), problems left out."""
    entries = [e for e in scan_dataset(source) if e.problem is None]
    if limit > 0:
        entries = entries[:limit]
    records = []
    for entry in entries:
        record = Record(entry)
        if entry.metadata_file:
            record.raw = Path(entry.metadata_file).read_bytes()
            try:
                doc = json.loads(record.raw)
                record.doc = doc if isinstance(doc, dict) else None
            except (ValueError, UnicodeDecodeError):
                record.doc = None
        records.append(record)
    return records


def recorded_count(doc: dict[str, Any] | None) -> int | None:
    """EXPECTED_QUANTITY when it is a plain non-negative integer, else None."""
    value = doc.get("EXPECTED_QUANTITY") if doc else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def sku_quantities(doc: dict[str, Any]) -> dict[str, int] | None:
    """key -> quantity of every SKU, or None when any SKU lacks a plain non-negative integer quantity."""
    skus = doc.get("BIN_FCSKU_DATA")
    if not isinstance(skus, dict):
        return None
    out = {}
    for key, sku in skus.items():
        qty = sku.get("quantity") if isinstance(sku, dict) else None
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            return None
        out[key] = qty
    return out


def eligible(doc: dict[str, Any] | None) -> bool:
    """Counts 0..MAX_COUNT with at least one SKU and a self-consistent record (SKU quantities add up)."""
    count = recorded_count(doc)
    if doc is None or count is None or count > MAX_COUNT:
        return False
    qty = sku_quantities(doc)
    return qty is not None and len(qty) > 0 and sum(qty.values()) == count


def content_key(doc: dict[str, Any]) -> str:
    """What makes two records one bin shot twice: the count and the same (key, ASIN, quantity) SKU entries."""
    skus = sorted((key, str(sku.get("asin")), sku.get("quantity")) for key, sku in doc["BIN_FCSKU_DATA"].items())
    return json.dumps([doc["EXPECTED_QUANTITY"], skus])


def bin_groups(records: list[Record]) -> list[list[Record]]:
    """Eligible records grouped by identical content (repeat shots of one bin), in id order of the first shot."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.doc is not None and eligible(record.doc):
            groups.setdefault(content_key(record.doc), []).append(record)
    return list(groups.values())


def plan_variances(records: list[Record], rate: float, rng: np.random.Generator) -> int:
    """Choose bins in random order until `rate` of the eligible photos have a change; returns photos planted."""
    groups = bin_groups(records)
    want = round(rate * sum(len(g) for g in groups))
    planted = 0
    for g in rng.permutation(len(groups)):
        if planted >= want:
            break
        group = groups[int(g)]
        qty = sku_quantities(group[0].doc or {}) or {}  # never empty: the group is eligible
        sku = sorted(qty)[int(rng.integers(len(qty)))]
        deltas = [d for d in DELTAS if qty[sku] + d >= 0]
        delta = int(deltas[int(rng.integers(len(deltas)))])
        for record in group:
            record.sku, record.delta = sku, delta
        planted += len(group)
    return planted


def planted_doc(record: Record) -> dict[str, Any]:
    """The record with EXPECTED_QUANTITY and the chosen SKU's quantity changed together (key order kept)."""
    doc = json.loads(record.raw)
    doc["EXPECTED_QUANTITY"] += record.delta
    doc["BIN_FCSKU_DATA"][record.sku]["quantity"] += record.delta
    return doc


def link_or_copy(src: str, dst: Path) -> bool:
    """Hard-link a photo into the copy; copy it where linking is impossible. True when linked."""
    try:
        os.link(src, dst)
        return True
    except OSError:
        shutil.copy2(src, dst)
        return False


def write_copy(records: list[Record], copy: Path) -> dict[str, int]:
    """The copy in ABID layout: photos linked, every record written (planted ones changed)."""
    (copy / "bin-images").mkdir(parents=True)
    (copy / "metadata").mkdir()
    linked = copied = 0
    for record in records:
        entry = record.entry
        if entry.image_file:
            if link_or_copy(entry.image_file, copy / "bin-images" / Path(entry.image_file).name):
                linked += 1
            else:
                copied += 1
        if entry.metadata_file:
            data = record.raw if not record.delta else (json.dumps(planted_doc(record), indent=4) + "\n").encode()
            (copy / "metadata" / Path(entry.metadata_file).name).write_bytes(data)
    return {"photos_linked": linked, "photos_copied": copied}


def truth_table(records: list[Record]) -> dict[str, dict[str, Any]]:
    """image id -> original count, the count written into the copy and the planted change (if any)."""
    out = {}
    for record in records:
        count = recorded_count(record.doc)
        if count is None:
            continue
        out[record.entry.image_id] = {"true_count": count, "recorded_count": count + record.delta,
                                      "planted": bool(record.delta), "delta": record.delta or None,
                                      "sku": record.sku if record.delta else None}
    return out


def prepare_out(out: Path) -> None:
    """A fresh out folder; an existing one is replaced only if this script made it."""
    if out.exists():
        if not (out / MARKER).exists():
            raise SystemExit(f"real_variances: {out} exists and was not made by this script; choose another --out")
        shutil.rmtree(out)
    (out / "logs").mkdir(parents=True)
    (out / MARKER).write_text("made by bench/real_variances.py; removed by its next run\n")


def make_copy(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Step 1: copy the source with planted variances; write truth.json beside (not inside) the copy."""
    records = load_records(Path(args.source), args.limit)
    eligible_photos = sum(eligible(r.doc) for r in records)
    planted = plan_variances(records, args.rate, np.random.default_rng(args.seed))
    files = write_copy(records, out / "copy")
    truth = truth_table(records)
    (out / "truth.json").write_text(json.dumps({"source": str(Path(args.source).resolve()), "rate": args.rate,
                                                "seed": args.seed, "images": truth}, separators=(",", ":")))
    return {"ids": len(records), "with_count": len(truth), "eligible": eligible_photos, "planted": planted,
            **files, "truth": truth}


# ---------------------------------------------------------------------------------------------- subprocesses
def cli(*words: str) -> list[str]:
    """The `binaudit` command, run by this interpreter."""
    return [sys.executable, "-m", "binaudit.cli", *words]


def run_logged(cmd: list[str], log: Path, label: str, heartbeat: float = 60.0) -> float:
    """Run a command with stdout and stderr to a log file, a progress line a minute; returns seconds."""
    say(f"{label}: {shlex.join(cmd)} (log: {log})")
    COMMANDS_RUN.append(shlex.join(cmd))
    started = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
        while True:
            try:
                proc.wait(timeout=heartbeat)
                break
            except subprocess.TimeoutExpired:
                say(f"{label}: {time.perf_counter() - started:.0f} s, {last_progress(log)}")
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"real_variances: {label} failed (exit {proc.returncode}); see {log}:\n{tail(log)}")
    say(f"{label}: done in {seconds:.0f} s")
    return seconds


def tail(log: Path, chars: int = 2000) -> str:
    text = log.read_text(errors="replace")
    return text[-chars:]


def last_progress(log: Path) -> str:
    """The latest progress-bar state or line of a log (tqdm redraws with carriage returns)."""
    text = tail(log, 600).replace("\r", "\n").strip().splitlines()
    return text[-1].strip() if text else "no output yet"


@dataclass
class TrainResult:
    model_id: int
    seconds: float
    final: dict[str, Any] = field(default_factory=dict)


def train(cmd: list[str], out: Path, label: str) -> TrainResult:
    """Run a training subcommand, following its JSON-lines stream for progress; returns the registered model."""
    stream_path, log_path = out / "logs" / f"{label}.jsonl", out / "logs" / f"{label}.log"
    say(f"train {label}: {shlex.join(cmd)} (logs: {stream_path}, {log_path})")
    COMMANDS_RUN.append(shlex.join(cmd))
    started = time.perf_counter()
    final: dict[str, Any] = {}
    with stream_path.open("w") as stream, log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
        shown: dict[str, int] = {}
        for line in proc.stdout:  # type: ignore[union-attr]
            stream.write(line)
            stream.flush()
            event = parse_event(line)
            if event:
                show_event(label, event, shown, time.perf_counter() - started)
                if event.get("event") in ("finished", "failed", "cancelled"):
                    final = event
        proc.wait()
    seconds = time.perf_counter() - started
    if final.get("event") != "finished" or final.get("model_id") is None:
        raise SystemExit(f"real_variances: training {label} failed (exit {proc.returncode}): "
                         f"{final.get('reason', 'no final event')}; see {log_path}:\n{tail(log_path)}")
    say(f"train {label}: model {final['model_id']} in {seconds:.0f} s")
    return TrainResult(int(final["model_id"]), seconds, final)


def parse_event(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def show_event(label: str, event: dict[str, Any], shown: dict[str, int], elapsed: float) -> None:
    """A progress line per epoch, per quarter of a progress stage, and at the start."""
    kind = event.get("event")
    if kind == "started":
        sizes = {k: v.get("n") for k, v in (event.get("images") or {}).items()}
        say(f"train {label}: started, images {sizes}, epochs {event.get('epochs')}")
    elif kind == "progress" and event.get("total"):
        quarter = int(4 * event["done"] / event["total"])
        if shown.get(event["stage"], -1) < quarter:
            shown[event["stage"]] = quarter
            say(f"train {label}: {event['stage']} {event['done']}/{event['total']} ({elapsed:.0f} s)")
    elif kind == "batch" and event.get("batches"):
        step = max(1, event["batches"] // 4)
        if event["batch"] % step == 0:
            say(f"train {label}: epoch {event['epoch']} batch {event['batch']}/{event['batches']} "
                f"loss {event['loss']:.3f} ({elapsed:.0f} s)")
    elif kind == "epoch":
        say(f"train {label}: epoch {event['epoch']} train acc {event['train_acc']:.3f} val acc "
            f"{event['val_acc']:.3f} val RMSE {event['val_rmse']:.3f} ({event['seconds']:.0f} s)")


def has_models_command() -> bool:
    """True once `binaudit models activate` exists (another change adds it)."""
    done = subprocess.run(cli("models", "activate", "--help"), capture_output=True, text=True, cwd=ROOT,
                          check=False)
    return done.returncode == 0


def activate(db: Path, model_id: int, log: Path) -> str:
    """Make the model active: by the command where it exists, else by the store's own call."""
    if has_models_command():
        run_logged(cli("models", "activate", str(model_id), "--db", str(db)), log, f"activate model {model_id}")
        return "binaudit models activate"
    from binaudit.core.store import Store
    with Store.open(db) as store:
        store.activate_model(model_id)
    say(f"activated model {model_id} with Store.activate_model (no `binaudit models activate` yet)")
    return "Store.activate_model"


# ---------------------------------------------------------------------------------------------- measuring
def count_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Accuracy and RMSE of predictions p against counts y."""
    if y.size == 0:
        return {"n": 0, "accuracy": None, "rmse": None}
    return {"n": int(y.size), "accuracy": round(float((y == p).mean()), 4),
            "rmse": round(float(np.sqrt(((y - p) ** 2).mean())), 4)}


def chance_metrics(y: np.ndarray) -> dict[str, Any]:
    """Expected accuracy and RMSE of a uniform guess over 0..MAX_COUNT against counts y."""
    if y.size == 0:
        return {"n": 0, "accuracy": None, "rmse": None}
    guesses = np.arange(MAX_COUNT + 1)
    mse = float(((guesses[None, :] - y[:, None]) ** 2).mean())
    return {"n": int(y.size), "accuracy": round(1 / (MAX_COUNT + 1), 4), "rmse": round(float(np.sqrt(mse)), 4)}


def split_columns(store: Any) -> dict[str, dict[str, Any]]:
    """image id -> split, import status and recorded count, from the store."""
    rows = store.query("SELECT image_id, split, status, recorded_count FROM images")
    return {r["image_id"]: r for r in rows}


def accuracy_section(store: Any, models: dict[str, int], truth: dict[str, dict[str, Any]],
                     images: dict[str, dict[str, Any]], split: str, commonest: int) -> dict[str, Any]:
    """Each model's accuracy/RMSE against the original counts 0..MAX_COUNT of one split, with the baselines."""
    ids = [i for i, row in images.items()
           if row["split"] == split and i in truth and truth[i]["true_count"] <= MAX_COUNT]
    y_all = np.array([truth[i]["true_count"] for i in ids], dtype=np.int64)
    out: dict[str, Any] = {"chance": chance_metrics(y_all),
                           "commonest": count_metrics(y_all, np.full_like(y_all, commonest))}
    for kind, model_id in models.items():
        rows = store.predictions(model_id, ids)
        pred = {r["image_id"]: int(r["predicted"]) for r in rows}
        have = [i for i in ids if i in pred]
        y = np.array([truth[i]["true_count"] for i in have], dtype=np.int64)
        out_of_fold = sum(r.get("source") == "oof" for r in rows)
        probs = {r["image_id"]: r["probs"] for r in rows}
        out[kind] = {**count_metrics(y, np.array([pred[i] for i in have], dtype=np.int64)),
                     "ece": expected_calibration_error([probs[i] for i in have], y),
                     "unscored": len(ids) - len(have), "out_of_fold_share": round(out_of_fold / max(len(rows), 1), 4)}
    if len(models) > 1:
        out["pool"] = pooled_metrics(store, ids, y_all)
    return out


def expected_calibration_error(probs: list[list[float]], y: np.ndarray) -> float | None:
    """ECE (15 bins, top label) of probability vectors against the original counts (None without rows)."""
    from binaudit.core.calibration import calibration_bins, ece_from_bins

    if not len(probs):
        return None
    width = min(len(p) for p in probs)
    p = np.array([row[:width - 1] + [sum(row[width - 1:])] for row in probs])  # wider models: top class "or more"
    return round(float(ece_from_bins(calibration_bins(p, np.minimum(y, width - 1)))), 4)


def pooled_metrics(store: Any, ids: list[str], y: np.ndarray) -> dict[str, Any]:
    """The queue's own count model: the log-linear pool of the active models (weights fitted on val), its argmax."""
    from binaudit.core import variance
    from binaudit.core.browse import BrowseIndex

    index = BrowseIndex.load(store)
    _, pooled = variance.combine(index._pool_probs(), index.recorded, index.pool)
    rows = np.array([index.position(i) for i in ids])
    p = pooled[rows]
    scored = np.isfinite(p).all(axis=1)
    pred = p[scored].argmax(axis=1)
    return {**count_metrics(y[scored], pred), "ece": expected_calibration_error(p[scored].tolist(), y[scored]),
            "weights": index.pool.weights, "unscored": int((~scored).sum())}


def commonest_count(images: dict[str, dict[str, Any]]) -> int:
    """The commonest recorded count 0..MAX_COUNT of the training split (what a trainer sees)."""
    counts = np.bincount([r["recorded_count"] for r in images.values() if r["split"] == "train"
                          and r["recorded_count"] is not None and 0 <= r["recorded_count"] <= MAX_COUNT],
                         minlength=MAX_COUNT + 1)
    return int(np.argmax(counts))


def recall_at(order: list[str], planted: set[str], fraction: float) -> float:
    """Share of the planted variances among the first `fraction` of an order."""
    k = round(fraction * len(order))
    return len(planted.intersection(order[:k])) / len(planted) if planted else float("nan")


def recall_row(order: list[str], planted: set[str], rng: np.random.Generator, shuffles: int) -> dict[str, Any]:
    """Recall at each fraction for an order, beside the same photos shuffled and the best possible order."""
    inside = planted.intersection(order)
    row: dict[str, Any] = {"photos": len(order), "planted_in_order": len(inside)}
    randoms = [list(rng.permutation(np.array(order, dtype=object))) for _ in range(shuffles)]
    for f in FRACTIONS:
        k = round(f * len(order))
        tag = f"{round(100 * f)}"
        row[f"recall@{tag}%"] = round(recall_at(order, planted, f), 4)
        row[f"random@{tag}%"] = round(float(np.mean([recall_at(r, planted, f) for r in randoms])), 4)
        row[f"best@{tag}%"] = round(min(len(inside), k) / len(planted), 4) if planted else None
    return row


def model_order(index: Any, kind: str, positions: np.ndarray) -> list[str]:
    """The given rows that one model scored, by that model's stored mismatch score alone (highest first)."""
    score = index.models[kind].mismatch[positions]
    keep = positions[~np.isnan(score)]
    ranked = keep[np.argsort(-index.models[kind].mismatch[keep], kind="stable")]
    return [index.image_id(int(p)) for p in ranked]


def queue_section(store: Any, truth: dict[str, dict[str, Any]], images: dict[str, dict[str, Any]],
                  split: str, kinds: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Recall of one split's planted variances in the app's queue, its 0..MAX_COUNT part, and per model."""
    from binaudit.core.browse import BrowseFilter, BrowseIndex

    index = BrowseIndex.load(store)
    planted = {i for i, t in truth.items() if t["planted"] and images.get(i, {}).get("split") == split}
    rng = np.random.default_rng(args.seed)

    def ids(order: np.ndarray) -> list[str]:
        return [index.image_id(int(p)) for p in order]

    out: dict[str, Any] = {
        "planted": len(planted),
        "planted_flagged_by_metadata_rule": sum(images[i]["status"] == "inconsistent" for i in planted),
        "inconsistent_records": sum(r["split"] == split and r["status"] == "inconsistent" for r in images.values()),
        "queue": recall_row(ids(index.queue_order(BrowseFilter(split=split))), planted, rng, args.shuffles),
        f"queue_recorded_0_{MAX_COUNT}": recall_row(
            ids(index.queue_order(BrowseFilter(split=split, recorded_min=0, recorded_max=MAX_COUNT))),
            planted, rng, args.shuffles),
    }
    in_split = index.select(BrowseFilter(split=split))
    for kind in kinds:
        out[f"{kind}_alone"] = recall_row(model_order(index, kind, in_split), planted, rng, args.shuffles)
    return out


def measure(db: Path, models: dict[str, int], truth: dict[str, dict[str, Any]],
            args: argparse.Namespace) -> dict[str, Any]:
    """Step 5: counts and queue recall on the test and the training split."""
    from binaudit.core.store import Store

    with Store.open(db) as store:
        images = split_columns(store)
        commonest = commonest_count(images)
        out: dict[str, Any] = {"commonest_train_count": commonest,
                               "statuses": store.status_counts(),
                               "split_sizes": {s: sum(r["split"] == s for r in images.values())
                                               for s in ("train", "val", "test")}}
        for split in SPLITS_MEASURED:
            out[split] = {"counts": accuracy_section(store, models, truth, images, split, commonest),
                          "variances": queue_section(store, truth, images, split, list(models), args)}
    return out


# ---------------------------------------------------------------------------------------------- report
def fmt(value: Any, pct: bool = True) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def print_table(result: dict[str, Any], models: dict[str, int]) -> None:
    """The figures as a readable table on stdout."""
    m = result["measured"]
    print(f"\nreal variances: {result['copy']['ids']} ids from {result['settings']['source']}, "
          f"{result['copy']['planted']} of {result['copy']['eligible']} eligible photos planted "
          f"(rate {result['settings']['rate']}, seed {result['settings']['seed']}); "
          f"splits {m['split_sizes']}; statuses {m['statuses']}")
    for split in SPLITS_MEASURED:
        counts, var = m[split]["counts"], m[split]["variances"]
        note = "" if split != "train" else " (share of stored predictions made out-of-fold: " + ", ".join(
            f"{kind} {counts[kind]['out_of_fold_share']:.0%}" for kind in models) + ")"
        print(f"\n== {split} split{note}")
        print(f"count 0-{MAX_COUNT} against the original records (n={counts['chance']['n']}):")
        print(f"  {'predictor':<28} {'accuracy':>9} {'RMSE':>7} {'ECE':>7}")
        rows = [("chance (uniform 0-5)", counts["chance"]),
                (f"always {m['commonest_train_count']} (commonest)", counts["commonest"])]
        rows += [(f"{kind} (model {mid})", counts[kind]) for kind, mid in models.items()]
        rows += [("pool of the models", counts["pool"])] if "pool" in counts else []
        for name, row in rows:
            print(f"  {name:<28} {fmt(row['accuracy']):>9} {fmt(row['rmse'], pct=False):>7} "
                  f"{fmt(row.get('ece'), pct=False):>7}")
        print(f"planted variances: {var['planted']} (metadata rule flags {var['planted_flagged_by_metadata_rule']}; "
              f"{var['inconsistent_records']} inconsistent records in the split)")
        print(f"  {'order':<26} {'photos':>7} {'@5%':>7} {'random':>7} {'best':>7} {'@10%':>7} {'random':>7} "
              f"{'best':>7}")
        orders = ["queue", f"queue_recorded_0_{MAX_COUNT}", *[f"{k}_alone" for k in models]]
        for name in orders:
            r = var[name]
            print(f"  {name:<26} {r['photos']:>7} {fmt(r['recall@5%']):>7} {fmt(r['random@5%']):>7} "
                  f"{fmt(r['best@5%']):>7} {fmt(r['recall@10%']):>7} {fmt(r['random@10%']):>7} "
                  f"{fmt(r['best@10%']):>7}")
    print(f"\nok rule: test queue recall@10% >= {TARGET_RATIO} x random and >= {MIN_PLANTED_TEST} planted in test: "
          f"{result['ok']}\n")


def verdict(measured: dict[str, Any]) -> bool:
    """The ok rule of the module docstring."""
    var = measured["test"]["variances"]
    queue = var["queue"]
    return (var["planted"] >= MIN_PLANTED_TEST and queue["random@10%"] > 0
            and queue["recall@10%"] >= TARGET_RATIO * queue["random@10%"])


# ---------------------------------------------------------------------------------------------- main
def train_models(args: argparse.Namespace, db: Path, out: Path) -> dict[str, TrainResult]:
    """Step 3: the SVM (issue's reference settings) and, unless skipped, the ResNet."""
    svm_cmd = [sys.executable, "-m", "training", "svm", "--db", str(db), *SVM_REFERENCE, "--seed", str(args.seed),
               "--threads", str(args.threads), "--workers", str(args.workers)]
    if args.svm_folds is not None:
        svm_cmd += ["--folds", str(args.svm_folds)]
    results = {"svm": train(svm_cmd, out, "svm")}
    if not args.skip_resnet:
        resnet_cmd = [sys.executable, "-m", "training", "resnet", "--db", str(db), "--recipe", args.resnet_recipe,
                      "--epochs", str(args.resnet_epochs), "--input-size", str(args.input_size),
                      "--batch-size", str(args.batch_size), "--max-count", str(MAX_COUNT),
                      "--seed", str(args.seed), "--threads", str(args.threads), "--workers", "0",
                      "--device", args.device, "--cross-fit", str(args.resnet_cross_fit),
                      *shlex.split(args.resnet_args)]
        results["resnet"] = train(resnet_cmd, out, "resnet")
    return results


def trainer_metrics(final: dict[str, Any]) -> dict[str, Any]:
    """The training module's own figures (against the recorded, partly planted counts), without the per-class detail."""
    metrics = final.get("metrics") or {}
    keep = ("split", "n", "accuracy", "rmse", "val_accuracy", "val_rmse", "best_epoch")
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items() if k in keep}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out).resolve()
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    prepare_out(out)
    say(f"copying {args.source} to {out / 'copy'} and planting variances (rate {args.rate}, seed {args.seed})")
    t = time.perf_counter()
    copy = make_copy(args, out)
    truth = copy.pop("truth")
    seconds["copy"] = time.perf_counter() - t
    say(f"copy: {copy}")
    db = out / "ws" / "workspace.db"
    seconds["import"] = run_logged(cli("import", str(out / "copy"), "--db", str(out / "ws"),
                                       "--workers", str(args.workers)), out / "logs" / "import.log", "import")
    trained = train_models(args, db, out)
    models = {kind: r.model_id for kind, r in trained.items()}
    seconds.update({f"train_{kind}": r.seconds for kind, r in trained.items()})
    activated_by = ""
    for kind, model_id in models.items():
        activated_by = activate(db, model_id, out / "logs" / f"activate_{kind}.log")
        seconds[f"score_{kind}"] = run_logged(
            cli("score", "--db", str(out / "ws"), "--model", str(model_id), "--device", args.device,
                "--workers", str(args.workers)), out / "logs" / f"score_{kind}.log", f"score {kind}")
    say("measuring")
    measured = measure(db, models, truth, args)
    seconds["total"] = time.perf_counter() - started
    result: dict[str, Any] = {
        "bench": "real_variances",
        "settings": {**{k: v for k, v in vars(args).items()}, "source": str(Path(args.source).resolve()),
                     "out": str(out), "max_count": MAX_COUNT, "deltas": list(DELTAS),
                     "svm_args": SVM_REFERENCE, "activated_by": activated_by, "argv": sys.argv[1:],
                     "commands": COMMANDS_RUN},
        "copy": copy,
        "models": {kind: {"id": r.model_id, "trainer_metrics": trainer_metrics(r.final)}
                   for kind, r in trained.items()},
        "measured": measured,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "targets": {"test_queue_recall@10%_over_random_min": TARGET_RATIO, "min_planted_test": MIN_PLANTED_TEST},
    }
    result["ok"] = verdict(measured)
    print_table(result, models)
    print(json.dumps(result, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
