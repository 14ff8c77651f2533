"""Does cleaning the top of the label-issue queue and retraining improve held-out accuracy?

Synthetic bins with planted wrong counts (label noise) -> train an SVM on the noisy labels (the training
module, out-of-fold probabilities) -> held-out accuracy against the true counts -> a simulated curator
fixes the top `--clean` fraction of the training split ranked by the label-issue score (looking at the
photo = taking the count from truth.json) -> retrain -> held-out accuracy again. Also reports how many
of the fixed images were really mislabelled (precision of the queue) against a random pick.

    python bench/label_cleaning.py [--n 1500] [--noise 0.3] [--clean 0.2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from binaudit.core.importer import import_dataset
from binaudit.core.ranking import label_issue_scores
from binaudit.core.store import Store
from binaudit.core.synth import generate_dataset
from binaudit.ml.scoring import score_images

SVM_ARGS = ["--size", "32", "--hog", "--pca", "100", "--folds", "5", "--threads", "2"]


def train_svm(db: Path) -> int:
    """Run the training module as the app does and return the registered model id."""
    cmd = [sys.executable, "-m", "training", "svm", "--db", str(db), *SVM_ARGS]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    final = [json.loads(line) for line in out.splitlines() if line.startswith("{")][-1]
    assert final["event"] == "finished", final
    return int(final["model_id"])


def held_out_accuracy(store: Store, model_id: int, truth: dict, max_count: int = 5) -> tuple[float, float]:
    """Accuracy and RMSE on the test split against the TRUE counts (0..max_count)."""
    test = [i for i in store.image_ids(split="test") if truth[i]["true_count"] <= max_count]
    score_images(store, model_id, device="cpu", num_workers=0, image_ids=test)
    pred = {p["image_id"]: p["predicted"] for p in store.predictions(model_id, test)}
    y = np.array([truth[i]["true_count"] for i in test])
    p = np.array([pred[i] for i in test])
    return float((y == p).mean()), float(np.sqrt(((y - p) ** 2).mean()))


def clean_top(store: Store, truth: dict, fraction: float, rng: np.random.Generator) -> dict[str, float]:
    """Fix the top of the label-issue queue (train split) with the true counts, as a curator would."""
    _, rows = store.latest_oof()
    probs = np.array([r["probs"] for r in rows])
    given = np.array([r["given_label"] for r in rows], dtype=np.float64)
    order = np.argsort(-label_issue_scores(probs, given)["score"], kind="stable")
    k = int(round(fraction * len(rows)))
    picked = [rows[i]["image_id"] for i in order[:k]]
    wrong = {r["image_id"] for r in rows if truth[r["image_id"]]["mismatch"]}
    random_pick = rng.choice([r["image_id"] for r in rows], size=k, replace=False)
    for image_id in picked:
        true = truth[image_id]["true_count"]
        status = "confirmed" if true == store.effective_label(image_id).count else "corrected"
        store.record_label(image_id, user="curator-sim", status=status, count=true)
    return {"fixed": k, "train_images": len(rows), "mislabelled_in_train": len(wrong),
            "queue_precision": len(wrong.intersection(picked)) / max(k, 1),
            "random_precision": len(wrong.intersection(random_pick)) / max(k, 1),
            "queue_recall": len(wrong.intersection(picked)) / max(len(wrong), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--noise", type=float, default=0.3, help="fraction of wrong recorded counts")
    parser.add_argument("--clean", type=float, default=0.2, help="fraction of the train split a curator fixes")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="binaudit-cleaning-"))
    started = time.perf_counter()
    if not (work / "bins" / "truth.json").exists():
        generate_dataset(work / "bins", args.n, seed=args.seed, mismatch_rate=args.noise, image_scale=0.4)
    truth = json.loads((work / "bins" / "truth.json").read_text())["images"]
    db = work / "ws" / "workspace.db"
    with Store.open(db) as store:
        import_dataset(store, work / "bins")
    before_id = train_svm(db)
    with Store.open(db) as store:
        before = held_out_accuracy(store, before_id, truth)
        cleaning = clean_top(store, truth, args.clean, np.random.default_rng(args.seed))
    after_id = train_svm(db)
    with Store.open(db) as store:
        after = held_out_accuracy(store, after_id, truth)
    print(f"noisy labels:   held-out accuracy {before[0]:.3f}, RMSE {before[1]:.3f} (model {before_id})")
    print(f"queue top {args.clean:.0%} fixed: {cleaning['fixed']} images, {cleaning['queue_precision']:.0%} of them "
          f"really mislabelled (random pick: {cleaning['random_precision']:.0%}), "
          f"{cleaning['queue_recall']:.0%} of all mislabelled train images found")
    print(f"after cleaning: held-out accuracy {after[0]:.3f}, RMSE {after[1]:.3f} (model {after_id})")
    ok = after[0] > before[0] and cleaning["queue_precision"] > cleaning["random_precision"]
    print(json.dumps({"bench": "label_cleaning", "n": args.n, "noise": args.noise, "clean": args.clean,
                      "before": {"accuracy": round(before[0], 4), "rmse": round(before[1], 4)},
                      "after": {"accuracy": round(after[0], 4), "rmse": round(after[1], 4)},
                      **{k: round(v, 4) if isinstance(v, float) else v for k, v in cleaning.items()},
                      "seconds": round(time.perf_counter() - started, 1),
                      "targets": {"after_accuracy_gt_before": True, "queue_precision_gt_random": True},
                      "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
