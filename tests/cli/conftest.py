"""Fixtures of the command-line tests: the `binaudit` command run in a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.support.paths import REPO


@pytest.fixture
def binaudit_cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run `python -m binaudit.cli ARGS...` from the repository root; returns the finished process."""
    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "binaudit.cli", *args], capture_output=True, text=True,
                              cwd=REPO, timeout=timeout)
    return run
