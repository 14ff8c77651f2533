"""core.browse.BrowseIndex: the browser's numpy columns, filters, sorts, queues and row refresh (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from binaudit.core import labels as L
from binaudit.core.browse import LABEL_STATUSES, SORT_KEYS, BrowseFilter, BrowseIndex
from binaudit.core.store import PredictionRow, Store


def _rows(store: Store) -> dict[str, dict]:
    return {r["image_id"]: r for r in store.query("SELECT * FROM images")}


def test_load_matches_the_store(scored_store: Store) -> None:
    index = BrowseIndex.load(scored_store)
    rows = _rows(scored_store)
    assert len(index) == len(rows) == scored_store.count_images()
    assert [index.image_id(i) for i in range(len(index))] == sorted(rows)
    resnet = {r["image_id"]: r for r in scored_store.predictions(scored_store.active_model("resnet")["id"])}
    for pos in range(len(index)):
        image_id = index.image_id(pos)
        row = rows[image_id]
        assert index.recorded[pos] == (-1 if row["recorded_count"] is None else row["recorded_count"])
        assert index.status[pos] == ["ok", "no_metadata", "no_image", "unreadable_image", "malformed_metadata",
                                     "inconsistent"].index(row["status"])
        assert index.models["resnet"].predicted[pos] == resnet[image_id]["predicted"]
        assert index.models["resnet"].confidence[pos] == pytest.approx(resnet[image_id]["confidence"], abs=1e-5)
        assert index.models["resnet"].mismatch[pos] == pytest.approx(resnet[image_id]["mismatch"], abs=1e-5)
        assert index.position(image_id) == pos
    assert index.position("no-such-id") is None


def test_partial_predictions_and_odd_ids_line_up(store: Store) -> None:
    odd = ["a\x1fb", "\u00e9t\u00e9", "z", "0001", "10"]
    store.upsert_images([{"image_id": i, "path": None, "recorded_count": n, "status": "ok", "split": "train"}
                         for n, i in enumerate(odd)], {})
    model_id = store.register_model(kind="svm", architecture="t", classes=[0, 1, 2], path="x", sha256="0")
    store.write_predictions(model_id, [PredictionRow("z", 2, [0, 0, 1], 2.0, 1.0, None, 0.5, None),
                                       PredictionRow("\u00e9t\u00e9", 1, [0, 1, 0], 1.0, 0.9, None, None, 0.25)])
    store.activate_model(model_id)
    index = BrowseIndex.load(store)
    assert [index.image_id(i) for i in range(len(index))] == sorted(odd, key=lambda s: s.encode())
    svm = index.models["svm"]
    assert svm.predicted[index.position("z")] == 2 and svm.mismatch[index.position("z")] == pytest.approx(0.5)
    assert np.isnan(svm.mismatch[index.position("\u00e9t\u00e9")])
    assert svm.label_issue[index.position("\u00e9t\u00e9")] == pytest.approx(0.25)
    assert svm.predicted[index.position("a\x1fb")] == -1 and not index.models["resnet"].active


def test_filters(scored_store: Store) -> None:
    index = BrowseIndex.load(scored_store)
    rows = _rows(scored_store)
    ids = lambda sel: {index.image_id(p) for p in sel}  # noqa: E731
    assert ids(index.select(BrowseFilter(recorded_min=3, recorded_max=3))) == \
        {i for i, r in rows.items() if r["recorded_count"] == 3}
    assert ids(index.select(BrowseFilter(recorded_min=6))) == \
        {i for i, r in rows.items() if (r["recorded_count"] or -1) >= 6}
    assert ids(index.select(BrowseFilter(split="val"))) == {i for i, r in rows.items() if r["split"] == "val"}
    assert ids(index.select(BrowseFilter(statuses=frozenset({"inconsistent"})))) == \
        {i for i, r in rows.items() if r["status"] == "inconsistent"}
    resnet = {r["image_id"]: r["predicted"] for r in scored_store.predictions(scored_store.active_model("resnet")["id"])}
    svm = {r["image_id"]: r["predicted"] for r in scored_store.predictions(scored_store.active_model("svm")["id"])}
    assert ids(index.select(BrowseFilter(predicted=2, predicted_by="resnet"))) == {i for i, p in resnet.items() if p == 2}
    assert ids(index.select(BrowseFilter(predicted=2))) == {i for i in rows if resnet[i] == 2 or svm[i] == 2}
    mism = ids(index.select(BrowseFilter(mismatch_only=True)))
    clip = lambda r: min(max(r if r is not None else -99, 0), 5)  # noqa: E731
    assert mism == {i for i, r in rows.items() if r["recorded_count"] is not None
                    and (resnet[i] != clip(r["recorded_count"]) or svm[i] != clip(r["recorded_count"]))}
    word = scored_store.query("SELECT name FROM items WHERE name != '' LIMIT 1")[0]["name"].split()[0]
    found = scored_store.search_items(word)
    assert found
    assert ids(index.select(BrowseFilter(text=word), text_positions=index.positions(found))) == set(found)
    combined = index.select(BrowseFilter(text=word, split="train"), text_positions=index.positions(found))
    assert ids(combined) == {i for i in found if rows[i]["split"] == "train"}


@pytest.mark.parametrize("key", SORT_KEYS)
def test_sorts_are_stable_with_missing_last(scored_store: Store, key: str) -> None:
    index = BrowseIndex.load(scored_store)
    for descending in (False, True):
        order = index.sort_order(key, descending)
        assert sorted(order.tolist()) == list(range(len(index)))
        if key == "id":
            continue
        values = index._sort_values(key).astype(np.float64)
        values = np.where(values < 0, np.nan, values) if index._sort_values(key).dtype.kind != "f" else values
        v = values[order]
        known = ~np.isnan(v)
        assert not np.any(known[np.argmin(known):]) or known.all()  # missing values only at the end
        k = v[known]
        steps = np.diff(k)
        assert np.all(steps <= 0) if descending else np.all(steps >= 0)
        ties = np.nonzero(steps == 0)[0]
        assert np.all(order[known][ties] < order[known][ties + 1])  # stable: equal keys keep id order


def test_refresh_after_relabel_and_queue(scored_store: Store) -> None:
    index = BrowseIndex.load(scored_store)
    queue = index.queue_order()
    scores = index.mismatch_score()[queue]
    assert len(queue) == len(index) and np.all(np.diff(scores) <= 0)
    first, second = index.image_id(int(queue[0])), index.image_id(int(queue[1]))
    before = index.sort_order("label")
    e1 = scored_store.record_label(first, user="ann", status=L.CORRECTED, count=9, expected_event_id=None)
    scored_store.record_label(second, user="bob", status=L.UNCOUNTABLE, reason="blurred", expected_event_id=None)
    changed = index.refresh(scored_store, [first, second])
    assert sorted(index.image_id(int(p)) for p in changed) == sorted([first, second])
    p1, p2 = index.position(first), index.position(second)
    assert index.effective[p1] == 9 and LABEL_STATUSES[index.label_status[p1]] == L.CORRECTED
    assert index.reviewer(p1) == "ann" and index.event_id[p1] == e1.id
    assert LABEL_STATUSES[index.label_status[p2]] == L.UNCOUNTABLE and index.label_reason[p2] == "blurred"
    assert index.label_text(p2) == "uncountable (blurred)"
    assert not np.array_equal(index.sort_order("label"), before)  # the cached label sort was dropped
    progress = index.queue_progress(queue)
    assert (progress.total, progress.reviewed, progress.variances, progress.uncountable) == (len(queue), 2, 1, 1)
    assert set(index.select(BrowseFilter(reviewed=True)).tolist()) == {p1, p2}
    assert len(index.select(BrowseFilter(reviewed=False))) == len(index) - 2
    scored_store.record_label(first, user="ann", status=L.RESET, expected_event_id=e1.id, action="undo")
    index.refresh(scored_store, [first])
    assert len(index.select(BrowseFilter(reviewed=True))) == 1  # back to the recorded count = unreviewed
    assert BrowseIndex.load(scored_store).reviewer(index.position(second)) == "bob"  # a fresh load agrees


def test_empty_workspace(store: Store) -> None:
    index = BrowseIndex.load(store)
    assert len(index) == 0
    assert index.select(BrowseFilter(mismatch_only=True, text="x")).size == 0
    assert index.queue_order().size == 0 and index.positions(["a"]).size == 0
