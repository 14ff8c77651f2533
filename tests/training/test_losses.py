"""The order-aware losses and heads (--loss ce|neighbour|ordinal): their maths, that each one learns counts on
tiny data, and that a model trained with each one is saved, loaded and scored as a probability vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from binaudit.core.store import Store
from binaudit.ml.heads import (
    CoralHead,
    OrdinalHead,
    build_head,
    cumulative_probabilities,
    predicted_class,
    probabilities,
)
from binaudit.ml.modelfiles import load_registered
from binaudit.ml.resnet import build_resnet
from binaudit.ml.scoring import score_images
from tests.training.support import TINY, db_of, final
from training.losses import (
    NeighbourLoss,
    ThresholdLoss,
    build_criterion,
    head_for,
    neighbour_targets,
)
from training.recipes import NEW_RECIPE_LOSS, RECIPES

torch.set_num_threads(1)


def test_neighbour_targets_mark_k_and_its_neighbours_in_range() -> None:
    hot = neighbour_targets(torch.tensor([0, 2, 5]), 6)
    assert hot.tolist() == [[1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]


def test_neighbour_loss_is_the_published_mix() -> None:
    torch.manual_seed(0)
    logits, targets = torch.randn(7, 6), torch.tensor([0, 1, 2, 3, 4, 5, 3])
    ce = nn.functional.cross_entropy(logits, targets)
    hot = neighbour_targets(targets, 6)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, hot, reduction="none").mean(dim=1).mean()
    assert NeighbourLoss(6)(logits, targets).item() == pytest.approx((0.3 * ce + 0.7 * bce).item(), rel=1e-5)


def test_threshold_loss_and_cumulative_probabilities() -> None:
    logits = torch.tensor([[5.0, 5.0, -5.0], [-5.0, -5.0, -5.0], [0.0, 0.0, 0.0]])  # 4 classes
    loss = ThresholdLoss(4)(logits, torch.tensor([2, 0, 1]))
    targets = torch.tensor([[1.0, 1, 0], [0, 0, 0], [1, 0, 0]])
    manual = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(1).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-6)
    p = cumulative_probabilities(logits)
    assert p.shape == (3, 4) and torch.allclose(p.sum(1), torch.ones(3)) and (p >= 0).all()
    assert predicted_class(logits, "ordinal").tolist()[:2] == [2, 0]
    # cumulative probabilities that rise (not rank-consistent) still give a valid distribution
    p = cumulative_probabilities(torch.tensor([[-3.0, 3.0, 0.0]]))
    assert (p >= 0).all() and p.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("head,kind,rows", [("ordinal", OrdinalHead, 8), ("coral", CoralHead, 1)])
def test_ordinal_heads_in_a_resnet_keep_the_fc_names(head: str, kind: type, rows: int) -> None:
    net = build_resnet("resnet18", num_classes=9, head=head)
    assert isinstance(net.fc, kind) and net.fc.out_features == 9
    assert {k: tuple(v.shape) for k, v in net.state_dict().items() if k.startswith("fc.")} == {
        "fc.weight": (rows, 512), "fc.bias": (8,)}
    out = net.eval()(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 8) and probabilities(out, head).shape == (2, 9)
    # the biases start at a uniform prior: an untrained head says every count is equally likely
    flat = probabilities(net.fc.bias.detach()[None], head)
    assert torch.allclose(flat, torch.full((1, 9), 1 / 9), atol=1e-5)
    with pytest.raises(ValueError, match="unknown head"):
        build_resnet("resnet18", head="poisson")


@pytest.mark.parametrize("loss", ["ce", "neighbour", "ordinal", "coral"])
def test_each_loss_learns_counts_on_tiny_data(loss: str) -> None:
    """A linear model on a noisy 1-D count signal: every loss and its head must reach high accuracy."""
    gen = torch.Generator().manual_seed(1)
    y = torch.randint(0, 6, (600,), generator=gen)
    x = torch.stack([y.float() + 0.25 * torch.randn(600, generator=gen), torch.randn(600, generator=gen)], 1)
    head = head_for(loss)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), build_head(16, 6, head))
    criterion = build_criterion(loss, 6)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        criterion(model(x[:400]), y[:400]).backward()
        opt.step()
    with torch.no_grad():
        p = probabilities(model(x[400:]), head)
    assert torch.allclose(p.sum(1), torch.ones(200), atol=1e-5)
    accuracy = (p.argmax(1) == y[400:]).float().mean().item()
    rmse = ((p.argmax(1) - y[400:]).float() ** 2).mean().sqrt().item()
    assert accuracy > 0.8 and rmse < 0.6, (loss, accuracy, rmse)


def test_unknown_loss_is_a_usage_error(synth_store: Store, train) -> None:
    code, events = train(["resnet", "--db", db_of(synth_store), *TINY, "--loss", "poisson"])
    assert code == 2 and final(events)["event"] == "failed" and "loss must be one of" in final(events)["reason"]


@pytest.mark.parametrize("loss,head", [("ce", "softmax"), ("neighbour", "softmax"), ("ordinal", "ordinal"),
                                       ("coral", "coral")])
def test_each_loss_trains_saves_and_scores(synth_store: Store, train, loss: str, head: str) -> None:
    code, events = train(["resnet", "--db", db_of(synth_store), *TINY, "--epochs", "1",
                                           "--loss", loss])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    assert events[0]["config"]["loss"] == loss
    record = synth_store.get_model(done["model_id"])
    manifest = json.loads(Path(record["path"]).with_suffix(".json").read_text())
    assert manifest["head"] == head and manifest["training"]["loss"] == loss
    assert manifest["calibration"]["method"] == "temperature" and manifest["calibration"]["temperature"] > 0
    model = load_registered(synth_store, done["model_id"])
    assert model.head == head and model.temperature == manifest["calibration"]["temperature"]
    summary = score_images(synth_store, done["model_id"], device="cpu", num_workers=0)
    assert summary.scored > 0 and summary.errors == 0
    probs = np.array([p["probs"] for p in synth_store.predictions(done["model_id"])])
    assert probs.shape[1] == 6 and np.allclose(probs.sum(1), 1.0, atol=1e-6) and (probs >= 0).all()
    for key in ("ece", "ece_uncalibrated", "val_ece", "temperature"):
        assert key in done["metrics"], key


def test_lr_find_uses_the_recipes_loss(synth_store: Store, train) -> None:
    """The ordinal head has K-1 outputs: a range test with plain cross-entropy would crash on it."""
    code, events = train(["lr-find", "--db", db_of(synth_store), "--recipe", "tiny",
                                           "--loss", "ordinal", "--num-iter", "6", "--threads", "1"])
    done = final(events)
    assert code == 0 and done["event"] == "finished", done
    points = [e for e in events if e["event"] == "lr_finder" and e.get("loss") is not None]
    assert points and all(np.isfinite(p["loss"]) for p in points)


def test_published_recipes_keep_their_loss_and_new_ones_take_the_benchs() -> None:
    published = [r for r in RECIPES.values() if r.published]
    assert published and all(r.loss == "ce" for r in published)
    assert RECIPES["demo"].loss == NEW_RECIPE_LOSS != "ce"
