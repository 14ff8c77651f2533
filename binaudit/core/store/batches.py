"""Slices of a list of bound values, so one statement stays under SQLite's limit of parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive slices of values, each at most size long."""
    for start in range(0, len(values), size):
        yield values[start:start + size]
