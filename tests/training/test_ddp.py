"""The same entry point under torchrun: two CPU processes on gloo, one stream, one model, the same metrics format."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from binaudit.core.store import Store
from tests.training.support import REPO, TINY, child_env, db_of, final, parse_stream


def test_two_process_ddp_run_matches_the_single_process_format(synth_store: Store, train) -> None:
    code, single = train(["resnet", "--db", db_of(synth_store), *TINY])
    assert code == 0
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    if shutil.which("torchrun") is None and not _has_run_module():
        pytest.skip("torch.distributed.run not available")
    proc = subprocess.run([*torchrun, "--standalone", "--nproc_per_node", "2", "-m", "training", "resnet",
                           "--db", db_of(synth_store), *TINY], capture_output=True, text=True, cwd=str(REPO),
                          env=child_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = parse_stream(proc.stdout)
    assert sum(e["event"] == "started" for e in events) == 1  # only rank 0 speaks
    assert events[0]["world_size"] == 2
    done = final(events)
    assert done["event"] == "finished"
    one_epochs = [e for e in single if e["event"] == "epoch"]
    two_epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in two_epochs] == [e["epoch"] for e in one_epochs]
    assert [set(e) for e in two_epochs] == [set(e) for e in one_epochs]
    assert set(done["metrics"]) == set(final(single)["metrics"])
    # evaluation is sharded without padding and all-reduced: both see every test image exactly once
    assert done["metrics"]["n"] == final(single)["metrics"]["n"]
    models = synth_store.list_models("resnet")
    assert len(models) == 2 and not any(m["active"] for m in models)  # one model per run, none activated
    csv_one = (Path(final(single)["run_dir"]) / "metrics.csv").read_text().splitlines()[0]
    csv_two = (Path(done["run_dir"]) / "metrics.csv").read_text().splitlines()
    assert csv_two[0] == csv_one and len(csv_two) == 3
    report = json.loads((Path(done["run_dir"]) / "report.json").read_text())
    assert report["test"]["n"] == done["metrics"]["n"]


def _has_run_module() -> bool:
    try:
        import torch.distributed.run  # noqa: F401
        return True
    except ImportError:
        return False
