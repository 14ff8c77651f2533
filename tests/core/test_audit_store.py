"""The audit loop's tables: schema v5 from a v4 workspace, random samples marked, reviews in order, resets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils

from binaudit.core.store import Store
from binaudit.core.store.audit import draw_sample, proportional_allocation, score_strata
from binaudit.core.store.migrations import MIGRATIONS


def _downgrade_to_v4(current: Path, old: Path) -> None:
    """A schema-v4 workspace (before the audit loop) holding current's images, items, events and models."""
    db = sqlite_utils.Database(old)
    for migration in MIGRATIONS[:4]:
        migration(db)
    conn = db.conn
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.execute("ATTACH DATABASE ? AS cur", [str(current)])
    for table in ("images", "items", "label_events", "runs", "models", "predictions"):
        columns = ", ".join(c.name for c in db[table].columns)
        conn.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM cur.{table}")
    conn.commit()
    conn.execute("DETACH DATABASE cur")
    conn.execute("INSERT INTO images_fts(images_fts) VALUES ('rebuild')")
    conn.commit()
    conn.close()


def test_v4_workspace_gains_the_audit_tables_and_keeps_its_data(tmp_path: Path, synth_store: Store) -> None:
    ids = synth_store.eligible_for_sample()
    synth_store.record_label(ids[0], user="ann", status="corrected", count=7)
    synth_store.record_label(ids[1], user="ann", status="uncountable", reason="blurred")
    labels = synth_store.query("SELECT image_id, effective_count, label_status, label_event_id FROM images "
                               "ORDER BY image_id")
    events = synth_store.query("SELECT * FROM label_events ORDER BY id")
    old = tmp_path / "old" / "workspace.db"
    old.parent.mkdir()
    _downgrade_to_v4(synth_store.path, old)
    before = sqlite_utils.Database(old)
    assert "audit_samples" not in before.table_names()
    before.conn.close()
    with Store.open(old) as store:
        assert store.schema_version() == len(MIGRATIONS) == 5
        assert {"audit_samples", "audit_sample_bins", "queue_updates"} <= set(store.db.table_names())
        assert store.query("SELECT image_id, effective_count, label_status, label_event_id FROM images "
                           "ORDER BY image_id") == labels
        assert store.query("SELECT * FROM label_events ORDER BY id") == events
        assert [r.image_id for r in store.reviews_in_order()] == [ids[0]]
        assert store.audit_sample() is None and store.latest_queue_update() is None
        assert store.integrity_check() == "ok"


def test_a_simple_sample_is_marked_and_repeatable(synth_store: Store) -> None:
    eligible = synth_store.eligible_for_sample()
    first = synth_store.draw_audit_sample(12, seed=5, user="ann")
    second = synth_store.draw_audit_sample(12, seed=5, user="bob", note="again")
    bins = synth_store.audit_sample_bins(first)
    assert len(bins) == 12 and len({b.image_id for b in bins}) == 12 and {b.image_id for b in bins} <= set(eligible)
    assert [b.draw_order for b in bins] == list(range(12))
    assert {(b.stratum, b.stratum_size, b.stratum_drawn) for b in bins} == {(0, len(eligible), 12)}
    assert [b.image_id for b in synth_store.audit_sample_bins(second)] == [b.image_id for b in bins]
    latest = synth_store.audit_sample()
    assert latest is not None and latest["id"] == second and latest["created_by"] == "bob"
    assert latest["population"] == len(eligible) and latest["seed"] == 5 and latest["stratified"] is False
    other = synth_store.draw_audit_sample(12, seed=6, user="ann")
    assert {b.image_id for b in synth_store.audit_sample_bins(other)} != {b.image_id for b in bins}
    seeded = synth_store.audit_sample(synth_store.draw_audit_sample(3, user="ann"))
    assert seeded is not None and isinstance(seeded["seed"], int)  # chosen and recorded
    with pytest.raises(ValueError, match="cannot be drawn"):
        synth_store.draw_audit_sample(len(eligible) + 1, user="ann")
    with pytest.raises(ValueError, match="scores"):
        synth_store.draw_audit_sample(5, stratified=True, user="ann")


