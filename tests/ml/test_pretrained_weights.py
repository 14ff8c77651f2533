"""--weights PATH: a local torchvision state dict (made here from a fresh torchvision ResNet18) loads with
weights_only=True, strictly (every body tensor by name and shape, only the head replaced); a missing, foreign
or mismatched file fails with one clear line, in the library and as the training run's `failed` reason."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
import torch
from torchvision import models

from binaudit.core.store import Store
from binaudit.ml import resnet as rn
from tests.training.support import TINY, db_of, final, run_in_process


@pytest.fixture(scope="module")
def r18_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A torchvision ResNet18 state dict (ImageNet layout, 1000-class fc) saved with torch.save."""
    torch.manual_seed(3)
    state = models.resnet18(weights=None).state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet18-local.pth"
    torch.save(state, path)
    return path, state


@pytest.mark.parametrize("head,classes", [("softmax", 14), ("ordinal", 14), ("coral", 14)])
def test_local_state_dict_loads_the_body_and_replaces_the_head(r18_file, head: str, classes: int) -> None:
    path, state = r18_file
    net = rn.build_resnet("resnet18", num_classes=classes, weights=path, head=head)
    own = net.state_dict()
    body = [k for k in state if not k.startswith("fc.")]
    assert all(torch.equal(own[k], state[k]) for k in body)
    assert net.fc.out_features == classes and own["fc.bias"].shape[0] == (classes if head == "softmax" else 13)


def test_data_parallel_prefixes_are_accepted(r18_file, tmp_path: Path) -> None:
    _, state = r18_file
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "ddp.pth")
    net = rn.build_resnet("resnet18", weights=tmp_path / "ddp.pth")
    assert torch.equal(net.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def _one_line_error(weights: Path, arch: str = "resnet18") -> str:
    with pytest.raises(rn.PretrainedWeightsUnavailable) as info:
        rn.build_resnet(arch, weights=weights)
    text = str(info.value)
    assert "\n" not in text and len(text) < 600, text
    return text


def test_missing_file_gives_the_clear_message(tmp_path: Path) -> None:
    text = _one_line_error(tmp_path / "nowhere.pth")
    assert text.startswith("weights file not found:") and "nowhere.pth" in text


def test_foreign_and_mismatched_files_give_one_line(r18_file, tmp_path: Path) -> None:
    path, state = r18_file
    (tmp_path / "noise.pth").write_bytes(b"\x00not a torch file" * 10)
    assert "not a plain tensor state dict" in _one_line_error(tmp_path / "noise.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    assert "not a name -> tensor state dict" in _one_line_error(tmp_path / "list.pth")
    assert "does not fit this architecture" in _one_line_error(path, arch="resnet34")
    bad = dict(state)
    bad["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    torch.save(bad, tmp_path / "shape.pth")
    assert "layer1.0.conv1.weight" in _one_line_error(tmp_path / "shape.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    assert "safetensors" in _one_line_error(tmp_path / "bad.safetensors")


def test_offline_without_a_file_names_the_url_and_the_option(monkeypatch) -> None:
    def offline(**_kw):
        raise urllib.error.URLError("no network")
    monkeypatch.setitem(rn.ARCHITECTURES, "resnet18", (offline, rn.ARCHITECTURES["resnet18"][1]))
    with pytest.raises(rn.PretrainedWeightsUnavailable) as info:
        rn.build_resnet("resnet18", weights="imagenet")
    assert "download.pytorch.org" in str(info.value) and "local file" in str(info.value)


def test_training_run_with_a_local_file_and_with_a_missing_one(synth_store: Store, capsys, r18_file,
                                                               tmp_path: Path) -> None:
    path, state = r18_file
    code, events = run_in_process(capsys, ["resnet", "--db", db_of(synth_store), *TINY, "--epochs", "1",
                                           "--weights", str(path), "--stages", "32:1:head"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    saved = json.loads((Path(done["run_dir"]) / "config.json").read_text())["config"]
    assert saved["weights"] == str(path)
    from binaudit.ml.modelfiles import load_registered
    model = load_registered(synth_store, done["model_id"])
    # the head-only stage left the body as loaded (batch-norm statistics aside)
    assert torch.equal(model.model.layer3[0].conv1.weight.cpu(), state["layer3.0.conv1.weight"])
    code, events = run_in_process(capsys, ["resnet", "--db", db_of(synth_store), *TINY,
                                           "--weights", str(tmp_path / "gone.pth")])
    failed = final(events)
    assert code == 1 and failed["event"] == "failed"
    assert failed["reason"].startswith("weights file not found:") and "\n" not in failed["reason"]
