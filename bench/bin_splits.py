"""Splits by bin on a real ABID folder: photos that share a bin, and photos whose split differs from the per-id rule.

Imports the folder into a scratch workspace with the given ratios, then compares each photo's stored
split with the split its own id would get (the rule before bins). Also counts the bins that identical
records alone would find. Ends with one JSON line; `ok` means no bin spans two splits.

    python bench/bin_splits.py [--data ../shared/abid-real] [--split 70/20/10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from binaudit.core.importer import import_dataset
from binaudit.core.splits import group_bins, parse_ratios, split_chooser
from binaudit.core.store import Store

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "abid-real"


def measure(store: Store, ratios: tuple[float, float, float]) -> dict:
    """Figures of the store's bins against the per-id split."""
    rows = store.query("SELECT image_id, bin_key, split, record_key FROM images")
    members: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        members[row["bin_key"]].append(row)
    multi = {key: group for key, group in members.items() if len(group) > 1}
    by_id = split_chooser(ratios)
    identical = group_bins([], [(r["image_id"], r["record_key"]) for r in rows])
    return {
        "photos": len(rows),
        "multi_photo_bins": len(multi),
        "photos_in_multi_photo_bins": sum(len(g) for g in multi.values()),
        "largest_bin": max((len(g) for g in multi.values()), default=1),
        "bin_sizes": dict(sorted(Counter(len(g) for g in multi.values()).items())),
        "changed_split_vs_per_id": sum(r["split"] != by_id(r["image_id"]) for r in rows),
        "bins_spanning_two_splits": sum(len({r["split"] for r in g}) > 1 for g in members.values()),
        "bins_spanning_two_splits_per_id": sum(len({by_id(r["image_id"]) for r in g}) > 1 for g in multi.values()),
        "test_photos_with_a_train_shot_per_id": _leaked_test_photos(multi.values(), by_id),
        "identical_record_bins": len(set(identical.values())),
        "photos_in_identical_record_bins": len(identical),
        "split_counts": dict(sorted(Counter(r["split"] for r in rows).items())),
    }


def _leaked_test_photos(bins, split_of) -> int:
    """Under the per-id rule: test photos whose bin has another shot in the training split."""
    leaked = 0
    for group in bins:
        splits = [split_of(r["image_id"]) for r in group]
        if "train" in splits:
            leaked += splits.count("test")
    return leaked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="an ABID-layout folder")
    parser.add_argument("--split", default="70/20/10", help="train/val/test ratios")
    args = parser.parse_args()
    ratios = parse_ratios(args.split)
    with tempfile.TemporaryDirectory() as scratch, Store.open(Path(scratch) / "workspace.db") as store:
        import_dataset(store, args.data, ratios=ratios)
        figures = measure(store, ratios)
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(json.dumps({"bench": "bin_splits", "data": str(args.data), "split": args.split, **figures,
                      "ok": figures["bins_spanning_two_splits"] == 0}))


if __name__ == "__main__":
    main()
