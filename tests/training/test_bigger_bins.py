"""Bigger bins (--max-count N --or-more): the ResNet and the SVM train on classes 0..N with N meaning "N or
more", write model files of that width, score probability vectors of that width, report the published 0-5
task beside their own, and rank a recorded count above N against the top class instead of flagging it blindly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from binaudit.core.store import Store
from binaudit.ml.scoring import clip_to_top, score_images, top_or_more
from tests.training.support import TINY, db_of, final

TOP = 6
RUNS = {"resnet": ["resnet", *TINY, "--epochs", "1"],
        "svm": ["svm", "--size", "12", "--pca", "10", "--folds", "2", "--threads", "1"]}


def _manifest(store: Store, model_id: int) -> dict:
    return json.loads(Path(store.get_model(model_id)["path"]).with_suffix(".json").read_text())


@pytest.mark.parametrize("kind", ["resnet", "svm"])
def test_or_more_classes_end_to_end(synth_store: Store, train, kind: str) -> None:
    argv = [RUNS[kind][0], "--db", db_of(synth_store), *RUNS[kind][1:], "--max-count", str(TOP), "--or-more"]
    code, events = train(argv)
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    assert events[0]["classes"] == list(range(TOP + 1))
    labels = json.loads((Path(done["run_dir"]) / "labels.json").read_text())
    kept = [c for split in labels.values() for c in split["labels"]]
    effective = {i: c for i, _, c in synth_store.training_labels()}
    above = sum(c >= TOP for c in effective.values())
    assert above > 0 and max(kept) == TOP and kept.count(TOP) == above  # the big bins are in, as "6 or more"
    manifest = _manifest(synth_store, done["model_id"])
    assert manifest["classes"] == list(range(TOP + 1)) and manifest["top_class_or_more"] is True
    assert top_or_more(manifest) == TOP
    figures = done["metrics"]["counts_0_5"]
    assert figures["n"] == sum(1 for c in labels["test"]["labels"] if c <= 5) and 0 <= figures["accuracy"] <= 1
    score_images(synth_store, done["model_id"], device="cpu", num_workers=0)
    preds = {p["image_id"]: p for p in synth_store.predictions(done["model_id"])}
    probs = np.array([p["probs"] for p in preds.values()])
    assert probs.shape[1] == TOP + 1 and np.allclose(probs.sum(1), 1.0)
    # a bin recorded above the top class is judged against the top class, not flagged for being out of range
    recorded = synth_store.label_columns(list(preds))
    big = [i for i, (rec, _, _) in recorded.items() if rec is not None and rec > TOP]
    assert big, "the synthetic set has bins recorded above the top class"
    for image_id in big:
        row = preds[image_id]
        assert row["p_differs"] == pytest.approx(1.0 - row["probs"][TOP], abs=1e-9)


def test_the_published_range_stays_the_default(synth_store: Store, train) -> None:
    code, events = train(["svm", "--db", db_of(synth_store), *RUNS["svm"][1:]])
    done = final(events)
    assert code == 0 and events[0]["classes"] == list(range(6))
    manifest = _manifest(synth_store, done["model_id"])
    assert manifest["classes"] == list(range(6)) and manifest["top_class_or_more"] is False
    assert "counts_0_5" not in done["metrics"] and top_or_more(manifest) is None


def test_clip_to_top() -> None:
    counts = np.array([3.0, 6.0, 17.0, np.nan])
    assert np.array_equal(clip_to_top(counts, 6), np.array([3.0, 6.0, 6.0, np.nan]), equal_nan=True)
    assert clip_to_top(counts, None) is counts
