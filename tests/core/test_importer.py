"""Importing real files: every status with its reason, idempotent re-import, splits, the real sample."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from binaudit.core.importer import import_dataset
from binaudit.core.splits import split_for_id
from binaudit.core.store import Store


def _jpeg(path: Path, size=(60, 40)) -> None:
    buf = io.BytesIO()
    Image.new("RGB", size, (210, 190, 60)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())


def _meta(path: Path, expected: int, quantities: list[int]) -> None:
    skus = {f"B0000000{i:02d}": {"asin": f"B0000000{i:02d}", "name": f"Thing {i}", "quantity": q}
            for i, q in enumerate(quantities)}
    path.write_text(json.dumps({"BIN_FCSKU_DATA": skus, "EXPECTED_QUANTITY": expected}))


def build_bad_dataset(root: Path) -> Path:
    images, meta = root / "bin-images", root / "metadata"
    images.mkdir(parents=True)
    meta.mkdir()
    _jpeg(images / "00001.jpg"); _meta(meta / "00001.json", 3, [2, 1])           # ok
    _jpeg(images / "00002.jpg")                                                   # no metadata
    _meta(meta / "00003.json", 1, [1])                                            # no image
    _jpeg(images / "00004.jpg"); (images / "00004.jpg").write_bytes(             # truncated
        (images / "00004.jpg").read_bytes()[:-150]); _meta(meta / "00004.json", 1, [1])
    (images / "00005.jpg").write_bytes(b""); _meta(meta / "00005.json", 1, [1])  # zero bytes
    buf = io.BytesIO(); Image.new("RGB", (10, 10)).save(buf, "PNG")
    (images / "00006.jpg").write_bytes(buf.getvalue()); _meta(meta / "00006.json", 1, [1])  # PNG named .jpg
    _jpeg(images / "00007.jpg"); (meta / "00007.json").write_text("{oops")       # malformed JSON
    _jpeg(images / "00008.jpg"); (meta / "00008.json").write_text(               # wrong types
        json.dumps({"BIN_FCSKU_DATA": {}, "EXPECTED_QUANTITY": "two"}))
    _jpeg(images / "00009.jpg"); _meta(meta / "00009.json", 4, [1, 1])           # inconsistent
    _jpeg(images / "00010.jpg"); _meta(meta / "00010.json", 2, [-1, 3])          # negative quantity
    _jpeg(images / "00011.jpg"); _meta(meta / "00011.json", 10**8, [10**8])      # huge quantity
    return root


def test_every_status_gets_a_reason(tmp_path: Path, store: Store) -> None:
    root = build_bad_dataset(tmp_path / "data")
    summary = import_dataset(store, root)
    assert summary.scanned == 11
    rows = {r["image_id"]: r for r in store.query("SELECT * FROM images")}
    expected = {
        "00001": "ok", "00002": "no_metadata", "00003": "no_image", "00004": "unreadable_image",
        "00005": "unreadable_image", "00006": "unreadable_image", "00007": "malformed_metadata",
        "00008": "malformed_metadata", "00009": "inconsistent", "00010": "malformed_metadata",
        "00011": "malformed_metadata",
    }
    assert {i: r["status"] for i, r in rows.items()} == expected
    assert "truncated" in rows["00004"]["reason"]
    assert "empty" in rows["00005"]["reason"]
    assert "PNG" in rows["00006"]["reason"]
    assert "add up to 2" in rows["00009"]["reason"]
    assert "at least 0" in rows["00010"]["reason"]
    assert "more than any bin holds" in rows["00011"]["reason"]
    assert all(r["reason"] for i, r in rows.items() if r["status"] != "ok")
    assert rows["00001"]["recorded_count"] == 3 and rows["00001"]["sku_count"] == 2
    assert rows["00009"]["recorded_count"] == 4 and rows["00009"]["sku_quantity"] == 2


def test_reimport_is_idempotent_and_picks_up_changes(tmp_path: Path, store: Store) -> None:
    root = build_bad_dataset(tmp_path / "data")
    import_dataset(store, root)
    store.record_label("00001", user="ann", status="corrected", count=5)
    again = import_dataset(store, root)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 11)
    _meta(root / "metadata" / "00002.json", 2, [2])             # metadata arrives for a photo
    os.utime(root / "metadata" / "00001.json", ns=(1, 1))        # touched: re-read, label kept
    _jpeg(root / "bin-images" / "00012.jpg")                     # a new photo
    changed = import_dataset(store, root)
    assert (changed.added, changed.updated) == (1, 2)
    assert store.get_image("00002")["status"] == "ok"
    assert store.effective_label("00002").count == 2
    assert store.effective_label("00001").count == 5, "re-import must never overwrite an auditor's label"
    assert store.count_images() == 12
    assert store.event_count() == 1
    assert store.search_items("Thing 0") == ["00001", "00002", "00003", "00004", "00005", "00006", "00009"]
    assert store.search_index_complete() and store.search_index_consistent()


def test_vanished_photo_is_marked_not_deleted(tmp_path: Path, store: Store) -> None:
    root = build_bad_dataset(tmp_path / "data")
    import_dataset(store, root)
    (root / "bin-images" / "00001.jpg").unlink()
    import_dataset(store, root)
    assert store.get_image("00001")["status"] == "no_image"


def test_splits_are_deterministic_and_roughly_70_20_10(store: Store) -> None:
    ids = [f"{i:05d}" for i in range(1, 20001)]
    splits = [split_for_id(i) for i in ids]
    assert splits == [split_for_id(i) for i in ids]
    share = {s: splits.count(s) / len(ids) for s in ("train", "val", "test")}
    assert abs(share["train"] - 0.7) < 0.02 and abs(share["val"] - 0.2) < 0.02 and abs(share["test"] - 0.1) < 0.02
    assert split_for_id("00001", (0.8, 0.1, 0.1)) in ("train", "val", "test")


def test_real_sample_imports_with_the_statuses_its_readme_implies(sample_dir: Path, store: Store) -> None:
    summary = import_dataset(store, sample_dir)
    assert summary.statuses == {"ok": 11, "inconsistent": 1}
    rows = {r["image_id"]: r for r in store.query("SELECT * FROM images")}
    assert rows["01405"]["status"] == "inconsistent" and "add up to 4" in rows["01405"]["reason"]
    assert (rows["00001"]["recorded_count"], rows["00001"]["sku_quantity"]) == (12, 12)
    assert (rows["00001"]["width"], rows["00001"]["height"]) == (499, 297)
    assert (rows["01037"]["width"], rows["01037"]["height"]) == (224, 224)
    assert rows["00013"]["recorded_count"] == 0 and rows["00013"]["sku_count"] == 0
    assert rows["1037"]["recorded_count"] == rows["01037"]["recorded_count"] == 5  # two bins, two ids
    assert rows["1037"]["path"] != rows["01037"]["path"]
    nameless = {i["asin"]: i for i in store.items_for_image("01037")}["B00L8MU234"]
    assert (nameless["name"], nameless["normalized_name"], nameless["quantity"]) == ("", None, 2)
    bare = {i["asin"]: i for i in store.items_for_image("00043")}["B00OZO3XLK"]
    assert [bare[k] for k in ("length", "width", "height", "weight", "weight_unit")] == [None] * 5
    assert store.search_items("Criminology Today") == ["01037"]
    assert store.search_items("B00L8MU234") == ["01037"]


def test_flat_folder_import(tmp_path: Path, store: Store) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    _jpeg(flat / "42.jpg")
    _meta(flat / "42.json", 1, [1])
    import_dataset(store, flat)
    assert store.get_image("42")["status"] == "ok"


def test_import_cli_creates_workspace(tmp_path: Path, sample_dir: Path) -> None:
    from binaudit.cli import main

    copy = tmp_path / "sample"
    shutil.copytree(sample_dir, copy)
    assert main(["import", str(copy), "--db", str(tmp_path / "ws")]) == 0
    with Store.open(tmp_path / "ws" / "workspace.db") as s:
        assert s.count_images() == 12


def test_bulk_import_indexes_text_once_and_recovers_when_interrupted(tmp_path: Path, store: Store,
                                                                      synth_dataset: Path, monkeypatch) -> None:
    from binaudit.core import importer
    from binaudit.core.progress import Cancelled

    monkeypatch.setattr(importer, "BULK_THRESHOLD", 10)
    monkeypatch.setattr(importer, "BATCH_SIZE", 40)
    calls = []
    with pytest.raises(Cancelled):  # stopped after the first batch: rows in, text index not yet built
        import_dataset(store, synth_dataset, cancel=lambda: bool(calls.append(1)) or len(calls) > 1)
    assert not store.search_index_complete()
    import_dataset(store, synth_dataset)
    assert store.search_index_complete()
    name = store.query("SELECT name FROM items LIMIT 1")[0]["name"]
    word = max(name.split(), key=len)
    assert store.search_items(word)


def _table(store: Store, sql: str, skip: tuple[str, ...]) -> list[tuple]:
    return [tuple(v for k, v in row.items() if k not in skip) for row in store.query(sql)]


def test_worker_processes_import_exactly_what_one_process_does(tmp_path: Path, synth_dataset: Path,
                                                                monkeypatch) -> None:
    from binaudit.core import importer

    root = build_bad_dataset(tmp_path / "data")
    for folder in ("bin-images", "metadata"):  # the synthetic bins next to every kind of bad file
        for path in (synth_dataset / folder).iterdir():
            shutil.copy(path, root / folder / f"s{path.name}")
    monkeypatch.setattr(importer, "BATCH_SIZE", 16)
    tables = []
    for workers in (1, 2):
        with Store.open(tmp_path / f"ws{workers}" / "workspace.db") as store:
            summary = import_dataset(store, root, workers=workers)
            assert summary.added == summary.scanned == 131
            tables.append((_table(store, "SELECT * FROM images ORDER BY image_id", ("imported_at",)),
                           _table(store, "SELECT * FROM items ORDER BY image_id, sku_key", ("id",))))
    assert tables[0] == tables[1]
    assert len(tables[0][1]) > 120


def test_bulk_reimport_replaces_items_instead_of_adding_them(tmp_path: Path, store: Store, synth_dataset: Path,
                                                             monkeypatch) -> None:
    from binaudit.core import importer

    monkeypatch.setattr(importer, "BULK_THRESHOLD", 10)
    root = tmp_path / "data"
    shutil.copytree(synth_dataset, root)
    import_dataset(store, root)
    items_before = store.query("SELECT count(*) AS n FROM items")[0]["n"]
    for path in (root / "metadata").iterdir():  # every record changes: a bulk update
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    summary = import_dataset(store, root)
    assert summary.updated == 120
    assert store.query("SELECT count(*) AS n FROM items")[0]["n"] == items_before
    assert store.search_index_complete() and store.search_index_consistent()


def test_cancelled_import_with_workers_stops_and_leaves_no_scratch_files(tmp_path: Path, store: Store,
                                                                        synth_dataset: Path, monkeypatch) -> None:
    import tempfile

    from binaudit.core import importer
    from binaudit.core.progress import Cancelled

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(importer, "BATCH_SIZE", 10)
    calls = []
    with pytest.raises(Cancelled):
        import_dataset(store, synth_dataset, workers=2, cancel=lambda: bool(calls.append(1)) or len(calls) > 2)
    assert store.count_images() == 20  # the two batches merged before the cancel
    assert list(scratch.iterdir()) == []
    assert import_dataset(store, synth_dataset, workers=2).added == 100


def test_odd_file_names_in_the_photo_folder(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "data"
    images, meta = root / "bin-images", root / "metadata"
    images.mkdir(parents=True)
    meta.mkdir()
    _jpeg(images / ".jpg")          # hidden: ignored
    _jpeg(images / "7.jpg"); _meta(meta / "7.json", 1, [1])
    (images / "7").write_bytes(b"x")  # same name as an id, no extension: the pair wins
    _jpeg(images / "8.JPEG"); _jpeg(images / "8.jpg")
    (images / "notes.txt").write_text("hi")
    (meta / "README").write_text("metadata/ may hold other files")
    import_dataset(store, root)
    rows = {r["image_id"]: r for r in store.query("SELECT * FROM images")}
    assert rows["7"]["status"] == "ok"
    assert "second photo for id 8" in (rows.get("8.jpg") or rows["8.JPEG"])["reason"]
    assert rows["notes.txt"]["status"] == "unreadable_image" and "not a photo" in rows["notes.txt"]["reason"]
    assert "" not in rows and ".jpg" not in rows and "README" not in rows


def test_import_from_a_thread_uses_spawned_workers(tmp_path: Path, store: Store, synth_dataset: Path,
                                                   monkeypatch) -> None:
    """The GUI imports from a worker thread, where forking would be unsafe: the pool spawns instead."""
    import threading

    from binaudit.core import importer

    monkeypatch.setattr(importer, "BATCH_SIZE", 30)
    contexts, results = [], []
    original = importer._pool_context
    monkeypatch.setattr(importer, "_pool_context", lambda: contexts.append(original()) or contexts[-1])
    thread = threading.Thread(target=lambda: results.append(import_dataset(store, synth_dataset, workers=2)))
    thread.start()
    thread.join(120)
    assert [c.get_start_method() for c in contexts] == ["spawn"]
    assert results and results[0].added == 120 and store.count_images() == 120


_real_examine_batch = None


def _dies_on_the_fourth_batch(job, ratios, imported_at, stage):
    """examine_batch, except that the worker running the fourth batch dies as if the OOM killer took it."""
    if stage.name.endswith("000003.sqlite"):
        os._exit(9)
    return _real_examine_batch(job, ratios, imported_at, stage)


def test_a_killed_worker_stops_the_import_with_a_clear_message_and_keeps_what_was_merged(
        tmp_path: Path, synth_dataset: Path, monkeypatch, capsys) -> None:
    import multiprocessing
    import sys

    from binaudit.cli import main
    from binaudit.core import importer

    monkeypatch.setattr(importer, "BATCH_SIZE", 20)
    monkeypatch.setattr(importer, "_pool_context", lambda: multiprocessing.get_context("fork"))  # sees the patches
    monkeypatch.setattr(sys.modules[__name__], "_real_examine_batch", importer.examine_batch)
    monkeypatch.setattr(importer, "examine_batch", _dies_on_the_fourth_batch)
    assert main(["import", str(synth_dataset), "--db", str(tmp_path / "ws"), "--workers", "2"]) == 1
    assert "stopped unexpectedly" in capsys.readouterr().err
    monkeypatch.undo()
    with Store.open(tmp_path / "ws" / "workspace.db") as store:
        assert 0 < store.count_images() < 120
        summary = import_dataset(store, synth_dataset)
        assert summary.added + summary.unchanged == 120 and store.count_images() == 120
        assert store.search_index_complete() and store.search_index_consistent()


def test_scratch_left_by_a_killed_import_is_removed_by_the_next(tmp_path: Path, store: Store, synth_dataset: Path,
                                                               monkeypatch) -> None:
    import subprocess
    import sys
    import tempfile

    from binaudit.core import importer

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"{importer.SCRATCH_PREFIX}{int(dead.stdout)}-abc123"
    orphan.mkdir()
    (orphan / "batch-000000.sqlite").write_bytes(b"x" * 1000)
    alive = tmp_path / f"{importer.SCRATCH_PREFIX}{os.getpid()}-def456"  # a running import's: kept
    alive.mkdir()
    import_dataset(store, synth_dataset)
    assert not orphan.exists() and alive.exists()
