"""Output heads of the count networks and how their outputs become a probability vector over the counts.

* ``softmax``: a Linear layer with one logit per class; probabilities softmax(logits). Trained with
  cross-entropy or with the neighbour-crediting loss; both keep this head.
* ``ordinal``: K-1 binary outputs, z_j = w_j.x + b_j, the logit of "count > j" (ordinal regression as
  extended binary classification, Li & Lin 2007; Niu et al. 2016).
* ``coral``: the same with one weight vector shared by all thresholds, z_j = w.x + b_j (CORAL, Cao et
  al. 2020: rank-consistent by construction). In short CPU runs from scratch it learned far slower than
  ``ordinal`` (the backbone gets a one-dimensional signal), so ``ordinal`` is the one to try first.

Both ordinal heads decode alike: cumulative probabilities s_j = sigmoid(z_j), made non-increasing (running
minimum) so no class probability is negative, then p(0) = 1 - s_0, p(k) = s_{k-1} - s_k, p(K-1) = s_{K-2}.
Their biases start at the thresholds of a uniform class prior.

Every head ends in a probability vector over the classes, so scoring, the queue and model files work
alike; the model manifest records the head so a stored model is decoded as it was trained.
"""

from __future__ import annotations

import math

import torch
from torch import nn

HEADS = ("softmax", "ordinal", "coral")
ORDINAL_HEADS = ("ordinal", "coral")


def uniform_prior_thresholds(num_classes: int) -> torch.Tensor:
    """logit P(count > j) when every class is equally likely: the ordinal biases' starting point. The thresholds
    are told apart only by these K-1 biases, which an optimiser moves by about lr per step (Adam), so starting
    them all at 0 leaves them nearly equal for a whole short run and the head predicts one end of the range."""
    above = torch.arange(num_classes - 1, 0, -1, dtype=torch.float32) / num_classes
    return torch.log(above / (1 - above))


class OrdinalHead(nn.Module):
    """K-1 logits of "count > j", each with its own weight row (shared=False) or one row for all (CORAL)."""

    def __init__(self, in_features: int, num_classes: int, shared: bool = False):
        super().__init__()
        if num_classes < 2:
            raise ValueError("an ordinal head needs at least two classes")
        self.in_features, self.num_classes = int(in_features), int(num_classes)
        self.weight = nn.Parameter(torch.empty(1 if shared else self.num_classes - 1, self.in_features))
        self.bias = nn.Parameter(uniform_prior_thresholds(self.num_classes))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    @property
    def out_features(self) -> int:
        """The number of classes (what a softmax head's out_features means), not the K-1 logits."""
        return self.num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.t() + self.bias  # (B, 1) + (K-1) broadcasts for the shared row


class CoralHead(OrdinalHead):
    """CORAL: K-1 rank-consistent logits of "count > j" from one shared weight row and one bias per threshold."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__(in_features, num_classes, shared=True)


def head_classes(model: nn.Module) -> int:
    """How many classes a count network's head (its `fc`: a Linear layer or an ordinal head) predicts."""
    fc = model.fc
    if not isinstance(fc, (nn.Linear, OrdinalHead)):
        raise TypeError(f"the network's fc is a {type(fc).__name__}, not a count head")
    return int(fc.out_features)


def check_head(head: str) -> str:
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
    return head


def build_head(in_features: int, num_classes: int, head: str = "softmax") -> nn.Module:
    """The final layer for a head type."""
    if check_head(head) == "coral":
        return CoralHead(in_features, num_classes)
    if head == "ordinal":
        return OrdinalHead(in_features, num_classes)
    return nn.Linear(in_features, int(num_classes))


def cumulative_probabilities(logits: torch.Tensor) -> torch.Tensor:
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
    if head in ORDINAL_HEADS:
        return cumulative_probabilities(outputs)
    return torch.softmax(outputs.float(), dim=1)


def predicted_class(outputs: torch.Tensor, head: str = "softmax") -> torch.Tensor:
    """Index of the most probable class for each row."""
    if head in ORDINAL_HEADS:
        return cumulative_probabilities(outputs).argmax(dim=1)
    return outputs.argmax(dim=1)
