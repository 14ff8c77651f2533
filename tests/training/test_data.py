"""Training data: effective labels and splits, count range, the resized-image cache, sampler resume, recipes, metrics."""

from __future__ import annotations

import argparse
import os

import numpy as np
import pytest
import torch

from binaudit.core.metrics import classification_metrics
from binaudit.core.splits import split_for_id
from binaudit.ml.preprocess import decode_image, eval_transform
from training.cache import ImageCache
from training.data import ResumableSampler, load_label_sets, normalize_batch, prepare_datasets
from training.metrics import per_class_table
from training.recipes import Recipe, add_recipe_arguments, apply_overrides, get_recipe, parse_stages


def test_label_sets_follow_effective_labels_and_count_range(synth_store) -> None:
    sets = load_label_sets(synth_store)
    everything = synth_store.training_labels()
    assert sum(len(s) for s in sets.values()) == sum(1 for _, _, c in everything if c <= 5)
    assert all(s.labels.max(initial=0) <= 5 for s in sets.values())
    hard = load_label_sets(synth_store, or_more=True, max_count=3)
    assert sum(len(s) for s in hard.values()) == len(everything)
    assert max(s.labels.max() for s in hard.values()) == 3  # "3 or more"
    for name, s in sets.items():
        assert all(synth_store.get_image(i)["split"] == name for i in s.ids[:10])


def test_relabel_changes_the_next_runs_labels(synth_store) -> None:
    before = load_label_sets(synth_store)
    image_id = before["train"].ids[0]
    old = int(before["train"].labels[0])
    synth_store.record_label(image_id, user="curator", status="corrected", count=(old + 1) % 6)
    gone = before["train"].ids[1]
    synth_store.record_label(gone, user="curator", status="uncountable", reason="occluded")
    after = load_label_sets(synth_store)
    assert int(after["train"].labels[after["train"].ids.index(image_id)]) == (old + 1) % 6
    assert gone not in after["train"].ids


def test_split_ratios_recomputed_from_the_id(synth_store) -> None:
    sets = load_label_sets(synth_store, split="80/10/10")
    for name, s in sets.items():
        assert all(split_for_id(i, (80, 10, 10)) == name for i in s.ids)


def test_cache_matches_eval_transform_and_is_reused(synth_store, tmp_path) -> None:
    sets = load_label_sets(synth_store)
    data = prepare_datasets(sets, tmp_path / "cache", 40, hflip=False, seed=0)
    image, label = data["val"][0]
    expected = eval_transform(40)(decode_image(sets["val"].paths[0]))
    assert torch.allclose(normalize_batch(image[None])[0], expected, atol=1e-5)
    assert label == int(sets["val"].labels[0])
    cache = ImageCache(tmp_path / "cache", 40)
    rows, bad = cache.ensure([(sets["val"].ids[0], sets["val"].paths[0])])
    assert not bad and cache.rows == sum(len(s) for s in sets.values())  # nothing re-decoded
    os.utime(sets["val"].paths[0], ns=(1, 1))  # a changed file is decoded again
    rows2, _ = cache.ensure([(sets["val"].ids[0], sets["val"].paths[0])])
    assert rows2[sets["val"].ids[0]] != rows[sets["val"].ids[0]]


def test_hflip_is_deterministic_per_epoch(synth_store, tmp_path) -> None:
    data = prepare_datasets(load_label_sets(synth_store), tmp_path / "c", 16, hflip=True, seed=3)["train"]
    first = [data[i][0] for i in range(8)]
    again = [data[i][0] for i in range(8)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    data.set_epoch(1)
    assert any(not torch.equal(a, data[i][0]) for i, a in enumerate(first))


def test_sampler_resumes_part_way(synth_store, tmp_path) -> None:
    data = prepare_datasets(load_label_sets(synth_store), tmp_path / "c", 16, hflip=False, seed=0)["train"]
    full = ResumableSampler(data, seed=5)
    full.set_epoch(2)
    part = ResumableSampler(data, seed=5)
    part.set_epoch(2)
    part.set_start(10)
    assert list(part) == list(full)[10:] and len(part) == len(full) - 10


def test_recipes_and_overrides() -> None:
    sgdr = get_recipe("resnet34-sgdr-progressive")
    sizes = [s.input_size for s in sgdr.stage_list()]
    assert sizes[0] == 64 and 128 in sizes and sizes[-1] == 224 and sgdr.tta
    assert [s.mode for s in sgdr.stage_list()[:2]] == ["head", "diff"]
    assert get_recipe("resnet34-scratch-step").lr == 0.1
    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    args = parser.parse_args(["--lr", "0.5", "--no-hflip", "--stages", "32:1:head,48:2"])
    recipe = apply_overrides(get_recipe("tiny"), args)
    assert recipe.lr == 0.5 and recipe.hflip is False and recipe.total_epochs() == 3
    with pytest.raises(ValueError):
        parse_stages("64:3:frozen")
    assert Recipe.from_dict(recipe.to_dict()) == recipe


def test_metrics_from_confusion() -> None:
    m = classification_metrics([0, 1, 2, 2, 5], [0, 1, 2, 4, 2], 6)
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["rmse"] == pytest.approx(np.sqrt((4 + 9) / 5))
    assert m["per_class"]["2"] == {"accuracy": 0.5, "rmse": pytest.approx(np.sqrt(2)), "support": 2}
    table = per_class_table({"a": m}, 6)
    assert table.splitlines()[-1].split() == ["overall", "0.60"]
