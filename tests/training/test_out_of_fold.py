"""No bin is judged by a model that learned its record: the photos a model trained on are stored with its
cross-fitted (out-of-fold) predictions, so a training bin whose record is wrong is still flagged; the
cross-fitted file travels with the model (export/import) and is checked like the weights."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from binaudit.core.importer import import_dataset
from binaudit.core.ranking import mismatch_scores
from binaudit.core.store import Store
from binaudit.core.synth import generate_dataset
from binaudit.ml import crossfit
from binaudit.ml.modelfiles import ModelFileError, load_registered, registered_path
from binaudit.ml.modelpack import export_model, import_model
from binaudit.ml.preprocess import decode_image
from binaudit.ml.scoring import score_images
from tests.training.support import TINY, final

SVM_ARGS = ["--size", "24", "--pca", "0", "--hog", "--hog-size", "48", "--C", "100", "--folds", "4", "--threads", "1"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic bins, a fifth of them recorded wrong (off by 1 or 2); truth.json says which."""
    out = tmp_path_factory.mktemp("oof") / "bins"
    generate_dataset(out, 400, seed=11, mismatch_rate=0.2, image_scale=0.3, max_count=2)
    return out


@pytest.fixture
def trained(tmp_path: Path, planted: Path, train):
    """A workspace with the planted bins, an SVM trained by `python -m training svm`, every photo scored."""
    with Store.open(tmp_path / "ws" / "workspace.db") as store:
        import_dataset(store, planted)
        code, events = train(["svm", "--db", str(store.path), *SVM_ARGS])
        done = final(events)
        assert code == 0 and done["event"] == "finished", done
        summary = score_images(store, done["model_id"], device="cpu", num_workers=0)
        assert summary.errors == 0 and summary.cross_fitted > 0
        yield store, done["model_id"], json.loads((planted / "truth.json").read_text())["images"]


def _train_ids(store: Store) -> list[str]:
    """The photos the model trained on: training split, counts within its classes 0-5."""
    return [i for i, _, c in store.training_labels(split="train") if c <= 5]


def test_every_training_photo_is_stored_out_of_fold(trained) -> None:
    store, model_id, _ = trained
    rows = {r["image_id"]: r for r in store.predictions(model_id)}
    train = _train_ids(store)
    assert train and all(rows[i]["source"] == "oof" for i in train)
    others = [i for i, s in store.image_splits().items() if s != "train" and i in rows]
    assert others and all(rows[i]["source"] == "model" for i in others)
    record = store.get_model(model_id)
    covered = crossfit.load_cross_fit(record["manifest"], registered_path(store, record).parent)
    assert set(covered) == set(train)
    for i in train:  # the stored probabilities are the cross-fitted ones, the count their argmax
        assert np.allclose(rows[i]["probs"], covered[i], atol=1e-5)
        assert rows[i]["predicted"] == int(np.argmax(covered[i]))


def test_a_wrong_training_record_is_flagged_by_its_out_of_fold_prediction(trained) -> None:
    store, model_id, truth = trained
    train = _train_ids(store)
    wrong = np.array([truth[i]["mismatch"] for i in train])
    assert wrong.sum() >= 20
    recorded = np.array([truth[i]["recorded_count"] for i in train], dtype=np.float64)
    paths = store.image_paths(train)
    model = load_registered(store, model_id)
    images = [decode_image(paths[i]) for i in train]
    in_sample_count, in_sample_probs = model.predict(images), model.predict_proba(images)
    in_sample = mismatch_scores(in_sample_probs, recorded)["score"]
    stored = {r["image_id"]: r for r in store.predictions(model_id, train)}
    oof = np.array([stored[i]["mismatch"] for i in train])
    oof_count = np.array([stored[i]["predicted"] for i in train])
    # the model itself learned the wrong records: in sample it agrees with (nearly) every one of them
    assert (in_sample_count == recorded)[wrong].mean() >= 0.9
    # its stored, out-of-fold predictions mostly disagree with them, and score them as mismatches
    assert (oof_count == recorded)[wrong].mean() <= 0.4
    assert oof[wrong].mean() > in_sample[wrong].mean() + 0.15
    assert oof[wrong].mean() > oof[~wrong].mean() + 0.3
    # so the wrong records lead the training split's queue
    top = np.argsort(-oof, kind="stable")[: len(train) // 5]
    assert wrong[top].mean() >= 2 * wrong.mean()


def test_new_photos_are_scored_by_the_model(trained, tmp_path: Path) -> None:
    """A photo added after training was never trained on: the model itself scores it."""
    store, model_id, _ = trained
    store.db.conn.execute("DELETE FROM predictions WHERE model_id = ?", [model_id])
    test_ids = store.image_ids(split="test")
    summary = score_images(store, model_id, device="cpu", num_workers=0, image_ids=test_ids[:5])
    assert summary.cross_fitted == 0 and summary.scored == 5
    assert {r["source"] for r in store.predictions(model_id)} == {"model"}


def test_export_import_carries_the_cross_fitted_file(trained, tmp_path: Path) -> None:
    store, model_id, _ = trained
    pack = export_model(store, model_id, tmp_path / "svm.zip")
    with zipfile.ZipFile(pack) as z:
        assert any(n.endswith(crossfit.SUFFIX) for n in z.namelist())
    with Store.open(tmp_path / "other" / "workspace.db") as other:
        result = import_model(other, tmp_path / "other" / "models", pack)
        record = other.get_model(result.model_id)
        covered = crossfit.load_cross_fit(record["manifest"], registered_path(other, record).parent)
        assert set(covered) == set(_train_ids(store))


def test_a_changed_cross_fitted_file_is_refused(trained, tmp_path: Path) -> None:
    store, model_id, _ = trained
    record = store.get_model(model_id)
    path = registered_path(store, record).parent / record["manifest"]["cross_fit"]["file"]
    data = dict(np.load(path, allow_pickle=False))
    data["probs"] = data["probs"][:, ::-1].copy()
    np.savez(path, **data)
    with pytest.raises(ModelFileError, match="changed after it was saved"):
        score_images(store, model_id, device="cpu", num_workers=0, force=True)
    with pytest.raises(ModelFileError, match="changed after it was saved"):
        export_model(store, model_id, tmp_path / "svm.zip")


def test_resnet_cross_fit_stores_out_of_fold_predictions(synth_store: Store, train) -> None:
    """--cross-fit 2: two fold runs inside the run (their events say which fold), the model file keeps their
    held-out predictions, and scoring stores them for every photo the model trained on."""
    code, events = train(["resnet", "--db", str(synth_store.path), *TINY, "--epochs", "1",
                                           "--cross-fit", "2"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    fold_epochs = sorted(e["fold"] for e in events if e["event"] == "epoch" and "fold" in e)
    assert fold_epochs == [1, 2] and all(e["folds"] == 2 for e in events if "fold" in e)
    record = synth_store.get_model(done["model_id"])
    assert record["manifest"]["cross_fit"]["folds"] == 2
    score_images(synth_store, done["model_id"], device="cpu", num_workers=0)
    rows = {r["image_id"]: r for r in synth_store.predictions(done["model_id"])}
    train = _train_ids(synth_store)
    assert all(rows[i]["source"] == "oof" for i in train)
    assert {rows[i]["source"] for i in rows if i not in set(train)} == {"model"}
    for i in train:
        assert abs(sum(rows[i]["probs"]) - 1) < 1e-4


def test_cross_fit_needs_two_folds() -> None:
    from training.recipes import get_recipe
    with pytest.raises(ValueError, match="cross_fit"):
        dataclasses.replace(get_recipe("tiny"), cross_fit=1).validate()
