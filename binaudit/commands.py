"""Subcommands that need the ml or training layers; each imports its layer only when it runs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add score, queue and train to the `binaudit` parser."""
