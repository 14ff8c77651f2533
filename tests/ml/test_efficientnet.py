"""EfficientNet-Lite0, the optional extra: ImageNet weights from the installed package (no download) load into
the body with the count head replaced; the model file round-trips; without the packages the message says what
to install."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
import torch

from binaudit.ml import efficientnet as eff
from binaudit.ml import modelfiles as mf
from binaudit.ml import resnet as rn

pytest.importorskip("efficientnet_lite_pytorch", reason="the efficientnet extra (in the test extra) is not installed")


def test_packaged_imagenet_weights_fill_the_body_and_the_head_is_ours() -> None:
    net = rn.build_resnet(eff.ARCH, num_classes=9, weights="imagenet", head="ordinal")
    packaged = rn.read_state_dict(eff.packaged_weights())
    own = net.state_dict()
    body = [k for k in packaged if not k.startswith("_fc.")]
    assert all(torch.equal(own[f"body.{k}"], packaged[k]) for k in body)
    assert net.fc.out_features == 9 and net(torch.rand(2, 3, 64, 64)).shape == (2, 8)


def test_layer_groups_cover_every_parameter_once() -> None:
    net = rn.build_resnet(eff.ARCH, num_classes=6)
    groups = net.layer_groups()
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(net.parameters()))
    assert groups[2] == list(net.fc.parameters())


def test_model_file_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = rn.build_resnet(eff.ARCH, num_classes=6).eval()
    manifest = mf.save_resnet(net, tmp_path / "lite0", architecture=eff.ARCH, input_size=64)
    loaded = mf.load_model(manifest)
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = torch.softmax(net(x), dim=1).numpy()
    assert abs(loaded.predict_proba(x) - expected).max() < 1e-5


def test_a_resnet_state_dict_is_refused_in_one_line(tmp_path: Path) -> None:
    torch.save(rn.build_resnet("resnet18").state_dict(), tmp_path / "r18.pth")
    with pytest.raises(rn.PretrainedWeightsUnavailable) as info:
        rn.build_resnet(eff.ARCH, weights=tmp_path / "r18.pth")
    assert "does not fit efficientnet_lite0" in str(info.value) and "\n" not in str(info.value)


def test_missing_packages_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_efficientnet(name: str, *args, **kwargs):
        if name.startswith("efficientnet_lite"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_efficientnet)
    with pytest.raises(eff.EfficientNetUnavailable, match="pip install efficientnet-lite-pytorch"):
        rn.build_resnet(eff.ARCH, weights=None)
    assert not eff.available()
