"""The audit queue finds planted variances: a real model trained on synthetic bins with wrong recorded
counts, its predictions stored, and the app's queue order checked against the truth file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from binaudit.core.browse import BrowseIndex
from binaudit.core.importer import import_dataset
from binaudit.core.store import Store
from binaudit.core.synth import generate_dataset
from binaudit.core.workspace import Workspace


def recall_at(order_ids: list[str], planted: set[str], fraction: float, total: int) -> float:
    top = order_ids[: int(round(fraction * total))]
    return len(planted.intersection(top)) / len(planted)


@pytest.fixture(scope="module")
def scored_workspace(tmp_path_factory: pytest.TempPathFactory):
    import training.demo as demo

    base = tmp_path_factory.mktemp("recall")
    generate_dataset(base / "bins", 300, seed=11, mismatch_rate=0.1, image_scale=0.3)
    workspace = Workspace(base / "ws").ensure()
    store = Store.open(workspace.db_path)
    import_dataset(store, base / "bins")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "demo_threads", lambda: 1)
        model_id = demo.train_demo_svm(store, workspace)
        store.activate_model(model_id)
        demo._score(store, model_id, "svm", 1)
    truth = json.loads((base / "bins" / "truth.json").read_text())["images"]
    yield store, {i for i, t in truth.items() if t["mismatch"]}, model_id
    store.close()


def test_audit_queue_puts_planted_variances_near_the_top(scored_workspace) -> None:
    store, planted, _ = scored_workspace
    index = BrowseIndex.load(store)
    queue = [index.image_id(p) for p in index.queue_order()]
    total = len(queue)
    assert total == store.count_images()
    recall10 = recall_at(queue, planted, 0.10, total)
    recall30 = recall_at(queue, planted, 0.30, total)
    print(f"audit queue recall: top 10% {recall10:.2f}, top 30% {recall30:.2f} ({len(planted)} planted of {total})")
    assert recall10 >= 0.5, "most planted variances belong in the first tenth of the queue"
    assert recall30 >= 0.6


def test_model_score_alone_beats_chance(scored_workspace) -> None:
    """Without the record's own inconsistency, the model's disagreement still ranks variances up."""
    store, planted, model_id = scored_workspace
    rows = store.predictions(model_id)
    consistent = {r["image_id"] for r in store.query("SELECT image_id FROM images WHERE status = 'ok'")}
    rows = [r for r in rows if r["image_id"] in consistent]
    ranked = [r["image_id"] for r in sorted(rows, key=lambda r: -r["mismatch"])]
    hidden = planted & consistent
    assert hidden, "the generator plants variances with consistent SKU lists too"
    recall30 = recall_at(ranked, hidden, 0.30, len(ranked))
    print(f"model-only recall at top 30% of consistent records: {recall30:.2f} ({len(hidden)} planted)")
    assert recall30 > 0.3 + 0.05  # chance is 0.30
