"""Fixtures of the model-layer tests: the hostile photo corpus, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile_corpus import build_hostile_corpus


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """(dataset root, a folder outside it, what each file is): 217 hostile files and some good ones."""
    base = tmp_path_factory.mktemp("hostile")
    root, outside = base / "dataset", base / "outside"
    return root, outside, build_hostile_corpus(root, outside)
