"""The whole real ABID slice (../shared/abid-real) imports: every usable record ok, twice, nothing duplicated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from binaudit.core.abid import MetadataError, parse_metadata_checked, parse_metadata_fast
from binaudit.core.importer import import_dataset
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from tests.support.paths import REAL_SLICE as SLICE

pytestmark = pytest.mark.skipif(not (SLICE / "metadata").is_dir(),
                                reason=f"the real ABID slice is not at {SLICE} (it travels beside the repo)")

INCONSISTENT = {"01405", "01406", "02081", "02082", "09032", "09033"}  # quantities add up to 1-2 less
NULL_NAMES = {"01036", "01037", "03810", "03811", "08577", "08578"}  # one SKU's name is null


@pytest.fixture(scope="module")
def records() -> dict[str, dict[str, Any]]:
    """Every metadata file of the slice as plain JSON, by id."""
    return {p.stem: json.loads(p.read_bytes()) for p in (SLICE / "metadata").glob("*.json")}


def _snapshot(store: Store) -> tuple[list[tuple], list[tuple]]:
    images = [tuple(r.values()) for r in store.query("SELECT * FROM images ORDER BY image_id")]
    items = [tuple(r.values()) for r in store.query("SELECT * FROM items ORDER BY id")]
    return images, items


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    """The slice imported into a fresh workspace, with both import summaries and the store before the second."""
    workspace = Workspace.at(tmp_path_factory.mktemp("real") / "ws").ensure()
    with Store.open(workspace.db_path) as store:
        first = import_dataset(store, SLICE)
        before = _snapshot(store)
        second = import_dataset(store, SLICE)
        yield store, first, second, before


def test_every_real_record_imports_ok_but_the_six_that_do_not_add_up(imported) -> None:
    store, first, _, _ = imported
    assert first.scanned == first.added == 10_013
    assert first.statuses == store.status_counts() == {"ok": 10_007, "inconsistent": 6}
    bad = {r["image_id"] for r in store.query("SELECT image_id FROM images WHERE status != 'ok'")}
    assert bad == INCONSISTENT


def test_second_import_changes_nothing(imported) -> None:
    store, _, second, before = imported
    assert (second.added, second.updated, second.unchanged, second.missing) == (0, 0, 10_013, 0)
    assert second.statuses == {"ok": 10_007, "inconsistent": 6}
    assert _snapshot(store) == before
    dupes = store.query("SELECT image_id, sku_key FROM items GROUP BY image_id, sku_key HAVING count(*) > 1")
    assert dupes == []


def test_null_names_are_blank_and_their_counts_survive(imported, records) -> None:
    store, _, _, _ = imported
    for image_id in NULL_NAMES:
        row = store.get_image(image_id)
        record = records[image_id]
        assert row["status"] == "ok"
        assert row["recorded_count"] == row["sku_quantity"] == record["EXPECTED_QUANTITY"]
        assert row["sku_count"] == len(record["BIN_FCSKU_DATA"])
        stored = {i["sku_key"]: i for i in store.items_for_image(image_id)}
        for key, sku in record["BIN_FCSKU_DATA"].items():
            assert stored[key]["quantity"] == sku["quantity"]
            assert stored[key]["name"] == (sku["name"] or "")
        assert [k for k, s in record["BIN_FCSKU_DATA"].items() if s["name"] is None] == \
               [k for k, i in stored.items() if i["name"] == "" and i["normalized_name"] is None]


def test_every_sku_and_every_null_measure_is_stored(imported, records) -> None:
    store, _, _, _ = imported
    skus = [s for r in records.values() for s in r["BIN_FCSKU_DATA"].values()]
    assert store.query("SELECT count(*) AS n FROM items")[0]["n"] == len(skus)
    for field in ("weight", "length", "width", "height"):
        nulls = store.query(f"SELECT count(*) AS n FROM items WHERE {field} IS NULL")[0]["n"]
        assert nulls == sum(s.get(field) is None for s in skus)
    assert store.query("SELECT count(*) AS n FROM items WHERE weight IS NULL")[0]["n"] == 609  # the slice README
    empty = store.query("SELECT count(*) AS n FROM images WHERE recorded_count = 0 AND sku_count = 0 "
                        "AND status = 'ok'")[0]["n"]
    assert empty == 179


def test_unpadded_ids_are_other_bins(imported) -> None:
    store, _, _, _ = imported
    for short in ("1", "10", "100", "1037"):
        padded = store.get_image(short.zfill(5))
        row = store.get_image(short)
        assert row["status"] == padded["status"] == "ok"
        assert Path(row["path"]).name == f"{short}.jpg" and row["path"] != padded["path"]


def test_fast_parser_takes_real_records_and_agrees_with_the_checked_one() -> None:
    fast = 0
    for path in (SLICE / "metadata").glob("*.json"):
        data = path.read_bytes()
        record = parse_metadata_fast(data)
        try:
            checked = parse_metadata_checked(data)
        except MetadataError as exc:
            pytest.fail(f"{path.name}: {exc}")
        assert record is None or record == checked, path.name
        fast += record is not None
    assert fast >= 10_000  # only names holding an escaped quote before a colon (2 here) take the checked path
