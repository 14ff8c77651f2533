"""ensure_demo_models: an active ResNet and SVM with predictions for every image; a second call reuses them."""

from __future__ import annotations

from binaudit.core.abid import IMAGE_USABLE_STATUSES
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace


def test_demo_models_are_trained_activated_and_score_everything(synth_store: Store, monkeypatch) -> None:
    import training.demo as demo
    monkeypatch.setitem(demo.DEMO_RESNET, "epochs", 1)
    monkeypatch.setitem(demo.DEMO_RESNET, "input_size", 32)
    monkeypatch.setitem(demo.DEMO_SVM, "size", 12)
    monkeypatch.setitem(demo.DEMO_SVM, "pca", 10)
    monkeypatch.setattr(demo, "demo_threads", lambda: 1)
    workspace = Workspace.at(synth_store.path)
    ids = demo.ensure_demo_models(synth_store, workspace)
    usable = set(synth_store.image_ids(status=IMAGE_USABLE_STATUSES))
    for kind in ("resnet", "svm"):
        active = synth_store.active_model(kind)
        assert active and active["id"] == ids[kind]
        assert synth_store.scored_image_ids(ids[kind]) == usable
        train = {image_id for image_id, _, count in synth_store.training_labels("train") if count <= 5}
        sources = {p["image_id"]: p["source"] for p in synth_store.predictions(ids[kind])}
        assert train and all(sources[i] == "oof" for i in train), kind  # no training bin judged in-sample
    models_before = len(synth_store.list_models())
    assert demo.ensure_demo_models(synth_store, workspace) == ids
    assert len(synth_store.list_models()) == models_before


def test_cli_train_score_and_queue(synth_store: Store, monkeypatch, capsys) -> None:
    import training.demo as demo
    from binaudit.cli import main
    monkeypatch.setitem(demo.DEMO_RESNET, "epochs", 1)
    monkeypatch.setitem(demo.DEMO_RESNET, "input_size", 24)
    monkeypatch.setattr(demo, "demo_threads", lambda: 1)
    db = str(synth_store.path)
    assert main(["train", "recipes"]) == 0
    assert "resnet34-sgdr-progressive" in capsys.readouterr().out
    demo.ensure_demo_models(synth_store, Workspace.at(synth_store.path))
    capsys.readouterr()
    assert main(["score", "--db", db, "--active", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert out.count("0 scored") == 2 and "already scored" in out  # resumable: nothing left to do
    assert main(["queue", "--db", db, "--top", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("mismatch queue") and len(lines) == 2 + 5
    # the queue's order: records the metadata rule flags (rule column "sum=N") first, then the models' mean score
    keys = [(line.split()[-6] != "-", float(line.split()[-1])) for line in lines[2:]]
    assert keys == sorted(keys, reverse=True)
    assert main(["queue", "--db", db, "--top", "3", "--by", "label-issue"]) == 0
    assert capsys.readouterr().out.startswith("label-issue queue")


def test_demo_progress_on_a_non_terminal_is_epoch_lines_only(capsys) -> None:
    from training.demo import TqdmStream

    stream = TqdmStream("demo ResNet18")
    stream.emit("started", epochs=2)
    for batch in range(1, 4):
        stream.emit("batch", epoch=1, batch=batch, batches=3, loss=1.5)
    stream.emit("epoch", epoch=1, train_acc=0.3, val_acc=0.25, val_rmse=1.4, seconds=2.0)
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err
    assert err.splitlines() == ["binaudit demo: demo ResNet18 epoch 1/2: train acc 0.30, val acc 0.25, val RMSE 1.40 (2 s)"]
