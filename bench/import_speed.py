"""Import speed: metadata records imported per second against simply reading the same files.

Builds N synthetic ABID metadata records (the generator's schema, tiny hard-linked photos), then in one
run times (a) reading every file's bytes and (b) `import_dataset` into a fresh workspace, best of two each.
Targets: >= 20,000 records/s and import time <= 3x the bare read time.

    python bench/import_speed.py [--n 100000] [--workers N] [--keep DIR]

--workers defaults to what `binaudit import` uses (one process per core, at most 4).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from binaudit.core.importer import default_workers, import_dataset
from binaudit.core.store import Store

TARGET_RECORDS_PER_S = 20_000
TARGET_RATIO = 3.0


def metadata_record(i: int) -> dict:
    """A record in the exact ABID schema, 1-5 SKUs, about the size of a real one (2 kB)."""
    skus = {}
    n_skus = 1 + i % 5
    for k in range(n_skus):
        asin = f"B0{(i * 7919 + k * 104729) % 10**8:08d}"
        skus[asin] = {
            "asin": asin, "name": f"Sample product {i}-{k}, stainless steel, 12 Ounce (Pack of {1 + k})",
            "normalizedName": f"Sample product {i}-{k}", "quantity": 1 + (i + k) % 2,
            "length": {"unit": "IN", "value": 3.5 + k}, "width": {"unit": "IN", "value": 2.25 + k},
            "height": {"unit": "IN", "value": 1.1 + k}, "weight": {"unit": "pounds", "value": 0.4 + k / 10},
        }
    total = sum(s["quantity"] for s in skus.values())
    return {"BIN_FCSKU_DATA": skus, "EXPECTED_QUANTITY": total, "image_fname": f"{i}.jpg"}


def build_dataset(root: Path, n: int) -> None:
    """n metadata records in ABID layout; photos are hard links of one small JPEG."""
    images, meta = root / "bin-images", root / "metadata"
    images.mkdir(parents=True)
    meta.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (200, 180, 60)).save(buf, "JPEG", quality=80)
    for i in range(1, n + 1):
        template = root / f"template-{i // 50_000}.jpg"  # ext4 allows 65,000 links per file
        if not template.exists():
            template.write_bytes(buf.getvalue())
        image_id = f"{i:05d}" if i < 100000 else str(i)
        record = metadata_record(i)
        (meta / f"{image_id}.json").write_text(json.dumps(record, indent=4, sort_keys=True))
        os.link(template, images / f"{image_id}.jpg")
    for template in root.glob("template-*.jpg"):
        template.unlink()


def drop_page_cache_hint(root: Path) -> None:
    """Warm the page cache equally for both measurements (we compare CPU work, not the disk)."""
    for folder in (root / "bin-images", root / "metadata"):
        for entry in os.scandir(folder):
            with open(entry.path, "rb") as handle:
                handle.read()


def time_bare_read(root: Path) -> float:
    start = time.perf_counter()
    total = 0
    for folder in (root / "bin-images", root / "metadata"):
        for entry in os.scandir(folder):
            with open(entry.path, "rb") as handle:
                total += len(handle.read())
    return time.perf_counter() - start


def time_import(root: Path, workdir: Path, workers: int) -> tuple[float, int]:
    db = workdir / f"bench-{time.time_ns()}.db"
    with Store.open(db) as store:
        start = time.perf_counter()
        summary = import_dataset(store, root, workers=workers)
        elapsed = time.perf_counter() - start
        assert store.count_images() == summary.scanned
    return elapsed, summary.scanned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--keep", help="reuse/keep the generated dataset in this folder")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="binaudit-import-bench-"))
    root = Path(args.keep) if args.keep else workdir / "data"
    try:
        if not (root / "metadata").exists():
            print(f"building {args.n} records in {root} ...", file=sys.stderr)
            build_dataset(root, args.n)
        drop_page_cache_hint(root)
        # Best of two for both, taken in turn (each import into a fresh workspace): the machine is
        # shared, and its speed drifts by a third within a minute.
        bares, runs = [], []
        for _ in range(2):
            bares.append(time_bare_read(root))
            runs.append(time_import(root, workdir, args.workers))
        bare, (imported, records) = min(bares), min(runs)
        print("bare reads: " + ", ".join(f"{b:.2f} s" for b in bares) + "; imports: "
              + ", ".join(f"{seconds:.2f} s" for seconds, _ in runs), file=sys.stderr)
        reimport_start = time.perf_counter()
        with Store.open(sorted(workdir.glob("bench-*.db"))[0]) as store:
            import_dataset(store, root)
        reimport = time.perf_counter() - reimport_start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rate = records / imported
    ratio = imported / bare
    print(f"records:            {records}")
    print(f"bare read:          {bare:.2f} s ({records / bare:,.0f} records/s)")
    print(f"import:             {imported:.2f} s ({rate:,.0f} records/s, workers={args.workers})")
    print(f"import / bare read: {ratio:.2f}x")
    print(f"re-import (no changes): {reimport:.2f} s")
    ok = rate >= TARGET_RECORDS_PER_S and ratio <= TARGET_RATIO
    print(json.dumps({"bench": "import_speed", "records": records, "bare_read_s": round(bare, 3),
                      "import_s": round(imported, 3), "records_per_s": round(rate), "ratio_to_read": round(ratio, 2),
                      "reimport_s": round(reimport, 3), "workers": args.workers,
                      "targets": {"records_per_s": TARGET_RECORDS_PER_S, "ratio_to_read": TARGET_RATIO},
                      "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
