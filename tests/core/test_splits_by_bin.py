"""Splits by bin: repeat shots of one bin (near ids sharing an ASIN, identical records) always share a split."""

from __future__ import annotations

import io
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
import sqlite_utils
from PIL import Image

from binaudit.core import importer
from binaudit.core.importer import import_dataset
from binaudit.core.splits import group_bins, split_for_id
from binaudit.core.store import Store
from binaudit.core.store.migrations import MIGRATIONS
from training.data import load_label_sets

RATIOS = [(0.7, 0.2, 0.1), (80, 10, 10), (1, 1, 1), (0.5, 0.0, 0.5), (0, 3, 1)]


def _jpeg(path: Path, shade: int) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (shade % 256, 120, 60)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())


def _write(root: Path, image_id: str, skus: dict[str, int], expected: int | None = None) -> None:
    """A real photo + metadata pair; skus maps ASIN -> quantity (EXPECTED_QUANTITY is their sum unless given)."""
    (root / "bin-images").mkdir(parents=True, exist_ok=True)
    (root / "metadata").mkdir(exist_ok=True)
    _jpeg(root / "bin-images" / f"{image_id}.jpg", int(image_id) if image_id.isdigit() else 7)
    record = {"BIN_FCSKU_DATA": {a: {"asin": a, "name": f"Product {a}", "quantity": q} for a, q in skus.items()},
              "EXPECTED_QUANTITY": sum(skus.values()) if expected is None else expected}
    (root / "metadata" / f"{image_id}.json").write_text(json.dumps(record))


def _lone(root: Path, first: int, count: int) -> None:
    """Filler bins with ASINs of their own, far from everything else."""
    for n in range(first, first + count):
        _write(root, f"{n:05d}", {f"B0LONE{n:05d}": 1 + n % 4})


def _rows(store: Store) -> dict[str, tuple[str, str]]:
    rows = store.query("SELECT image_id, bin_key, split FROM images")
    return {r["image_id"]: (r["bin_key"], r["split"]) for r in rows}


def _assert_no_bin_spans_two_splits(rows: dict[str, tuple[str, str]]) -> None:
    splits: dict[str, set[str]] = defaultdict(set)
    for key, split in rows.values():
        splits[key].add(split)
    assert all(len(s) == 1 for s in splits.values()), {k: s for k, s in splits.items() if len(s) > 1}


def _identical_pairs(root: Path, pairs: int) -> list[tuple[str, str]]:
    """Pairs of far-apart ids whose records are identical (the same bin photographed twice)."""
    out = []
    for k in range(pairs):
        a, b = f"{100 + 37 * k:05d}", f"{5000 + 53 * k:05d}"
        skus = {f"B0PAIR{k:04d}": 1 + k % 3, f"B0SIDE{k:04d}": 2}
        _write(root, a, skus)
        _write(root, b, skus)
        out.append((a, b))
    return out


def test_rule_joins_near_ids_sharing_an_asin_and_identical_records_only() -> None:
    asins = [("00010", "A"), ("00010", "B"), ("00011", "B"), ("00013", "B"),  # 1 and 2 apart: one chain
             ("00017", "B"),  # 4 apart from 00013: another bin
             ("00030", "C"), ("00033", "C"),  # 3 apart: two bins
             ("00050", "D"), ("00051", "E"),  # neighbours without a common ASIN
             ("1", "F"), ("00002", "F"), ("00001", "F")]  # "1" and "00001" are different ids, not neighbours
    records = [("00050", "same"), ("09000", "same"), ("00060", None), ("00061", None)]
    keys = group_bins(asins, records)
    assert keys == {"00010": "00010", "00011": "00010", "00013": "00010",
                    "00050": "00050", "09000": "00050", "00001": "00001", "00002": "00001"}
    assert group_bins(reversed(asins), reversed(records)) == keys  # order plays no part


def test_identical_records_share_a_split_whatever_the_ratios(tmp_path: Path) -> None:
    root = tmp_path / "data"
    pairs = _identical_pairs(root, 24)
    _lone(root, 2000, 20)
    assert any(split_for_id(a) != split_for_id(b) for a, b in pairs)  # the per-id rule would split some
    for n, ratios in enumerate(RATIOS):
        with Store.open(tmp_path / f"ws{n}" / "workspace.db") as store:
            import_dataset(store, root, ratios=ratios)
            rows = _rows(store)
        for a, b in pairs:
            assert rows[a] == rows[b] == (a, split_for_id(a, ratios)), (ratios, a, b)
        for n_id in range(2000, 2020):
            image_id = f"{n_id:05d}"
            assert rows[image_id] == (image_id, split_for_id(image_id, ratios))  # a lone photo keeps its id's split
        _assert_no_bin_spans_two_splits(rows)


