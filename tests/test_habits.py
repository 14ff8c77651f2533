"""The linters the project keeps clean (pyproject.toml configures both): ruff on the whole repo, mypy on core and ml.

Each runs as its own process from the repository root, exactly as a developer would type it, so the
test fails on the same findings the command prints and shows them in the failure message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 300  # a cold mypy cache took 17 s here; ruff takes about a second


def _tool_command(tool: str, *args: str) -> list[str]:
    """The command line for a tool: its console script, else `python -m tool`; skip when it is not installed."""
    script = shutil.which(tool)
    if script is not None:
        return [script, *args]
    probe = subprocess.run([sys.executable, "-m", tool, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]' installs it)")
    return [sys.executable, "-m", tool, *args]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)


def test_ruff_finds_nothing() -> None:
    """`ruff check .` passes on the whole repository."""
    result = _run(_tool_command("ruff", "check", "."))
    assert result.returncode == 0, f"ruff check . failed:\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing() -> None:
    """`mypy` (the files listed in pyproject.toml: binaudit/core, binaudit/ml) reports no errors."""
    result = _run(_tool_command("mypy"))
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}{result.stderr}"
    assert "Success: no issues found" in result.stdout, result.stdout
