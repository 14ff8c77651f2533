"""One mismatch rule: the browser's Mismatch column, sorted, is the audit queue, and its tooltip names the parts.

Real trained models (the session's scored workspace), the real Qt table model over the real browse index.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt

from binaudit.core.queues import AUDIT_QUEUE, RULE_MARK
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace
from binaudit.gui.browse.table_model import COLUMN_KEYS, BrowseTableModel
from binaudit.gui.common.session import WorkspaceSession


def _loaded_model(qtbot, store: Store) -> BrowseTableModel:
    session = WorkspaceSession(Workspace(store.path.parent), poll_ms=0)
    with qtbot.waitSignal(session.indexLoaded, timeout=20000):
        session.load_index()
    model = BrowseTableModel(session)
    model.set_index(session.index)
    return model


def _cells(model: BrowseTableModel, column: int, role: Qt.ItemDataRole) -> list:
    return [model.data(model.index(row, column), role) for row in range(model.rowCount())]


def test_sorted_mismatch_column_is_the_audit_queue(qtbot, scored_store: Store) -> None:
    model = _loaded_model(qtbot, scored_store)
    index = model.index_
    column = COLUMN_KEYS.index(AUDIT_QUEUE.sort_key)
    model.sort(column, Qt.SortOrder.DescendingOrder)
    queue = index.queue_order()
    assert len(queue) == len(index) and np.array_equal(model.view[:len(queue)], queue)
    shown = _cells(model, column, Qt.ItemDataRole.DisplayRole)
    flagged = [text.startswith(RULE_MARK) for text in shown]
    numbers = [float(text.removeprefix(RULE_MARK).removesuffix("%")) for text in shown]
    inconsistent = {r["image_id"] for r in scored_store.query("SELECT image_id FROM images WHERE status = 'inconsistent'")}
    assert inconsistent and {index.image_id(int(p)) for p, f in zip(model.view, flagged) if f} == inconsistent
    keys = list(zip(flagged, numbers))
    assert keys == sorted(keys, reverse=True)  # what the column shows is in the queue's order
    assert numbers == [float(f"{100 * v:.1f}") for v in index.queue_score(AUDIT_QUEUE.sort_key, model.view)]
    assert all(0 <= n <= 100 for n in numbers)  # a probability, in percent

    model.set_queue(AUDIT_QUEUE)  # walking the queue shows the same rows in the same order
    assert np.array_equal(model.view, queue) and _cells(model, column, Qt.ItemDataRole.DisplayRole) == shown


def test_mismatch_tooltip_names_each_model_and_the_rule(qtbot, scored_store: Store) -> None:
    model = _loaded_model(qtbot, scored_store)
    index = model.index_
    column = COLUMN_KEYS.index(AUDIT_QUEUE.sort_key)
    model.sort(column, Qt.SortOrder.DescendingOrder)
    stored = {kind: {p["image_id"]: p["probs"] for p in scored_store.predictions(scored_store.active_model(kind)["id"])}
              for kind in ("resnet", "svm")}
    images = {r["image_id"]: r for r in scored_store.query("SELECT image_id, recorded_count, sku_quantity, status "
                                                           "FROM images")}
    pool = index.pool
    assert set(pool.weights) == {"resnet", "svm"} and pool.records > 0 and all(w >= 0 for w in pool.weights.values())
    judged_by_both = 0
    for row in (0, model.rowCount() - 1):  # the first row is a self-contradicting record, the last is not
        image_id = model.image_id(row)
        tip = model.data(model.index(row, column), Qt.ItemDataRole.ToolTipRole)
        shown = model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)
        record = images[image_id]
        recorded = min(record["recorded_count"], pool.classes - 1)
        logs = []
        for kind in ("resnet", "svm"):  # each model's stored p(recorded) and its weight, read from the store
            if index.models[kind].judged_in_sample(int(model.view[row])):  # it trained on this record: left out
                assert f"{index.models[kind].name} ({kind}): left out (trained on this record)" in tip
                continue
            probs = np.array(stored[kind][image_id][:pool.classes - 1] + [sum(stored[kind][image_id][pool.classes - 1:])])
            probs /= probs.sum()
            assert f"{index.models[kind].name} ({kind}): p(recorded) {probs[recorded]:.3g}, " \
                   f"weight {pool.weights[kind]:.2f}" in tip
            logs.append(pool.weights[kind] * np.log(np.clip(probs, 1e-6, 1)))
        judged_by_both += len(logs) == 2
        pooled = np.exp(sum(logs))
        p_variance = 1 - pooled[recorded] / pooled.sum()  # the log-linear pool, recomputed by hand
        assert shown.endswith(f"{100 * p_variance:.1f}%") and f"P(variance) {100 * p_variance:.1f}%" in tip
        assert f"pooled p(recorded) {1 - p_variance:.3g}" in tip and pool.note in tip
        rule = f"SKU quantities add up to {record['sku_quantity']}, record says {record['recorded_count']}"
        assert (rule in tip) == (record["status"] == "inconsistent") == (row == 0) == shown.startswith(RULE_MARK)
    assert judged_by_both  # the hand-recomputed pool covered both models on at least one row
    assert not math.isnan(float(index.variance_probability([int(model.view[0])])[0]))
