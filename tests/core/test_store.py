"""The workspace store: effective-label rule, append-only events, stale edits, models, predictions, runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from binaudit.core.labels import StaleLabelError
from binaudit.core.store import PredictionRow, Store, StoreError


def add_images(store: Store, n: int = 3) -> None:
    rows = [{"image_id": f"{i:05d}", "path": f"/x/{i}.jpg", "status": "ok", "split": "train",
             "recorded_count": i % 4, "effective_count": i % 4} for i in range(1, n + 1)]
    store.upsert_images(rows, {})


def test_effective_label_is_latest_event_else_recorded(store: Store) -> None:
    add_images(store)
    assert store.effective_label("00002").count == 2
    assert store.effective_label("00002").status == "recorded"
    store.record_label("00002", user="ann", status="corrected", count=5)
    store.record_label("00002", user="bob", status="confirmed", count=4)
    label = store.effective_label("00002")
    assert (label.count, label.status, label.user) == (4, "confirmed", "bob")
    assert store.get_image("00002")["recorded_count"] == 2, "the recorded count is never overwritten"
    store.record_label("00002", user="ann", status="reset")
    assert store.effective_label("00002").count == 2
    store.record_label("00002", user="ann", status="uncountable", reason="taped over")
    assert store.effective_label("00002").count is None
    assert [e.status for e in store.label_history("00002")] == ["corrected", "confirmed", "reset", "uncountable"]


def test_training_labels_follow_effective_labels(store: Store) -> None:
    add_images(store, 4)
    store.record_label("00001", user="ann", status="corrected", count=3)
    store.record_label("00002", user="ann", status="excluded")
    store.record_label("00003", user="ann", status="uncountable", reason="blurred")
    labels = {i: c for i, _, c in store.training_labels()}
    assert labels == {"00001": 3, "00004": 0}
    before = store.label_snapshot()
    store.record_label("00004", user="ann", status="corrected", count=1)
    assert store.label_snapshot() != before


def test_stale_edit_is_refused_and_writes_nothing(store: Store) -> None:
    add_images(store)
    shown = store.effective_label("00001")
    store.record_label("00001", user="bob", status="corrected", count=7, expected_event_id=shown.event_id)
    with pytest.raises(StaleLabelError) as info:
        store.record_label("00001", user="ann", status="corrected", count=2, expected_event_id=shown.event_id)
    assert "bob" in str(info.value)
    assert store.event_count() == 1
    assert store.effective_label("00001").count == 7


def test_label_events_are_append_only(store: Store) -> None:
    add_images(store)
    store.record_label("00001", user="ann", status="corrected", count=2)
    for sql in ("UPDATE label_events SET count = 9", "DELETE FROM label_events"):
        with pytest.raises(Exception, match="append-only"):
            with store.write():
                store.db.conn.execute(sql)
    assert store.label_history("00001")[0].count == 2


def test_event_records_previous_label_and_predictions(store: Store) -> None:
    add_images(store)
    event = store.record_label("00003", user="ann", status="corrected", count=1,
                               predictions={"resnet": {"model_id": 1, "predicted": 1}})
    assert (event.previous_status, event.previous_count) == ("recorded", 3)
    assert store.get_event(event.id).predictions == {"resnet": {"model_id": 1, "predicted": 1}}


def test_bad_events_are_refused(store: Store) -> None:
    add_images(store)
    with pytest.raises(ValueError):
        store.record_label("00001", user="ann", status="corrected")
    with pytest.raises(ValueError):
        store.record_label("00001", user="ann", status="uncountable")
    with pytest.raises(ValueError):
        store.record_label("00001", user=" ", status="confirmed", count=1)
    with pytest.raises(KeyError):
        store.record_label("99999", user="ann", status="confirmed", count=1)
    assert store.event_count() == 0


def test_models_one_active_per_kind_and_predictions(store: Store) -> None:
    add_images(store)
    a = store.register_model(kind="svm", architecture="svm-rbf", classes=range(6), path="a.npz", sha256="1")
    b = store.register_model(kind="svm", architecture="svm-rbf", classes=range(6), path="b.npz", sha256="2")
    r = store.register_model(kind="resnet", architecture="resnet18", classes=range(6), path="r.st", sha256="3")
    assert store.active_model("svm") is None
    store.activate_model(a)
    store.activate_model(r)
    store.activate_model(b)
    assert store.active_model("svm")["id"] == b and store.active_model("resnet")["id"] == r
    assert [m["active"] for m in store.list_models("svm")] == [False, True]
    store.write_predictions(b, [PredictionRow("00001", 2, [0, 0, 1, 0, 0, 0], 2.0, 1.0, 0.0, 0.1, 0.2)])
    assert store.scored_image_ids(b) == {"00001"}
    assert store.predictions(b)[0]["probs"] == [0, 0, 1, 0, 0, 0]


def test_runs_round_trip(store: Store) -> None:
    run = store.create_run("svm", {"C": 100})
    store.update_run(run, status="finished", metrics={"accuracy": 0.5})
    got = store.get_run(run)
    assert got["config"] == {"C": 100} and got["metrics"] == {"accuracy": 0.5} and got["status"] == "finished"
    with pytest.raises(ValueError):
        store.update_run(run, bogus=1)


def test_wal_full_sync_and_schema_version(store: Store) -> None:
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.schema_version() >= 1
    assert store.integrity_check() == "ok"


def test_reopen_keeps_data_and_does_not_remigrate(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path) as s:
        add_images(s)
        s.record_label("00001", user="ann", status="corrected", count=2)
    with Store.open(path) as s:
        assert s.effective_label("00001").count == 2


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store.open(path) as s:
        s.db.conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="newer binaudit"):
        Store.open(path)


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(path)


def test_sqlite_library_is_free_of_the_wal_reset_bug() -> None:
    from binaudit.core.store import SQLITE_VERSION

    version = tuple(int(p) for p in SQLITE_VERSION.split("."))
    assert version >= (3, 51, 3), f"SQLite {SQLITE_VERSION} has the WAL-reset corruption bug"


def test_schema_v1_workspace_is_migrated_to_one_search_text_per_image(tmp_path: Path) -> None:
    import sqlite_utils

    from binaudit.core.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    MIGRATIONS[0](old)
    old.conn.execute("PRAGMA user_version = 1")
    old.conn.execute("INSERT INTO images (image_id, status, split) VALUES ('00001', 'ok', 'train'), "
                     "('00002', 'no_metadata', 'val')")
    old.conn.executemany("INSERT INTO items (image_id, sku_key, asin, name, quantity) VALUES (?, ?, ?, ?, 1)",
                         [("00001", "B1", "B000A8C5QE", "MSR PocketRocket Stove"), ("00001", "B2", "B0064LIWVS", "Fuel")])
    old.conn.commit()
    old.conn.close()
    with Store.open(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert store.get_image("00001")["search_text"] == "MSR PocketRocket Stove B000A8C5QE Fuel B0064LIWVS"
        assert store.search_items("pocketrock") == store.search_items("b0064") == ["00001"]
        assert store.search_items("stove fuel") == ["00001"]  # words from two SKUs of one bin
        assert store.search_index_complete() and store.search_index_consistent()


def test_search_index_follows_reimported_names(tmp_path: Path, store: Store) -> None:
    add_images(store)
    store.upsert_images([{"image_id": "00001", "status": "ok", "split": "train", "search_text": "red kettle B0A"}], {})
    assert store.search_items("kettle") == ["00001"]
    store.upsert_images([{"image_id": "00001", "status": "ok", "split": "train", "search_text": "blue teapot B0A"}], {})
    assert store.search_items("kettle") == [] and store.search_items("teapot") == ["00001"]
    assert store.search_index_consistent()
    store.db.conn.execute("UPDATE images SET search_text = 'changed behind the index' WHERE image_id = '00001'")
    assert not store.search_index_consistent()
