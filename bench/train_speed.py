"""Training throughput with the real data pipeline (store labels -> resized-image cache -> Dataset ->
DataLoader) against the same batches already in memory as tensors, in one run.

    python bench/train_speed.py [--db WORKSPACE] [--size 64] [--batch 32] [--batches 8] [--workers 0]

Without --db it synthesises and imports a small dataset in a temporary folder. The last line is one
JSON object: {"bench": "train_speed", ..., "targets": {"ratio": 0.9}, "ok": ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from binaudit.core.store import Store  # noqa: E402
from binaudit.ml.resnet import build_resnet  # noqa: E402
from training.data import ResumableSampler, load_label_sets, make_loader, prepare_datasets  # noqa: E402
from training.engine import train_one_epoch  # noqa: E402

TARGET_RATIO = 0.9


def workspace(args: argparse.Namespace, tmp: Path) -> Path:
    if args.db:
        return Path(args.db)
    from binaudit.core.importer import import_dataset
    from binaudit.core.synth import generate_dataset
    generate_dataset(tmp / "bins", args.n, seed=3, mismatch_rate=0.1, image_scale=0.5)
    with Store.open(tmp / "ws" / "workspace.db") as store:
        import_dataset(store, tmp / "bins")
    return tmp / "ws"


def timed(model, loader, optimizer, batches: int) -> float:
    """Seconds for `batches` training steps (the loader is consumed from the start)."""
    started = time.perf_counter()
    result = train_one_epoch(model, loader, optimizer, None, torch.device("cpu"), nn.CrossEntropyLoss(),
                             max_batches=batches)
    assert result["batches_done"] == batches, result["batches_done"]
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="an existing workspace (default: a synthetic one in a temp folder)")
    parser.add_argument("--n", type=int, default=600, help="synthetic bins when --db is not given")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="alternating measurements of each pipeline")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(args, Path(tmp))
        with Store.open(Path(root) / "workspace.db" if Path(root).is_dir() else root) as store:
            sets = load_label_sets(store)
        started = time.perf_counter()
        data = prepare_datasets(sets, Path(tmp) / "cache", args.size, hflip=True, seed=0, workers=args.workers)
        cache_seconds = time.perf_counter() - started
        train = data["train"]
        need = args.batch * args.batches
        if len(train) < need:
            raise SystemExit(f"only {len(train)} training images; need {need} (use --n or fewer --batches)")
        loader = make_loader(train, args.batch, ResumableSampler(train, seed=0), args.workers)
        in_memory = [b for _, b in zip(range(args.batches), make_loader(train, args.batch,
                                                                        ResumableSampler(train, seed=0), 0))]
        model = build_resnet("resnet18", 6)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        timed(model, in_memory, optimizer, 2)  # warm-up
        pipe_s = mem_s = 0.0
        for _ in range(args.repeats):  # alternate so load changes on a shared machine hit both alike
            pipe_s += timed(model, loader, optimizer, args.batches)
            mem_s += timed(model, in_memory, optimizer, args.batches)
            mem_s += timed(model, in_memory, optimizer, args.batches)
            pipe_s += timed(model, loader, optimizer, args.batches)
        started = time.perf_counter()
        for _ in zip(range(args.batches), loader):
            pass
        loader_ms = (time.perf_counter() - started) / args.batches * 1000
    images = 2 * args.repeats * args.batches * args.batch
    pipe_rate, mem_rate = images / pipe_s, images / mem_s
    ratio = pipe_rate / mem_rate
    print(f"cache build: {len(train)} train images at {args.size} px in {cache_seconds:.1f} s", file=sys.stderr)
    print(f"real pipeline: {pipe_rate:.1f} images/s; tensors in memory: {mem_rate:.1f} images/s; "
          f"ratio {ratio:.3f} (target >= {TARGET_RATIO}); the loader alone: {loader_ms:.1f} ms per batch",
          file=sys.stderr)
    print(json.dumps({"bench": "train_speed", "model": "resnet18", "input_size": args.size, "batch": args.batch,
                      "images": images, "workers": args.workers, "threads": args.threads,
                      "pipeline_images_per_s": round(pipe_rate, 2), "memory_images_per_s": round(mem_rate, 2),
                      "ratio": round(ratio, 4), "loader_ms_per_batch": round(loader_ms, 2),
                      "cache_seconds": round(cache_seconds, 2),
                      "targets": {"ratio": TARGET_RATIO}, "ok": ratio >= TARGET_RATIO}))
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
