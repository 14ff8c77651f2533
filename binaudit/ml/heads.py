"""Output heads of the count networks and how their outputs become a probability vector over the counts.

* ``softmax``: a Linear layer with one logit per class; probabilities softmax(logits). Trained with
  cross-entropy or with the neighbour-crediting loss; both keep this head.
* ``coral``: an ordinal head (CORAL, Cao et al. 2020): one shared weight vector and K-1 biases give
  K-1 logits z_j = w.x + b_j of "count > j". Class probabilities come from the cumulative ones,
  p(0) = 1 - s_0, p(k) = s_{k-1} - s_k, p(K-1) = s_{K-2}, with s made non-increasing (running minimum)
  so no probability is negative.

Every head ends in a probability vector over the classes, so scoring, the queue and model files work
alike; the model manifest records the head so a stored model is decoded as it was trained.
"""

from __future__ import annotations

import math

import torch
from torch import nn

HEADS = ("softmax", "coral")


class CoralHead(nn.Module):
    """K-1 rank-consistent logits of "count > j": one shared weight row and one bias per threshold."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        if num_classes < 2:
            raise ValueError("an ordinal head needs at least two classes")
        self.in_features, self.num_classes = int(in_features), int(num_classes)
        self.weight = nn.Parameter(torch.empty(1, self.in_features))
        self.bias = nn.Parameter(torch.zeros(self.num_classes - 1))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    @property
    def out_features(self) -> int:
        """The number of classes (what a softmax head's out_features means), not the K-1 logits."""
        return self.num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.t() + self.bias


def check_head(head: str) -> str:
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    return head


def build_head(in_features: int, num_classes: int, head: str = "softmax") -> nn.Module:
    """The final layer for a head type."""
    if check_head(head) == "coral":
        return CoralHead(in_features, num_classes)
    return nn.Linear(in_features, int(num_classes))


def coral_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B, K-1) logits of "count > j" -> (B, K) class probabilities (cumulative ones made non-increasing)."""
    above = torch.sigmoid(logits.float())
    above = torch.cummin(above, dim=1).values
    ones = torch.ones_like(above[:, :1])
    zeros = torch.zeros_like(above[:, :1])
    cumulative = torch.cat([ones, above, zeros], dim=1)
    probs = (cumulative[:, :-1] - cumulative[:, 1:]).clamp_min(0.0)
    return probs / probs.sum(dim=1, keepdim=True).clamp_min(1e-12)


def probabilities(outputs: torch.Tensor, head: str = "softmax") -> torch.Tensor:
    """The network's outputs as float32 class probabilities (B, K)."""
    if head == "coral":
        return coral_probabilities(outputs)
    return torch.softmax(outputs.float(), dim=1)


def predicted_class(outputs: torch.Tensor, head: str = "softmax") -> torch.Tensor:
    """Index of the most probable class for each row."""
    if head == "coral":
        return coral_probabilities(outputs).argmax(dim=1)
    return outputs.argmax(dim=1)
