"""Fixtures of the Qt-free, torch-free core tests: the real ABID slice beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import REAL_SLICE


@pytest.fixture(scope="session")
def real_slice() -> Path:
    """The 10,013 real ABID pairs (../shared/abid-real, or BINAUDIT_REAL_SLICE); skipped where absent."""
    if not (REAL_SLICE / "metadata").is_dir():
        pytest.skip(f"the real ABID slice is not at {REAL_SLICE}")
    return REAL_SLICE
