"""The training losses of the ResNet recipes (`--loss`) and the output head each one trains.

* ``ce``: cross-entropy over the count classes (the published recipes; optional label smoothing).
* ``neighbour``: the neighbour-crediting loss of Tezcan & Konrad (best published RMSE, shared/RECIPES.md):
  0.3 x cross-entropy + 0.7 x multi-label soft margin (torch's MultiLabelSoftMarginLoss: the mean over
  classes of a per-class sigmoid BCE) with the counts k-1, k and k+1 all marked positive (those in range).
  Same softmax head as ``ce``: the probabilities are softmax(logits).
* ``ordinal``: the ordinal head (binaudit.ml.heads.OrdinalHead, one output per threshold): the sum over
  thresholds j of the BCE of "count > j", averaged over the batch.
* ``coral``: the same loss on CORAL's shared-weight head (Cao et al. 2020).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .recipes import LOSSES

HEAD_OF_LOSS = {"ce": "softmax", "neighbour": "softmax", "ordinal": "ordinal", "coral": "coral"}
NEIGHBOUR_WEIGHTS = (0.3, 0.7)  # cross-entropy, multi-label soft margin (as published)


def head_for(loss: str) -> str:
    """The output head a loss trains (binaudit.ml.heads)."""
    try:
        return HEAD_OF_LOSS[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}") from None


def neighbour_targets(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, K) float multi-hot: 1 at k-1, k and k+1 (where they are classes), 0 elsewhere."""
    hot = torch.zeros(targets.shape[0], num_classes, device=targets.device)
    for shift in (-1, 0, 1):
        k = targets + shift
        ok = (k >= 0) & (k < num_classes)
        hot[ok.nonzero(as_tuple=True)[0], k[ok]] = 1.0
    return hot


class NeighbourLoss(nn.Module):
    """0.3 x cross-entropy + 0.7 x multi-label soft margin on {k-1, k, k+1}."""

    def __init__(self, num_classes: int, label_smoothing: float = 0.0,
                 weights: tuple[float, float] = NEIGHBOUR_WEIGHTS):
        super().__init__()
        self.num_classes, self.weights = int(num_classes), weights
        self.ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.soft_margin = nn.MultiLabelSoftMarginLoss()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        multi = neighbour_targets(targets, self.num_classes)
        return self.weights[0] * self.ce(logits, targets) + self.weights[1] * self.soft_margin(logits, multi)


class ThresholdLoss(nn.Module):
    """Sum over the K-1 thresholds of BCE(logit_j, count > j), mean over the batch."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.register_buffer("thresholds", torch.arange(int(num_classes) - 1), persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        above = (targets[:, None] > self.thresholds.to(targets.device)[None, :]).to(logits.dtype)
        per = F.binary_cross_entropy_with_logits(logits, above, reduction="none")
        return per.sum(dim=1).mean()


def build_criterion(loss: str, num_classes: int, label_smoothing: float = 0.0) -> nn.Module:
    """The criterion for a recipe's loss; it takes the network's raw outputs and the class indices."""
    head_for(loss)
    if loss == "neighbour":
        return NeighbourLoss(num_classes, label_smoothing)
    if loss in ("ordinal", "coral"):
        return ThresholdLoss(num_classes)
    return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
