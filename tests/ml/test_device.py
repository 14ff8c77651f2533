"""Device selection logic (CUDA, then MPS, then CPU; explicit requests checked) and preprocessing."""

import contextlib

import pytest
import torch
from PIL import Image

from binaudit.ml import device as dm
from binaudit.ml.preprocess import (
    ImageDecodeError,
    decode_image,
    eval_transform,
    pixel_transform,
    train_transform,
    tta_views,
)


@pytest.fixture
def fake(monkeypatch):
    def set_(cuda=False, mps=False, count=1):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count if cuda else 0)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return set_


@pytest.mark.parametrize("cuda,mps,want", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_order(fake, cuda, mps, want):
    fake(cuda=cuda, mps=mps)
    assert dm.choose_device("auto").type == want
    assert dm.choose_device(None).type == want


def test_explicit_devices(fake):
    fake(cuda=True, mps=True, count=2)
    assert dm.choose_device("cpu") == torch.device("cpu")
    assert dm.choose_device("cuda:1") == torch.device("cuda:1")
    assert dm.choose_device("MPS").type == "mps"
    with pytest.raises(dm.DeviceUnavailable, match="only 2"):
        dm.choose_device("cuda:2")


def test_unavailable_devices_raise_clearly(fake):
    fake(cuda=False, mps=False)
    with pytest.raises(dm.DeviceUnavailable, match="CUDA is not available"):
        dm.choose_device("cuda")
    with pytest.raises(dm.DeviceUnavailable, match="MPS is not available"):
        dm.choose_device("mps")
    with pytest.raises(dm.DeviceUnavailable, match="unknown device"):
        dm.choose_device("tpu-ish")


@pytest.mark.filterwarnings("ignore:CUDA is not available")
def test_cuda_settings_without_a_gpu():
    cuda = torch.device("cuda")
    assert isinstance(dm.autocast_context(torch.device("cpu")), contextlib.nullcontext)
    assert dm.memory_format(cuda) is torch.channels_last
    assert dm.memory_format(torch.device("cpu")) is torch.contiguous_format
    ctx = dm.autocast_context(cuda)
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16


def test_decode_and_transforms(tmp_path):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (90, 40), (250, 200, 0)).save(path)
    img = decode_image(path)
    assert img.mode == "RGB" and img.size == (90, 40)
    for size in (64, 128):
        x = eval_transform(size)(img)
        assert x.shape == (3, size, size) and x.dtype == torch.float32
        assert train_transform(size)(img).shape == (3, size, size)
    px = pixel_transform(32)(img)
    # a flat (250, 200, 0) photo: every pixel of each channel at value / 255 (JPEG moves it a few
    # levels), not 0-255 and not ImageNet-normalised
    for channel, value in enumerate((250, 200, 0)):
        assert px[channel].min().item() == pytest.approx(value / 255, abs=4 / 255)
        assert px[channel].max().item() == pytest.approx(value / 255, abs=4 / 255)
    # ImageNet normalisation of the red channel value 250
    assert eval_transform(64)(img)[0].mean().item() == pytest.approx((250 / 255 - 0.485) / 0.229, abs=0.02)
    views = tta_views(x.unsqueeze(0))
    assert len(views) == 2 and torch.equal(views[1], torch.flip(views[0], dims=[-1]))


def test_decode_refuses_non_jpeg_and_garbage(tmp_path):
    png = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    junk = tmp_path / "b.jpg"
    junk.write_bytes(b"\xff\xd8\xff garbage")
    for path in (png, junk, tmp_path / "missing.jpg"):
        with pytest.raises(ImageDecodeError):
            decode_image(path)


def test_decode_refuses_huge_images(tmp_path, monkeypatch):
    import binaudit.ml.preprocess as pp
    path = tmp_path / "big.jpg"
    Image.new("RGB", (200, 200)).save(path)
    monkeypatch.setattr(pp, "MAX_PIXELS", 100 * 100)
    with pytest.raises(ImageDecodeError, match="size limit"):
        pp.decode_image(path)


def test_decode_hostile_corpus_raises_only_decode_errors(hostile_corpus):
    """Every hostile file either decodes to RGB or raises ImageDecodeError; bombs never get decoded."""
    root, _, kinds = hostile_corpus
    outcome = {}
    for name, kind in kinds.items():
        path = root / "bin-images" / name
        if not path.name[:1].isdigit() or kind == "metadata without photo":
            continue
        try:
            outcome[name] = decode_image(path).mode
        except ImageDecodeError:
            outcome[name] = "refused"
    by_kind = lambda k: {outcome[n] for n, kk in kinds.items() if kk == k and n in outcome}  # noqa: E731
    assert by_kind("good") == {"RGB"}
    for kind in ("truncated", "zero-byte", "decompression bomb", "huge dimensions", "PNG named .jpg",
                 "EPS named .jpg", "dangling symlink"):
        assert by_kind(kind) == {"refused"}, kind
