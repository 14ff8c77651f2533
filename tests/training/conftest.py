"""Fixtures of the training-module tests: `train`, one `python -m training` run in this process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.training.support import run_in_process


@pytest.fixture
def train(capsys: pytest.CaptureFixture) -> Callable[[list[str]], tuple[int, list[dict[str, Any]]]]:
    """Run the training module's main in process with ARGV; returns (exit code, its JSON-lines events)."""
    return lambda argv: run_in_process(capsys, argv)
