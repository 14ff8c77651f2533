"""Reading a local weights file without unpickling, and the one error every weights problem becomes."""

from __future__ import annotations

from pathlib import Path

import torch


class PretrainedWeightsUnavailable(RuntimeError):
    """ImageNet weights were asked for but cannot be downloaded or read."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict without unpickling: safetensors, or torch.load(weights_only=True) for .pth/.pt.

    Every failure is a PretrainedWeightsUnavailable with a one-line message."""
    if not path.is_file():
        raise PretrainedWeightsUnavailable(f"weights file not found: {path} (pass an existing .pth/.pt "
                                           f"state dict or .safetensors file, or --weights none)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:
            raise PretrainedWeightsUnavailable(f"{path} is not a readable safetensors file "
                                               f"({_first_line(exc)})") from exc
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PretrainedWeightsUnavailable(f"{path} is not a plain tensor state dict (refused by "
                                           f"torch.load(weights_only=True): {_first_line(exc)})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedWeightsUnavailable(f"{path} holds a {type(state).__name__} that is not a "
                                           f"name -> tensor state dict")
    return state
