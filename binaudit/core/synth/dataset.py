"""One record (JPEG, metadata JSON, truth entry) and the whole dataset: atomic writes,
progress, cancel and an optional process pool, byte-identical for a seed."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import _KIND_P, _KINDS, _code, _sku_record
from .counts import INCONSISTENT_SHARE, _mismatch_plan, _split_quantities, sample_count
from .products import _make_look
from .scene import _render_image, _sample_size


@dataclass
class SynthSummary:
    """What ``generate_dataset`` wrote."""

    out: Path
    n: int  # images written
    n_mismatched: int  # of those, how many carry a wrong EXPECTED_QUANTITY
    counts: dict[int, int] = field(default_factory=dict)  # true count -> images
    cancelled: bool = False
    n_requested: int = 0
    seconds: float = 0.0
    n_inconsistent: int = 0  # of the mismatched, how many contradict themselves (SKU sum != EXPECTED_QUANTITY)


def image_id(index: int) -> str:
    """ABID file stem: zero-padded to 5 digits below 100000, plain above."""
    return f"{index:05d}" if index < 100000 else str(index)


VARIANCE_DELTAS = (-2, -1, 1, 2)  # recorded - true count of a planted variance


def _draw_delta(rng: np.random.Generator, deltas: list[int]) -> int:
    """One planted change: off by one 0.35 each way, by two 0.15 each way, renormalised over ``deltas``."""
    p = np.array([0.15 if abs(d) == 2 else 0.35 for d in deltas])
    return int(rng.choice(deltas, p=p / p.sum()))


def _consistent_variance(rng: np.random.Generator, count: int, skus: list[tuple[str, dict]],
                         with_norm: bool) -> tuple[int, list[tuple[str, dict]]]:
    """A misplaced item: EXPECTED_QUANTITY and one SKU's quantity change together; returns (recorded, skus).

    An extra item on record is one more of a SKU already there or, half the time (always in an empty
    bin), a SKU record for a product that is not in the bin; a missing one is taken off one SKU whose
    quantity covers it (its record dropped at zero). The SKU quantities still add up to the record.
    """
    deltas = [d for d in VARIANCE_DELTAS if d > 0 or any(r["quantity"] >= -d for _, r in skus)]
    delta = _draw_delta(rng, deltas)
    skus = list(skus)
    if delta > 0 and (not skus or rng.random() < 0.5):
        kind = _KINDS[int(rng.choice(len(_KINDS), p=_KIND_P))]
        skus.append(_sku_record(rng, kind, delta, with_norm))
        return count + delta, skus
    fits = [j for j, (_, r) in enumerate(skus) if r["quantity"] + delta >= 0]
    j = fits[int(rng.integers(len(fits)))]
    key, rec = skus[j]
    rec = {**rec, "quantity": rec["quantity"] + delta}
    if rec["quantity"] == 0:
        del skus[j]
    else:
        skus[j] = (key, rec)
    return count + delta, skus


def render_record(seed: int, index: int, mismatch: str | None = None, *, max_count: int = 8,
                  image_scale: float = 1.0) -> tuple[bytes, str, dict]:
    """Render bin ``index``: (JPEG bytes, metadata JSON text, truth entry).

    ``mismatch`` is None, "consistent" (EXPECTED_QUANTITY and one SKU's quantity off by the same
    1 or 2: the record agrees with itself, only the photo disagrees) or "inconsistent"
    (EXPECTED_QUANTITY off, the SKU list still adds up to the true count); it changes only the
    metadata, never the photo.
    """
    rng = np.random.default_rng([seed, index])
    count = sample_count(rng, max_count)
    quantities = _split_quantities(rng, count)
    kinds = [_KINDS[int(i)] for i in rng.choice(len(_KINDS), size=len(quantities), p=_KIND_P)]
    looks = [_make_look(rng, k) for k in kinds]
    with_norm = bool(rng.random() < 0.6)
    skus = [_sku_record(rng, k, q, with_norm) for k, q in zip(kinds, quantities)]
    has_fname = bool(rng.random() < 0.3)
    quality = int(rng.integers(85, 91))
    W, H = _sample_size(rng, image_scale)
    img, min_vis = _render_image(rng, looks, quantities, W, H)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=False, progressive=False)
    jpeg = buf.getvalue()

    # metadata, with a deliberately wrong count for the chosen records
    mrng = np.random.default_rng([seed, index, 0x6D657461])
    recorded = count
    if mismatch == "consistent":
        recorded, skus = _consistent_variance(mrng, count, skus, with_norm)
    elif mismatch == "inconsistent":
        recorded = count + _draw_delta(mrng, [d for d in VARIANCE_DELTAS if count + d >= 0])
    data: dict[str, Any] = {}
    for key, rec in skus:
        while key in data:  # never silently merge two SKU records
            key = "ZZ" + _code(mrng, 8)
        data[key] = rec
    meta: dict[str, Any] = {"BIN_FCSKU_DATA": data, "EXPECTED_QUANTITY": int(recorded)}
    if has_fname:
        meta["image_fname"] = f"{index}.jpg"
    text = json.dumps(meta, sort_keys=True, indent=4) + "\n"
    sku_sum = sum(r["quantity"] for r in data.values())
    truth = {
        "true_count": int(count),
        "recorded_count": int(recorded),
        "mismatch": recorded != count,
        "variance": mismatch if recorded != count else None,
        "sku_sum": int(sku_sum),
        "width": W,
        "height": H,
        "min_visible": round(float(min_vis), 3),
    }
    return jpeg, text, truth


def _task(args) -> tuple[int, bytes, str, dict]:
    seed, index, mismatch, max_count, image_scale = args
    jpeg, text, truth = render_record(seed, index, mismatch, max_count=max_count, image_scale=image_scale)
    return index, jpeg, text, truth


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def generate_dataset(out: Path, n: int, seed: int = 0, mismatch_rate: float = 0.1, *,
                     inconsistent_share: float = INCONSISTENT_SHARE, max_count: int = 8, image_scale: float = 1.0,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None,
                     workers: int = 1) -> SynthSummary:
    """Write ``n`` synthetic bins to ``out`` in the ABID layout plus ``out/truth.json``.

    A fraction ``mismatch_rate`` of the records (exactly ``round(n * rate)``, chosen
    from the seed) carry an EXPECTED_QUANTITY off by 1 or 2. Most are self-consistent, as
    real variances are (one SKU's quantity changed with it); ``inconsistent_share`` of them
    (``counts.inconsistent_quota``) keep a SKU list that sums to the true count, so the record
    contradicts itself. truth.json says which per image ("variance"). ``cancel()`` returning
    True stops early: the files written so far and a truth file covering exactly them stay
    valid (``summary.cancelled`` is True).
    ``workers > 1`` renders in a process pool; the bytes are the same.
    """
    t0 = time.perf_counter()
    out = Path(out)
    _check_arguments(n, seed, mismatch_rate, inconsistent_share, max_count, image_scale)
    plan = _mismatch_plan(seed, n, mismatch_rate, inconsistent_share)
    tasks = [(seed, i, plan.get(i), max_count, image_scale) for i in range(1, n + 1)]
    writer = _RecordWriter(out, n, progress, cancel)
    cancelled = bool(cancel is not None and cancel()) or _render_all(tasks, workers, writer)
    _write_atomic(out / "truth.json", _truth_text(writer.images, seed=seed, n=n, mismatch_rate=mismatch_rate,
                                                  inconsistent_share=inconsistent_share, max_count=max_count,
                                                  image_scale=image_scale, cancelled=cancelled))
    return SynthSummary(out=out, n=len(writer.images), n_mismatched=writer.n_mismatched,
                        counts=dict(sorted(writer.counts.items())), cancelled=cancelled, n_requested=n,
                        seconds=time.perf_counter() - t0, n_inconsistent=writer.n_inconsistent)


def _check_arguments(n: int, seed: int, mismatch_rate: float, inconsistent_share: float, max_count: int,
                     image_scale: float) -> None:
    """Refuse settings that cannot make a dataset, with the reason."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if not 0.0 <= mismatch_rate <= 1.0:
        raise ValueError("mismatch_rate must be within [0, 1]")
    if not 0.0 <= inconsistent_share <= 1.0:
        raise ValueError("inconsistent_share must be within [0, 1]")
    if max_count < 1:
        raise ValueError("max_count must be >= 1")
    if image_scale <= 0:
        raise ValueError("image_scale must be > 0")


class _RecordWriter:
    """Writes rendered records into the ABID layout as they arrive and tallies what the summary reports."""

    def __init__(self, out: Path, n: int, progress: Callable[[int, int], None] | None,
                 cancel: Callable[[], bool] | None) -> None:
        self.img_dir, self.meta_dir = out / "bin-images", out / "metadata"
        self.img_dir.mkdir(parents=True, exist_ok=True)
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        self.n, self.progress, self.cancel = n, progress, cancel
        self.images: dict[str, dict] = {}
        self.counts: dict[int, int] = {}
        self.n_mismatched = self.n_inconsistent = 0
        if progress is not None:
            progress(0, n)

    def consume(self, results: Iterable[tuple[int, bytes, str, dict]]) -> bool:
        """Write every result; True when cancel() asked to stop."""
        for index, jpeg, text, truth in results:
            iid = image_id(index)
            _write_atomic(self.img_dir / f"{iid}.jpg", jpeg)
            _write_atomic(self.meta_dir / f"{iid}.json", text.encode("utf-8"))
            self.images[iid] = truth
            self.counts[truth["true_count"]] = self.counts.get(truth["true_count"], 0) + 1
            self.n_mismatched += int(truth["mismatch"])
            self.n_inconsistent += int(truth["variance"] == "inconsistent")
            if self.progress is not None:
                self.progress(len(self.images), self.n)
            if self.cancel is not None and self.cancel():
                return True
        return False


def _render_all(tasks: list[tuple], workers: int, writer: _RecordWriter) -> bool:
    """Render the tasks in order (in a spawn pool when workers > 1) into the writer; True when cancelled."""
    if workers <= 1 or len(tasks) < 4:
        return writer.consume(_task(t) for t in tasks)
    ctx = multiprocessing.get_context("spawn")  # safe under GUI threads
    pool = ctx.Pool(min(workers, len(tasks)))
    try:
        return writer.consume(pool.imap(_task, tasks, chunksize=2))
    finally:
        pool.terminate()
        pool.join()


def _truth_text(images: dict[str, dict], *, seed: int, n: int, mismatch_rate: float, inconsistent_share: float,
                max_count: int, image_scale: float, cancelled: bool) -> bytes:
    """truth.json: the settings and, per image written, its true count and variance."""
    truth = {
        "seed": int(seed),
        "n": len(images),
        "n_requested": int(n),
        "mismatch_rate": float(mismatch_rate),
        "inconsistent_share": float(inconsistent_share),
        "max_count": int(max_count),
        "image_scale": float(image_scale),
        "cancelled": bool(cancelled),
        "images": images,
    }
    return (json.dumps(truth, sort_keys=True, indent=4) + "\n").encode("utf-8")
