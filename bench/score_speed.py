"""Scoring throughput: end-to-end (JPEG decode -> stored prediction) against the bare model forward.

Builds a synthetic workspace, scores it with `score_images` and times the bare ResNet forward on
the same batch size, then times the torch SVM against scikit-learn's predict. Ends with one JSON
line. Target: end-to-end >= 85% of the bare forward rate on CPU (the input pipeline and the
database never hold the model back).

    python bench/score_speed.py [--images 256] [--batch-size 32] [--workers 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

TARGET_RATIO = 0.85


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads in the main process")
    ap.add_argument("--svm-samples", type=int, default=2000)
    return ap.parse_args()


def make_workspace(root: Path, n: int):
    """A workspace with n synthetic bins at the real photos' size, imported."""
    from binaudit.core.importer import import_dataset
    from binaudit.core.store import Store
    from binaudit.core.synth import generate_dataset
    generate_dataset(root / "bins", n, seed=11, mismatch_rate=0.1, image_scale=1.0, workers=2)
    store = Store.open(root / "ws" / "workspace.db")
    import_dataset(store, root / "bins")
    return store


def bare_forward_rate(model, batch_size: int, input_size: int, device: torch.device, batches: int = 3) -> float:
    """Images/s of net(x) alone on a ready batch (one warm-up batch not counted)."""
    from binaudit.ml.device import autocast_context, prepare_batch
    x = prepare_batch(torch.randn(batch_size, 3, input_size, input_size), device)
    net = model.model
    with torch.inference_mode(), autocast_context(device):
        net(x)
        _sync(device)
        t = time.perf_counter()
        for _ in range(batches):
            net(x)
        _sync(device)
    return batches * batch_size / (time.perf_counter() - t)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def end_to_end_rate(store, model_id: int, args: argparse.Namespace) -> tuple[float, object]:
    """Images/s of score_images over the whole workspace, model loading and worker start included."""
    from binaudit.ml.scoring import score_images
    summary = score_images(store, model_id, device=args.device, batch_size=args.batch_size,
                           num_workers=args.workers, force=True)
    return summary.images_per_s, summary


def svm_speeds(n: int, device: torch.device) -> dict:
    """Torch SVM vs scikit-learn predict on n samples of 32x32 RGB pixel features (rbf, PCA 100)."""
    from binaudit.ml.svm import TorchSVM, fit_svm
    rng = np.random.default_rng(0)
    d = 3 * 32 * 32
    y = rng.integers(0, 6, 600)
    X = (rng.random((600, d)) + 0.05 * y[:, None]).astype(np.float32)
    pipe = fit_svm(X, y, kernel="rbf", C=10.0, n_components=100)
    tsvm = TorchSVM.from_pipeline(pipe, device=device)
    Xt = rng.random((n, d)).astype(np.float64)
    t = time.perf_counter()
    want = pipe.predict(Xt)
    sk = n / (time.perf_counter() - t)
    tsvm.predict(Xt[:64])
    t = time.perf_counter()
    got = tsvm.predict(Xt)
    _sync(device)
    ts = n / (time.perf_counter() - t)
    return {"svm_torch_per_s": round(ts, 1), "svm_sklearn_per_s": round(sk, 1),
            "svm_speedup": round(ts / sk, 2), "svm_agreement": float((got == want).mean()),
            "svm_support_vectors": int(tsvm.params["support_vectors"].shape[0])}


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    from binaudit.ml import modelfiles as mf
    from binaudit.ml.device import choose_device
    from binaudit.ml.resnet import build_resnet
    device = choose_device(args.device)
    with tempfile.TemporaryDirectory(prefix="binaudit-bench-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        store = make_workspace(root, args.images)
        print(f"workspace: {args.images} synthetic bins in {time.perf_counter() - t:.1f} s")
        manifest = mf.save_resnet(build_resnet(args.arch), root / "ws" / "models" / args.arch,
                                  architecture=args.arch, input_size=args.input_size)
        model_id = mf.register_model_file(store, manifest)
        model = mf.load_registered(store, model_id, device=device)
        bare = bare_forward_rate(model, args.batch_size, args.input_size, device)
        e2e, summary = end_to_end_rate(store, model_id, args)
        bare_after = bare_forward_rate(model, args.batch_size, args.input_size, device)
        store.close()
    bare_rate = (bare + bare_after) / 2
    ratio = e2e / bare_rate
    print(f"bare forward ({args.arch}, {args.input_size}px, batch {args.batch_size}, {device}): "
          f"{bare_rate:.1f} images/s (before {bare:.1f}, after {bare_after:.1f})")
    print(f"end to end ({args.workers} workers): {summary.describe()}")
    print(f"ratio end-to-end / bare: {ratio:.3f} (target >= {TARGET_RATIO})")
    svm = svm_speeds(args.svm_samples, device)
    print(f"SVM predict on {args.svm_samples} samples ({svm['svm_support_vectors']} support vectors): "
          f"torch {svm['svm_torch_per_s']}/s, scikit-learn {svm['svm_sklearn_per_s']}/s, "
          f"agreement {svm['svm_agreement']:.3f}")
    ok = ratio >= TARGET_RATIO and svm["svm_agreement"] == 1.0 and summary.errors == 0
    print(json.dumps({
        "bench": "score_speed", "device": str(device), "arch": args.arch, "input_size": args.input_size,
        "batch_size": args.batch_size, "workers": args.workers, "images": args.images,
        "end_to_end_per_s": round(e2e, 2), "bare_forward_per_s": round(bare_rate, 2), "ratio": round(ratio, 3),
        **svm, "targets": {"ratio_min": TARGET_RATIO, "svm_agreement": 1.0}, "ok": ok,
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