def test_repeat_shots_after_a_pick_join_and_far_or_unrelated_ids_do_not(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "data"
    _write(root, "00020", {"B0AAAAAAAA": 3, "B0BBBBBBBB": 1})
    _write(root, "00021", {"B0AAAAAAAA": 2, "B0BBBBBBBB": 1})  # one picked: the next shot of the bin
    _write(root, "00023", {"B0BBBBBBBB": 1, "B0CCCCCCCC": 4})  # two apart, one ASIN in common
    _write(root, "00022", {"B0DDDDDDDD": 1})  # between them, another bin
    _write(root, "00026", {"B0BBBBBBBB": 2})  # three apart: not a repeat shot
    import_dataset(store, root)
    rows = _rows(store)
    assert {i: rows[i][0] for i in rows} == {"00020": "00020", "00021": "00020", "00023": "00020",
                                            "00022": "00022", "00026": "00026"}
    _assert_no_bin_spans_two_splits(rows)


def test_empty_unusable_and_missing_records_split_by_their_own_id(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "data"
    for n in range(40, 60):  # identical empty records next to each other: 20 empty bins, not one
        _write(root, f"{n:05d}", {}, expected=0)
    for n in range(60, 64):  # unusable: a malformed record repeated
        _jpeg(root / "bin-images" / f"{n:05d}.jpg", n)
        (root / "metadata" / f"{n:05d}.json").write_text('{"BIN_FCSKU_DATA": {}, "EXPECTED_QUANTITY": "two"}')
    for n in range(64, 68):  # photos without metadata
        _jpeg(root / "bin-images" / f"{n:05d}.jpg", n)
    import_dataset(store, root)
    rows = _rows(store)
    assert len(rows) == 28
    assert all(rows[i] == (i, split_for_id(i)) for i in rows)
    assert len({split for _, split in rows.values()}) > 1


def test_bins_are_the_same_for_any_batching_and_across_reimports(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "data"
    pairs = _identical_pairs(root, 6)
    for n in range(300, 330):  # a run of repeat shots: each shares one ASIN with the next
        _write(root, f"{n:05d}", {f"B0RUN{n // 3:05d}": 1, f"B0RUN{n // 3 + 1:05d}": 2})
    _lone(root, 3000, 10)
    with Store.open(tmp_path / "one" / "workspace.db") as store:
        import_dataset(store, root, workers=1)
        reference = _rows(store)
    monkeypatch.setattr(importer, "BATCH_SIZE", 4)  # bins cut across batches read in two processes
    with Store.open(tmp_path / "two" / "workspace.db") as store:
        import_dataset(store, root, workers=2)
        assert _rows(store) == reference
        os.utime(root / "metadata" / "00301.json", ns=(1, 1))  # a re-read photo of a bin
        os.utime(root / "metadata" / f"{pairs[0][1]}.json", ns=(1, 1))
        summary = import_dataset(store, root, workers=2)
        assert summary.updated == 2
        assert _rows(store) == reference
    assert len({reference[f"{n:05d}"] for n in range(300, 330)}) == 1
    _assert_no_bin_spans_two_splits(reference)


def test_a_new_shot_that_joins_two_bins_moves_them_into_one_split(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "data"
    # Find two bins two ids apart that the per-id rule puts in different splits.
    first = next(n for n in range(400, 900, 4) if split_for_id(f"{n:05d}") != split_for_id(f"{n + 2:05d}"))
    left, middle, right = f"{first:05d}", f"{first + 1:05d}", f"{first + 2:05d}"
    _write(root, left, {"B0LEFT0000": 2})
    _write(root, right, {"B0RIGHT000": 1})
    import_dataset(store, root)
    assert _rows(store)[left][1] != _rows(store)[right][1]
    _write(root, middle, {"B0LEFT0000": 1, "B0RIGHT000": 1})  # a shot that shows both: one bin after all
    import_dataset(store, root)
    rows = _rows(store)
    assert rows[left] == rows[middle] == rows[right] == (left, split_for_id(left))


def test_training_split_ratios_follow_bins(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "data"
    pairs = _identical_pairs(root, 30)
    _lone(root, 2000, 10)
    import_dataset(store, root)
    sets = load_label_sets(store, split="50/25/25", max_count=9)
    where = {i: name for name, s in sets.items() for i in s.ids}
    assert len(where) == 70
    assert all(where[a] == where[b] == split_for_id(a, (50, 25, 25)) for a, b in pairs)


def _downgrade_to_v2(current: Path, old: Path) -> None:
    """A schema-v2 workspace (before bins) holding current's images, items and label events, split per id."""
    db = sqlite_utils.Database(old)
    MIGRATIONS[0](db)
    MIGRATIONS[1](db)
    conn = db.conn
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.execute("ATTACH DATABASE ? AS cur", [str(current)])
    columns = ", ".join(c.name for c in db["images"].columns)
    conn.execute(f"INSERT INTO images ({columns}) SELECT {columns} FROM cur.images")
    conn.execute("INSERT INTO items SELECT * FROM cur.items")
    conn.execute("INSERT INTO label_events SELECT * FROM cur.label_events")
    conn.commit()
    conn.execute("DETACH DATABASE cur")
    ids = [r[0] for r in conn.execute("SELECT image_id FROM images")]
    conn.executemany("UPDATE images SET split = ? WHERE image_id = ?", [(split_for_id(i), i) for i in ids])
    conn.execute("INSERT INTO images_fts(images_fts) VALUES ('rebuild')")
    conn.commit()
    conn.close()


def test_older_workspace_is_migrated_to_bins_and_keeps_its_labels(tmp_path: Path) -> None:
    root = tmp_path / "data"
    pairs = _identical_pairs(root, 24)
    _write(root, "00700", {"B0SHOT0000": 2})
    _write(root, "00701", {"B0SHOT0000": 1})
    _lone(root, 2000, 10)
    current = tmp_path / "now" / "workspace.db"
    with Store.open(current) as store:
        import_dataset(store, root)
        fresh = _rows(store)
        for image_id, count in (("00100", 0), (pairs[3][1], 5), ("00701", 4)):
            store.record_label(image_id, user="ann", status="corrected", count=count)
        store.record_label("02001", user="bob", status="uncountable", reason="glare")
    old = tmp_path / "old" / "workspace.db"
    old.parent.mkdir()
    _downgrade_to_v2(current, old)
    before = sqlite_utils.Database(old)
    labels = list(before.query("SELECT image_id, effective_count, label_status, label_event_id FROM images "
                               "ORDER BY image_id"))
    events = list(before.query("SELECT * FROM label_events ORDER BY id"))
    leaks = sum(len({split_for_id(a), split_for_id(b)}) > 1 for a, b in pairs)
    before.conn.close()
    assert leaks  # the per-id split of the old workspace did put photos of one bin in two splits
    with Store.open(old) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert _rows(store) == fresh  # the same bins and splits as a fresh import with the same ratios
        assert store.query("SELECT image_id, effective_count, label_status, label_event_id FROM images "
                           "ORDER BY image_id") == labels
        assert store.query("SELECT * FROM label_events ORDER BY id") == events
        assert store.search_items("B0SHOT0000") == ["00700", "00701"]


def test_real_slice_bins_never_span_two_splits(real_slice: Path, store: Store) -> None:
    import_dataset(store, real_slice)
    rows = _rows(store)
    assert len(rows) == 10_013
    _assert_no_bin_spans_two_splits(rows)
    assert rows["00084"] == rows["00085"] == rows["00086"]  # one bin: 00085 is the same bin with an item added
    assert rows["00084"][0] == "00084" and rows["00087"][0] == "00087"
    assert rows["1"][0] == "1"  # "1" is not "00001" (nor any other five-digit id)
    sizes: dict[str, int] = defaultdict(int)
    for key, _ in rows.values():
        sizes[key] += 1
    assert max(sizes.values()) <= 10  # repeat shots, not chains that swallow the slice
    assert sum(1 for n in sizes.values() if n > 1) > 1000


@pytest.mark.parametrize("tiny_class", [False, True])  # stratified folds, and the group k-fold fallback
def test_svm_out_of_fold_never_scores_a_photo_with_a_model_that_saw_its_bin(monkeypatch, tiny_class: bool) -> None:
    from types import SimpleNamespace

    import numpy as np

    from training import svm_train
    from training.stream import StopFlag
    from training.svm_config import SVMConfig

    rng = np.random.default_rng(0)
    n = 90
    y = np.arange(n) % 3
    if tiny_class:
        y[y == 2] = 1
        y[:2] = 2  # two photos of class 2, fewer than the folds
    bins = [f"bin{i // 3:03d}" for i in range(n)]  # three shots per bin
    X = np.column_stack([np.arange(n), rng.normal(size=(n, 4)) + y[:, None]])  # column 0 says which photo
    fitted: list[set[int]] = []
    real_fit = svm_train._fit

    def recording_fit(Xf, yf, cfg, C, gamma):
        fitted.append({int(row) for row in Xf[:, 0]})
        return real_fit(Xf, yf, cfg, C, gamma)

    monkeypatch.setattr(svm_train, "_fit", recording_fit)
    cfg = SVMConfig(pca=0, folds=5)
    uncalibrated = SimpleNamespace(temperature=1.0, calibrator=None)  # the run's model, before any calibrator
    oof, fold_of = svm_train.out_of_fold(X, y, bins, cfg, cfg.C, "scale", uncalibrated, 3, lambda *a, **k: None,
                                         StopFlag())
    assert len(fitted) == 5 and oof.shape == (n, 3) and set(fold_of) == {1, 2, 3, 4, 5}
    for rows in fitted:  # the photos a fold scores show no bin that its model was fitted on
        scored = set(range(n)) - rows
        assert not {bins[i] for i in scored} & {bins[i] for i in rows}
