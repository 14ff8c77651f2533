"""Input options (--letterbox, --color-jitter): one preprocessing path for the training cache and for scoring,
the option stored in the model manifest, jitter that is random per epoch yet repeatable after a resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from binaudit.core.store import Store
from binaudit.ml.modelfiles import load_registered
from binaudit.ml.preprocess import (
    IMAGENET_MEAN,
    LETTERBOX_FILL,
    color_jitter,
    decode_image,
    eval_transform,
    preprocessing_spec,
    resize_uint8,
)
from tests.training.support import TINY, db_of, final, run_in_process
from training.data import load_label_sets, normalize_batch, prepare_datasets


def _wide() -> Image.Image:
    """100 x 50: a red left half, a blue right half."""
    img = Image.new("RGB", (100, 50), (220, 20, 20))
    img.paste((20, 20, 220), (50, 0, 100, 50))
    return img


def test_letterbox_keeps_the_aspect_ratio_and_pads_with_the_mean() -> None:
    x = resize_uint8(_wide(), 32, letterbox=True)
    assert x.shape == (3, 32, 32)
    assert (x[:, :8, :] == np.array(LETTERBOX_FILL)[:, None, None]).all()  # top 8 rows: pad
    assert (x[:, 24:, :] == np.array(LETTERBOX_FILL)[:, None, None]).all()  # bottom 8 rows: pad
    band = x[:, 8:24, :]
    assert band[0, :, :14].min() > 200 and band[2, :, 18:].min() > 200  # both halves kept, 2:1
    squashed = resize_uint8(_wide(), 32)
    assert squashed[0, :, :14].min() > 200  # squash fills the whole square
    normalised = eval_transform(32, letterbox=True)(_wide())
    assert normalised[:, 0, :].abs().max().item() < 0.01  # the pad is the ImageNet mean: ~0 after normalising
    assert preprocessing_spec(32, letterbox=True)["resize"] == "letterbox"
    assert tuple(LETTERBOX_FILL) == tuple(round(255 * m) for m in IMAGENET_MEAN)


def test_letterbox_cache_matches_scoring_preprocessing(synth_store: Store, tmp_path: Path) -> None:
    sets = load_label_sets(synth_store)
    data = prepare_datasets(sets, tmp_path / "cache", 40, hflip=False, seed=0, letterbox=True)
    image, _ = data["val"][0]
    expected = eval_transform(40, letterbox=True)(decode_image(sets["val"].paths[0]))
    assert torch.allclose(normalize_batch(image[None])[0], expected, atol=1e-5)
    assert (tmp_path / "cache" / "40px-letterbox" / "images.u8").is_file()
    assert not (tmp_path / "cache" / "40px").exists()  # never mixed with the squashed cache


def test_color_jitter_is_seeded_and_bounded() -> None:
    img = torch.from_numpy(resize_uint8(_wide(), 32))
    a = color_jitter(img, 0.4, np.random.default_rng(1))
    b = color_jitter(img, 0.4, np.random.default_rng(1))
    c = color_jitter(img, 0.4, np.random.default_rng(2))
    assert a.dtype == torch.uint8 and a.shape == img.shape
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, img)
    assert torch.equal(color_jitter(img, 0.0, np.random.default_rng(1)), img)


def test_jitter_only_on_train_and_repeatable_per_epoch(synth_store: Store, tmp_path: Path) -> None:
    sets = load_label_sets(synth_store)
    plain = prepare_datasets(sets, tmp_path / "c", 16, hflip=False, seed=3)
    jittered = prepare_datasets(sets, tmp_path / "c", 16, hflip=False, seed=3, jitter=0.4)
    train = jittered["train"]
    first = [train[i][0] for i in range(6)]
    assert all(torch.equal(a, train[i][0]) for i, a in enumerate(first))  # same epoch, same images
    assert any(not torch.equal(a, plain["train"][i][0]) for i, a in enumerate(first))
    assert all(torch.equal(jittered["val"][i][0], plain["val"][i][0]) for i in range(4))  # val untouched
    train.set_epoch(1)
    assert any(not torch.equal(a, train[i][0]) for i, a in enumerate(first))


def test_letterbox_and_jitter_run_end_to_end(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["resnet", "--db", db_of(synth_store), *TINY, "--epochs", "1",
                                           "--letterbox", "--color-jitter", "0.3"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    record = synth_store.get_model(done["model_id"])
    manifest = json.loads(Path(record["path"]).with_suffix(".json").read_text())
    assert manifest["preprocessing"]["resize"] == "letterbox"
    assert manifest["preprocessing"]["train_color_jitter"] == pytest.approx(0.3)
    model = load_registered(synth_store, done["model_id"])
    assert model.letterbox
    assert torch.allclose(model.transform(_wide()), eval_transform(32, letterbox=True)(_wide()))


def test_bad_jitter_is_a_usage_error(synth_store: Store, capsys) -> None:
    code, events = run_in_process(capsys, ["resnet", "--db", db_of(synth_store), *TINY, "--color-jitter", "2"])
    assert code == 2 and "color_jitter" in final(events)["reason"]
