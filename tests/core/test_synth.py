"""The synthetic ABID-layout dataset: determinism, schema, counts, mismatches, JPEGs, cancel."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from binaudit.core import synth
from binaudit.core.synth import generate_dataset

SCALE = 0.25  # small photos keep the tests fast; the drawing is the same


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, synth.SynthSummary]:
    out = tmp_path_factory.mktemp("synth") / "ds"
    summary = generate_dataset(out, 60, seed=3, mismatch_rate=0.2, image_scale=SCALE)
    return out, summary


@pytest.fixture(scope="module")
def truth(dataset) -> dict:
    return json.loads((dataset[0] / "truth.json").read_text())


# --- layout and summary -----------------------------------------------------------


def test_layout_ids_and_summary(dataset, truth):
    out, summary = dataset
    ids = [f"{i:05d}" for i in range(1, 61)]
    assert sorted(p.stem for p in (out / "bin-images").glob("*.jpg")) == ids
    assert sorted(p.stem for p in (out / "metadata").glob("*.json")) == ids
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert summary.n == 60 and summary.n_requested == 60 and not summary.cancelled
    assert summary.out == out
    assert sum(summary.counts.values()) == 60
    assert summary.n_mismatched == sum(e["mismatch"] for e in truth["images"].values())
    assert {k: v for k, v in summary.counts.items()} == _count_hist(truth)
    assert truth["seed"] == 3 and truth["n"] == 60 and truth["mismatch_rate"] == 0.2
    assert sorted(truth["images"]) == ids


def _count_hist(truth: dict) -> dict[int, int]:
    h: dict[int, int] = {}
    for e in truth["images"].values():
        h[e["true_count"]] = h.get(e["true_count"], 0) + 1
    return h


def test_image_id_padding():
    assert synth.image_id(1) == "00001"
    assert synth.image_id(99999) == "99999"
    assert synth.image_id(100000) == "100000"
    assert synth.image_id(523) == "00523"


# --- determinism --------------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_differs(tmp_path, dataset):
    out, _ = dataset
    again = tmp_path / "again"
    generate_dataset(again, 60, seed=3, mismatch_rate=0.2, image_scale=SCALE)
    assert _digests(again) == _digests(out)

    other = tmp_path / "other"
    generate_dataset(other, 6, seed=4, mismatch_rate=0.2, image_scale=SCALE)
    a, b = _digests(out), _digests(other)
    for i in range(1, 7):
        assert a[f"bin-images/{i:05d}.jpg"] != b[f"bin-images/{i:05d}.jpg"]


def test_record_is_order_independent(dataset):
    out, _ = dataset
    # rendering bin 17 alone gives the bytes it got inside the whole run
    jpeg, text, _ = synth.render_record(3, 17, None, image_scale=SCALE)
    assert jpeg == (out / "bin-images" / "00017.jpg").read_bytes()
    # the mismatch decision changes only the metadata, never the photo
    for kind in ("consistent", "inconsistent"):
        assert synth.render_record(3, 17, kind, image_scale=SCALE)[0] == jpeg


def test_same_bytes_in_another_process(dataset):
    out, _ = dataset
    code = ("import hashlib, sys; from binaudit.core import synth; "
            f"j, t, _ = synth.render_record(3, 5, None, image_scale={SCALE!r}); "
            "print(hashlib.sha256(j).hexdigest())")
    root = Path(synth.__file__).resolve().parents[3]
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == hashlib.sha256((out / "bin-images" / "00005.jpg").read_bytes()).hexdigest()


def test_workers_give_identical_files(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    generate_dataset(one, 8, seed=9, mismatch_rate=0.25, image_scale=0.2)
    generate_dataset(two, 8, seed=9, mismatch_rate=0.25, image_scale=0.2, workers=2)
    assert _digests(one) == _digests(two)


# --- metadata schema ----------------------------------------------------------------

_SKU_KEYS = {"asin", "name", "quantity", "length", "width", "height", "weight"}


def _check_measure(m, unit):
    assert set(m) == {"unit", "value"}
    assert m["unit"] == unit
    assert isinstance(m["value"], float) and m["value"] > 0


def test_metadata_schema_and_sum_rules(dataset, truth, sample_dir):
    out, _ = dataset
    sample_sku_keys = set()
    if (sample_dir / "metadata" / "00001.json").exists():
        sample = json.loads((sample_dir / "metadata" / "00001.json").read_text())
        sample_sku_keys = set(next(iter(sample["BIN_FCSKU_DATA"].values())))
    consistent = inconsistent = 0
    seen_fname = seen_no_fname = seen_norm = seen_no_norm = seen_zz = seen_multi = 0
    for path in sorted((out / "metadata").glob("*.json")):
        text = path.read_text()
        meta = json.loads(text)
        assert text == json.dumps(meta, sort_keys=True, indent=4) + "\n"  # like the real files
        assert set(meta) <= {"BIN_FCSKU_DATA", "EXPECTED_QUANTITY", "image_fname"}
        assert {"BIN_FCSKU_DATA", "EXPECTED_QUANTITY"} <= set(meta)
        expected = meta["EXPECTED_QUANTITY"]
        assert type(expected) is int and expected >= 0
        if "image_fname" in meta:
            assert meta["image_fname"] == f"{int(path.stem)}.jpg"
            seen_fname += 1
        else:
            seen_no_fname += 1
        total = 0
        for key, sku in meta["BIN_FCSKU_DATA"].items():
            assert re.fullmatch(r"[A-Z0-9]{10}", key)
            assert _SKU_KEYS <= set(sku) <= _SKU_KEYS | {"normalizedName"}
            assert re.fullmatch(r"B0[A-Z0-9]{8}", sku["asin"])
            if key != sku["asin"]:
                seen_zz += 1
            assert isinstance(sku["name"], str) and len(sku["name"]) > 5
            if "normalizedName" in sku:
                assert isinstance(sku["normalizedName"], str) and sku["normalizedName"]
                seen_norm += 1
            else:
                seen_no_norm += 1
            assert type(sku["quantity"]) is int and sku["quantity"] >= 1
            seen_multi += sku["quantity"] > 1
            for dim in ("length", "width", "height"):
                _check_measure(sku[dim], "IN")
            _check_measure(sku["weight"], "pounds")
            if sample_sku_keys and "normalizedName" in sku:
                assert set(sku) == sample_sku_keys
            total += sku["quantity"]
        t = truth["images"][path.stem]
        assert t["recorded_count"] == expected
        assert t["sku_sum"] == total
        if not t["mismatch"]:
            assert expected == t["true_count"] == total and t["variance"] is None
        else:
            assert abs(expected - t["true_count"]) in (1, 2)
            if total == expected:
                assert t["variance"] == "consistent"
                consistent += 1
            else:
                assert total == t["true_count"] and t["variance"] == "inconsistent"
                inconsistent += 1
    # 12 wrong records: 10% of them (1, half rounded up) contradict themselves, 11 agree with themselves
    assert (consistent, inconsistent) == (11, 1)
    assert seen_fname and seen_no_fname and seen_norm and seen_no_norm and seen_zz and seen_multi


def test_mismatch_fraction_and_truth(truth):
    images = truth["images"]
    wrong = [e for e in images.values() if e["mismatch"]]
    assert len(wrong) == round(0.2 * 60)
    assert truth["inconsistent_share"] == synth.INCONSISTENT_SHARE == 0.10
    for e in images.values():
        assert e["mismatch"] == (e["recorded_count"] != e["true_count"])
        assert e["variance"] in (None, "consistent", "inconsistent")
        assert (e["variance"] is not None) == e["mismatch"]
        assert e["recorded_count"] >= 0
        assert 0 <= e["true_count"] <= 8


def test_mismatch_rate_zero_and_one(tmp_path):
    s0 = generate_dataset(tmp_path / "a", 5, seed=1, mismatch_rate=0.0, image_scale=0.15)
    s1 = generate_dataset(tmp_path / "b", 5, seed=1, mismatch_rate=1.0, image_scale=0.15)
    assert s0.n_mismatched == 0 and s1.n_mismatched == 5
    assert s0.n_inconsistent == 0 and s1.n_inconsistent == 1  # 10% of 5, half rounded up


def test_inconsistent_share_is_a_parameter(tmp_path):
    out = tmp_path / "half"
    s = generate_dataset(out, 40, seed=5, mismatch_rate=0.5, inconsistent_share=0.5, image_scale=0.15)
    assert (s.n_mismatched, s.n_inconsistent) == (20, 10)
    images = json.loads((out / "truth.json").read_text())["images"]
    assert sum(e["variance"] == "inconsistent" for e in images.values()) == 10
    assert sum(e["variance"] == "consistent" for e in images.values()) == 10
    none = generate_dataset(tmp_path / "none", 20, seed=5, mismatch_rate=0.5, inconsistent_share=0.0,
                            image_scale=0.15)
    every = generate_dataset(tmp_path / "all", 20, seed=5, mismatch_rate=0.5, inconsistent_share=1.0,
                             image_scale=0.15)
    assert (none.n_mismatched, none.n_inconsistent) == (10, 0)
    assert (every.n_mismatched, every.n_inconsistent) == (10, 10)


def _sku_quantities(text: str) -> dict[str, int]:
    return {k: r["quantity"] for k, r in json.loads(text)["BIN_FCSKU_DATA"].items()}


def test_consistent_variance_changes_one_sku_with_the_count():
    """A misplaced item: EXPECTED_QUANTITY and exactly one SKU record move together; the photo stays."""
    grew = shrank = added = dropped = 0
    for index in range(1, 41):
        jpeg, plain, t0 = synth.render_record(8, index, None, image_scale=0.15)
        jpeg2, text, t = synth.render_record(8, index, "consistent", image_scale=0.15)
        assert jpeg2 == jpeg and t["variance"] == "consistent"
        before, after = _sku_quantities(plain), _sku_quantities(text)
        delta = t["recorded_count"] - t0["true_count"]
        assert delta in (-2, -1, 1, 2) and t["sku_sum"] == t["recorded_count"]
        changed = {k for k in before.keys() | after.keys() if before.get(k, 0) != after.get(k, 0)}
        assert len(changed) == 1
        (key,) = changed
        assert after.get(key, 0) - before.get(key, 0) == delta
        grew += key in before and key in after and delta > 0
        shrank += key in before and key in after and delta < 0
        added += key not in before
        dropped += key not in after
    assert grew and shrank and added and dropped  # every kind of change occurs


# --- counts -------------------------------------------------------------------------


def test_count_distribution_matches_abid_shares():
    p = synth.count_distribution(8)
    assert len(p) == 9 and abs(p.sum() - 1) < 1e-12
    head = np.asarray(synth.MODERATE_SHARES) / sum(synth.MODERATE_SHARES)
    assert np.allclose(p[:6] / p[:6].sum(), head)
    assert abs(p[6:].sum() - 0.10) < 1e-9
    assert np.all(np.diff(p[6:]) < 0)
    assert len(synth.count_distribution(12)) == 13
    small = synth.count_distribution(3)
    assert len(small) == 4 and abs(small.sum() - 1) < 1e-12


def test_sampler_reaches_every_count():
    rng = np.random.default_rng(0)
    draws = np.array([synth.sample_count(rng, 8) for _ in range(3000)])
    hist = np.bincount(draws, minlength=9)
    assert len(hist) == 9 and (hist > 0).all()
    assert np.allclose(hist / hist.sum(), synth.count_distribution(8), atol=0.025)


def test_counts_in_dataset_follow_the_sampler(dataset, truth):
    counts = [e["true_count"] for e in truth["images"].values()]
    rng_counts = [synth.sample_count(np.random.default_rng([3, i]), 8) for i in range(1, 61)]
    assert counts == rng_counts


def test_every_item_stays_partly_visible(truth):
    assert min(e["min_visible"] for e in truth["images"].values()) >= 0.3


# --- images -------------------------------------------------------------------------


def test_images_are_baseline_jpegs_of_abid_sizes(dataset, truth):
    out, _ = dataset
    for path in sorted((out / "bin-images").glob("*.jpg")):
        data = path.read_bytes()
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
        assert b"\xff\xc0" in data and b"\xff\xc2" not in data  # baseline DCT, not progressive
        im = Image.open(io.BytesIO(data))
        assert im.format == "JPEG" and im.mode == "RGB"
        assert not im.info.get("progressive")
        w, h = im.size
        t = truth["images"][path.stem]
        assert (w, h) == (t["width"], t["height"])
        assert round(315 * SCALE) - 1 <= w <= round(785 * SCALE) + 1
        assert round(240 * SCALE) - 1 <= h <= round(1069 * SCALE) + 1
        assert 1000 < len(data) < 200_000
        a = np.asarray(im, dtype=np.float32)
        assert 40 < a.mean() < 220 and a.std() > 10  # a photo, not a flat fill
        assert a[..., 0].mean() > a[..., 2].mean()  # the warm cast of the real photos


def test_full_scale_size_statistics():
    sizes = np.array([synth._sample_size(np.random.default_rng([0, i]), 1.0) for i in range(400)])
    assert sizes[:, 0].min() >= 315 and sizes[:, 0].max() <= 785
    assert sizes[:, 1].min() >= 240 and sizes[:, 1].max() <= 1069
    assert 430 < np.median(sizes[:, 0]) < 540 and 290 < np.median(sizes[:, 1]) < 380


def test_full_scale_photo_renders(tmp_path):
    jpeg, _, t = synth.render_record(0, 1)
    im = Image.open(io.BytesIO(jpeg))
    assert im.size == (t["width"], t["height"]) and im.width >= 315


# --- progress and cancel ------------------------------------------------------------


def test_progress_reports(tmp_path):
    calls = []
    generate_dataset(tmp_path / "p", 4, seed=2, image_scale=0.15, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_cancel_stops_early_and_leaves_valid_files(tmp_path):
    done = []
    out = tmp_path / "c"
    summary = generate_dataset(out, 50, seed=2, image_scale=0.15,
                               progress=lambda d, t: done.append(d), cancel=lambda: len(done) > 3)
    assert summary.cancelled and summary.n == 3
    jpgs = sorted(p.stem for p in (out / "bin-images").glob("*.jpg"))
    assert jpgs == ["00001", "00002", "00003"]
    assert sorted(p.stem for p in (out / "metadata").glob("*.json")) == jpgs
    truth = json.loads((out / "truth.json").read_text())
    assert truth["n"] == 3 and sorted(truth["images"]) == jpgs and truth["cancelled"]
    for j in jpgs:
        Image.open(out / "bin-images" / f"{j}.jpg").load()
        json.loads((out / "metadata" / f"{j}.json").read_text())


def test_cancel_before_start_writes_nothing(tmp_path):
    s = generate_dataset(tmp_path / "z", 5, image_scale=0.15, cancel=lambda: True)
    assert s.cancelled and s.n == 0
    assert not list((tmp_path / "z" / "bin-images").glob("*.jpg"))


def test_bad_arguments(tmp_path):
    for kw in ({"n": -1}, {"mismatch_rate": 1.5}, {"inconsistent_share": -0.1}, {"seed": -3}, {"max_count": 0},
               {"image_scale": 0}):
        args = {"n": 1, **kw}
        with pytest.raises(ValueError):
            generate_dataset(tmp_path / "bad", **args)


def test_core_module_stays_free_of_torch_and_qt():
    code = ("import sys, binaudit.core.synth; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'torchvision')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    root = Path(synth.__file__).resolve().parents[3]
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
