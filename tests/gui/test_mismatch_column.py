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
    numbers = [float(text.removeprefix(RULE_MARK)) for text in shown]
    inconsistent = {r["image_id"] for r in scored_store.query("SELECT image_id FROM images WHERE status = 'inconsistent'")}
    assert inconsistent and {index.image_id(int(p)) for p, f in zip(model.view, flagged) if f} == inconsistent
    keys = list(zip(flagged, numbers))
    assert keys == sorted(keys, reverse=True)  # what the column shows is in the queue's order
    assert numbers == [float(f"{v:.2f}") for v in index.queue_score(AUDIT_QUEUE.sort_key, model.view)]

    model.set_queue(AUDIT_QUEUE)  # walking the queue shows the same rows in the same order
    assert np.array_equal(model.view, queue) and _cells(model, column, Qt.ItemDataRole.DisplayRole) == shown


def test_mismatch_tooltip_names_each_model_and_the_rule(qtbot, scored_store: Store) -> None:
    model = _loaded_model(qtbot, scored_store)
    index = model.index_
    column = COLUMN_KEYS.index(AUDIT_QUEUE.sort_key)
    model.sort(column, Qt.SortOrder.DescendingOrder)
    stored = {kind: {p["image_id"]: p["mismatch"] for p in scored_store.predictions(scored_store.active_model(kind)["id"])}
              for kind in ("resnet", "svm")}
    images = {r["image_id"]: r for r in scored_store.query("SELECT image_id, recorded_count, sku_quantity, status "
                                                           "FROM images")}
    for row in (0, model.rowCount() - 1):  # the first row is a self-contradicting record, the last is not
        image_id = model.image_id(row)
        tip = model.data(model.index(row, column), Qt.ItemDataRole.ToolTipRole)
        shown = model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)
        scores = [stored[kind][image_id] for kind in ("resnet", "svm")]
        for kind, score in zip(("resnet", "svm"), scores):
            assert f"{index.models[kind].name} ({kind}): {score:.2f}" in tip
        mean = sum(scores) / len(scores)
        assert shown.endswith(f"{mean:.2f}") and f"mismatch score {mean:.2f}" in tip
        record = images[image_id]
        rule = f"SKU quantities add up to {record['sku_quantity']}, record says {record['recorded_count']}"
        assert (rule in tip) == (record["status"] == "inconsistent") == (row == 0) == shown.startswith(RULE_MARK)
    assert not math.isnan(float(index.model_mismatch([int(model.view[0])])[0]))