def test_a_stratified_sample_records_its_strata(synth_store: Store) -> None:
    eligible = synth_store.eligible_for_sample()
    scores = {image_id: i / len(eligible) for i, image_id in enumerate(eligible[:-8])}  # 8 unscored bins
    sample = synth_store.draw_audit_sample(20, stratified=True, seed=1, user="ann", scores=scores, strata=4)
    bins = synth_store.audit_sample_bins(sample)
    per_stratum = Counter(b.stratum for b in bins)
    sizes = {b.stratum: b.stratum_size for b in bins}
    assert sum(per_stratum.values()) == 20 and set(per_stratum) == {0, 1, 2, 3, 4}
    assert sizes[4] == 8 and sum(sizes.values()) == len(eligible)
    assert all(b.stratum_drawn == per_stratum[b.stratum] for b in bins)
    quartiles = np.array_split(np.array(eligible[:-8]), 4)  # scores rise with the id here
    expected = {str(i): h for h, part in enumerate(quartiles) for i in part} | dict.fromkeys(eligible[-8:], 4)
    assert all(b.stratum == expected[b.image_id] for b in bins)


def test_allocation_is_proportional_and_reaches_every_stratum() -> None:
    assert proportional_allocation(np.array([50, 30, 20]), 10).tolist() == [5, 3, 2]
    assert proportional_allocation(np.array([97, 1, 2]), 10).tolist() == [8, 1, 1]
    assert proportional_allocation(np.array([97, 1, 2]), 2).tolist() == [2, 0, 0]
    assert proportional_allocation(np.array([3, 0, 4]), 7).tolist() == [3, 0, 4]
    assert score_strata(np.array([0.9, np.nan, 0.1, 0.5]), 2).tolist() == [1, 2, 0, 0]  # groups [0.1, 0.5], [0.9]
    drawn = draw_sample(100, 10, np.random.default_rng(0), np.repeat([0, 1], 50))
    assert len({p for p, *_ in drawn}) == 10 and Counter(h for _, h, _, _ in drawn) == {0: 5, 1: 5}


def test_reviews_come_in_first_decision_order_and_a_reset_undoes_one(synth_store: Store) -> None:
    ids = synth_store.eligible_for_sample()
    recorded = {i: synth_store.get_image(i)["recorded_count"] for i in ids[:6]}
    a, b, c, d, e, f = ids[:6]
    synth_store.record_label(c, user="ann", status="corrected", count=recorded[c] + 1)
    synth_store.record_label(a, user="ann", status="confirmed", count=recorded[a])
    synth_store.record_label(b, user="bob", status="uncountable", reason="taped over")  # not a review of the record
    synth_store.record_label(d, user="ann", status="corrected", count=recorded[d])  # corrected to the same count
    synth_store.record_label(c, user="bob", status="corrected", count=recorded[c] + 2)  # keeps c's first place
    synth_store.record_label(e, user="ann", status="excluded")
    synth_store.record_label(f, user="ann", status="corrected", count=recorded[f] + 1)
    synth_store.record_label(f, user="ann", status="reset")  # undoes f's review
    reviews = synth_store.reviews_in_order()
    assert [(r.image_id, r.variance, r.verified) for r in reviews] == [
        (c, True, recorded[c] + 2), (a, False, recorded[a]), (d, False, recorded[d])]
    assert reviews[0].user == "ann" and reviews[0].status == "corrected"
    synth_store.record_label(a, user="ann", status="reset")
    synth_store.record_label(a, user="bob", status="corrected", count=recorded[a] + 1)  # a new review, last
    assert [(r.image_id, r.variance) for r in synth_store.reviews_in_order()] == [(c, True), (d, False), (a, True)]


def test_a_review_after_the_draw_is_a_sample_review(synth_store: Store) -> None:
    ids = synth_store.eligible_for_sample()
    before = ids[0]
    synth_store.record_label(before, user="ann", status="confirmed",
                             count=synth_store.get_image(before)["recorded_count"])
    sample = synth_store.draw_audit_sample(len(ids), seed=0, user="ann")  # every eligible bin
    after = ids[1]
    synth_store.record_label(after, user="ann", status="confirmed", count=synth_store.get_image(after)["recorded_count"])
    flags = {r.image_id: (r.sample_id, r.sample_review) for r in synth_store.reviews_in_order()}
    assert flags == {before: (sample, False), after: (sample, True)}


def test_queue_updates_keep_history_and_the_latest_applies(store: Store) -> None:
    assert store.latest_queue_update() is None
    first = store.record_queue_update(user="ann", reviewed=10, positives=2, recalibration='{"a": 1}')
    second = store.record_queue_update(user="bob", reviewed=20, positives=5, recalibration='{"a": 2}', note="n")
    latest = store.latest_queue_update()
    assert latest is not None and latest["id"] == second and latest["recalibration"] == '{"a": 2}'
    assert [u["id"] for u in store.queue_updates()] == [first, second]
    with pytest.raises(ValueError):
        store.record_queue_update(user=" ", reviewed=1, positives=0, recalibration="{}")
