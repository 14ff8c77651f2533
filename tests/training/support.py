"""Helpers of the training tests (no tests here): run `python -m training` in or out of process, read its stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support.paths import REPO

TINY = ["--recipe", "tiny", "--threads", "1", "--workers", "0"]


def parse_stream(text: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object with an "event"."""
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(e, dict) and "event" in e for e in events)
    return events


def run_in_process(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, list[dict[str, Any]]]:
    """python -m training ARGV inside the test process (no interpreter start-up)."""
    from training.__main__ import main
    capsys.readouterr()
    code = main(argv)
    return code, parse_stream(capsys.readouterr().out)


def child_env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def start_training(argv: list[str]) -> subprocess.Popen:
    """python -m training ARGV as a real subprocess with a piped stdout stream."""
    return subprocess.Popen([sys.executable, "-m", "training", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(REPO), env=child_env())


def final(events: list[dict[str, Any]]) -> dict[str, Any]:
    last = events[-1]
    assert last["event"] in ("finished", "failed", "cancelled"), last
    assert sum(e["event"] in ("finished", "failed", "cancelled") for e in events) == 1
    return last


def db_of(store) -> str:
    return str(store.path)
