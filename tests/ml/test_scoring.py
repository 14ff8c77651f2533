"""Batch scoring: stored predictions, resumability, force, unreadable images, cancel, SVM through the same path."""

import json

import numpy as np
import pytest
import torch

from binaudit.core.ranking import class_thresholds, label_issue_scores
from binaudit.ml import modelfiles as mf
from binaudit.ml.resnet import build_resnet
from binaudit.ml.scoring import score_images
from binaudit.ml.svm import FeatureSpec, TorchSVM, fit_svm

torch.set_num_threads(2)
N = 16


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from binaudit.core.synth import generate_dataset
    out = tmp_path_factory.mktemp("tiny") / "bins"
    generate_dataset(out, N, seed=3, mismatch_rate=0.2, image_scale=0.25)
    return out


@pytest.fixture
def ws(tmp_path, tiny_dataset):
    """A workspace over a private copy of the dataset (tests may damage files) with one ResNet registered."""
    import shutil

    from binaudit.core.importer import import_dataset
    from binaudit.core.store import Store
    data = shutil.copytree(tiny_dataset, tmp_path / "bins")
    with Store.open(tmp_path / "ws" / "workspace.db") as s:
        import_dataset(s, data)
        torch.manual_seed(0)
        manifest = mf.save_resnet(build_resnet("resnet18"), tmp_path / "ws" / "models" / "r18",
                                  architecture="resnet18", input_size=64)
        yield s, mf.register_model_file(s, manifest)


def test_scores_are_stored_and_consistent(ws):
    store, mid = ws
    summary = score_images(store, mid, device="cpu", batch_size=8, num_workers=0)
    assert summary.scored == summary.total == N and summary.errors == 0 and not summary.cancelled
    rows = store.predictions(mid)
    assert len(rows) == N
    probs = np.array([r["probs"] for r in rows])
    given = np.array([store.get_image(r["image_id"])["recorded_count"] for r in rows], dtype=np.float64)
    issues = label_issue_scores(probs, given, thresholds=class_thresholds(probs, given))["score"]
    for r, issue in zip(rows, issues):
        p = np.array(r["probs"])
        assert p.shape == (6,) and abs(p.sum() - 1) < 1e-4
        assert r["predicted"] == int(p.argmax())
        assert r["expected"] == pytest.approx(float((np.arange(6) * p).sum()), abs=1e-4)
        recorded = min(store.get_image(r["image_id"])["recorded_count"], 5)  # above the classes: "5 or more"
        want = float((p * np.abs(np.arange(6) - recorded)).sum())
        assert r["mismatch"] == pytest.approx(want, abs=1e-4)
        # label issues: thresholds over all the model's predictions, judged against the recorded counts
        assert r["label_issue"] == pytest.approx(issue, abs=1e-6)


def test_resumable_and_force(ws):
    store, mid = ws
    seen = []
    first = score_images(store, mid, device="cpu", batch_size=8, num_workers=2,
                         progress=lambda done, total: seen.append((done, total)))
    assert first.scored == N and seen[-1] == (N, N)
    again = score_images(store, mid, device="cpu", batch_size=8, num_workers=2)
    assert again.scored == 0 and again.already_scored == N
    forced = score_images(store, mid, device="cpu", batch_size=8, num_workers=0, force=True)
    assert forced.scored == N and forced.already_scored == 0
    assert len(store.predictions(mid)) == N


def test_unreadable_images_are_counted_not_fatal(ws):
    store, mid = ws
    ids = store.image_ids(status=None)
    broken = store.get_image(ids[3])["path"]
    with open(broken, "r+b") as fh:  # damage the file after the import accepted it
        fh.truncate(40)
    summary = score_images(store, mid, device="cpu", batch_size=8, num_workers=0)
    assert summary.errors == 1 and ids[3] in summary.error_messages and summary.scored == N - 1
    assert ids[3] not in store.scored_image_ids(mid)
    again = score_images(store, mid, device="cpu", batch_size=8, num_workers=0)
    assert again.scored == 0 and again.errors == 1  # retried, still unreadable


def test_cancel_then_resume(ws):
    store, mid = ws
    stopped = score_images(store, mid, device="cpu", batch_size=8, num_workers=0, cancel=lambda: True)
    assert stopped.cancelled and stopped.scored == 8
    rest = score_images(store, mid, device="cpu", batch_size=8, num_workers=0, image_ids=None)
    assert rest.already_scored == 8 and rest.scored + rest.errors == N - 8


def test_svm_scoring_matches_the_svm(ws, tmp_path):
    store, _ = ws
    from binaudit.ml.preprocess import decode_image
    spec = FeatureSpec(size=8)
    labelled = [row for row in store.training_labels() if row[2] < 6]  # the 6-class task: counts 0..5
    feats = spec.extract([decode_image(p) for _, p, _ in labelled])
    tsvm = TorchSVM.from_pipeline(fit_svm(feats, [c for _, _, c in labelled], n_components=6, C=10.0))
    sid = mf.register_model_file(store, mf.save_svm(tsvm, spec, tmp_path / "svm", classes=range(6)))
    summary = score_images(store, sid, device="auto", batch_size=8, num_workers=2)
    assert summary.scored + summary.errors == N
    stored = {r["image_id"]: r for r in store.predictions(sid)}
    want = dict(zip([i for i, _, _ in labelled], tsvm.predict(feats)))
    assert all(stored[i]["predicted"] == int(want[i]) for i in want if i in stored)
    assert all(abs(sum(r["probs"]) - 1) < 1e-4 for r in stored.values())
    assert json.loads(json.dumps(summary.describe()))


def test_loader_pieces_pickle_for_spawned_workers(tmp_path):
    """macOS/Windows (and Python 3.14's forkserver) pickle the dataset into each worker."""
    import pickle

    from binaudit.ml.scoring import ImageDataset, collate_scored
    resnet = mf.load_model(mf.save_resnet(build_resnet("resnet18"), tmp_path / "r", architecture="resnet18",
                                          input_size=64))
    rng = np.random.default_rng(0)
    tsvm = TorchSVM.from_pipeline(fit_svm(rng.random((30, 192)), np.arange(30) % 3, n_components=4))
    svm = mf.load_model(mf.save_svm(tsvm, FeatureSpec(size=8), tmp_path / "s"))
    for model in (resnet, svm):
        ds = pickle.loads(pickle.dumps(ImageDataset(["/nope.jpg"], model.transform)))
        positions, batch, failures = collate_scored([ds[0]])
        assert positions == [] and batch is None and failures[0][0] == 0
    assert pickle.loads(pickle.dumps(collate_scored)) is collate_scored
