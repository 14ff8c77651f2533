"""Device choice (CUDA, then MPS, then CPU) and the per-device speed settings (bf16 autocast, channels_last)."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager as ContextManager

import torch


class DeviceUnavailable(RuntimeError):
    """The device the user asked for does not exist on this machine."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(requested: str | None = "auto") -> torch.device:
    """Return the device to use: "auto"/None picks CUDA, then MPS, then CPU; explicit names are checked."""
    name = (requested or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceUnavailable(f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps") from exc
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        return _checked_cuda(dev, requested)
    if dev.type == "mps":
        if not _mps_available():
            raise DeviceUnavailable("device 'mps' requested but Apple MPS is not available here; use auto or cpu")
        return dev
    raise DeviceUnavailable(f"unsupported device {requested!r}; use auto, cpu, cuda, cuda:N or mps")


def _checked_cuda(dev: torch.device, requested: str | None) -> torch.device:
    if not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {requested!r} requested but CUDA is not available here; use auto or cpu")
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise DeviceUnavailable(f"device {requested!r} requested but only {count} CUDA device(s) exist")
    return dev


def autocast_context(device: torch.device) -> ContextManager:
    """bf16 autocast on CUDA (fast tensor cores, fp32 range); a no-op context elsewhere."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last on CUDA (faster convolutions), the default layout elsewhere."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


def prepare_module(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move a network to the device in the layout that is fastest there."""
    # torch's stubs have no Module.to overload taking device and memory_format together; the runtime
    # (torch._C._nn._parse_to) accepts them, and one call converts the layout on the target device.
    return module.to(device=device, memory_format=memory_format(device))  # type: ignore[call-overload]


def prepare_batch(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move an image batch (B, C, H, W) to the device in the matching layout."""
    non_blocking = device.type == "cuda" and batch.is_pinned()
    return batch.to(device=device, memory_format=memory_format(device), non_blocking=non_blocking)
