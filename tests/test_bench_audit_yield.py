"""bench/audit_yield.py end to end on a small synthetic slice: planting, training, review rounds through the real
Store with the loop, the figures' bounds, the plot, and --from reusing the run's folder without writing to it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from binaudit.core.store import Store
from tests.support.paths import REPO

SCRIPT = REPO / "bench" / "audit_yield.py"
POLICIES = ("loop", "fixed", "random", "best")
MARKS = ("10%", "20%")


def run_bench(*args: str, timeout: float = 240) -> tuple[int, dict[str, Any], str]:
    """Run the bench as a developer would; (exit code, its final JSON line, stderr)."""
    done = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1]), done.stderr


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 synthetic bins with counts 0-5 and correct records (the bench plants the variances)."""
    from binaudit.core.synth import generate_dataset

    out = tmp_path_factory.mktemp("ay") / "bins"
    generate_dataset(out, 300, seed=5, mismatch_rate=0.0, max_count=5, image_scale=0.4)
    return out


@pytest.fixture(scope="module")
def run(bins: Path) -> tuple[int, dict[str, Any], Path]:
    """One full run: the real_variances pipeline (SVM only) into OUT/rv, then every policy in rounds of 15."""
    out = bins.parent / "out"
    rc, result, err = run_bench("--source", str(bins), "--out", str(out), "--skip-resnet", "--round", "15",
                                "--budget", "0.3", "--threads", "1", "--workers", "1", "--seed", "3")
    assert rc in (0, 1), err[-3000:]
    return rc, result, out


def test_json_line_has_every_figure(run: tuple[int, dict[str, Any], Path]) -> None:
    rc, result, out = run
    assert result["bench"] == "audit_yield"
    assert result["targets"] == {"lift_at_10pct_min": 3.0, "min_variances": 20}
    for key in ("settings", "population", "budget", "policies", "test_split", "lift_at_10pct", "lift_at_20pct",
                "rounds", "plot", "seconds", "ok"):
        assert key in result, key
    assert set(result["policies"]) == set(POLICIES) == set(result["test_split"]["policies"])
    loop = result["lift_at_10pct"]["loop"]
    assert result["ok"] == (loop >= 3 and result["population"]["variances"] >= 20)
    assert rc == (0 if result["ok"] else 1)
    assert (out / "audit_yield.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = json.loads((out / "curves.json").read_text())
    assert len(curves["all"]["loop"]) == result["budget"]


def test_figures_stay_within_what_is_possible(run: tuple[int, dict[str, Any], Path]) -> None:
    """found <= best = min(reviewed, variances); random = the exact expectation; best's lift is the highest."""
    _, result, _ = run
    pop = result["population"]
    assert pop["variances"] >= 20 and pop["bins"] == 300  # 10% of the eligible bins planted; all scored
    assert result["budget"] == 90
    planted = result["planted_range"]  # every variance lies in it, by its definition; higher records are left out
    assert planted["variances"] == pop["variances"] and 0 < planted["bins"] <= pop["bins"]
    assert planted["largest_record"] is not None
    for block, n, k in ((result["policies"], pop["bins"], pop["variances"]),
                        (result["test_split"]["policies"], result["test_split"]["bins"],
                         result["test_split"]["variances"]),
                        (planted["policies"], planted["bins"], planted["variances"])):
        for mark in MARKS:
            rows = {name: block[name][mark] for name in POLICIES if block[name][mark] is not None}
            for row in rows.values():
                assert 0 <= row["found"] <= row["best"] == min(row["reviewed"], k)
                assert row["random_expected"] == pytest.approx(row["reviewed"] * k / n, abs=0.01)
            if "best" in rows:
                assert all(rows["best"]["lift"] >= row["lift"] for row in rows.values())
                assert rows["best"]["found"] == rows["best"]["best"]
    assert result["policies"]["random"]["10%"]["lift"] == 1.0


def test_reviews_are_label_events_and_the_loop_ran(run: tuple[int, dict[str, Any], Path]) -> None:
    """Each store policy wrote one sim-auditor event per review, corrections exactly where it found variances."""
    _, result, out = run
    for policy in ("loop", "fixed"):
        with Store.open(out / policy / "workspace.db") as store:
            events = store.query("SELECT user, status, count(*) AS n FROM label_events GROUP BY user, status")
        by_status = {e["status"]: e["n"] for e in events}
        assert {e["user"] for e in events} == {"sim-auditor"}
        assert sum(by_status.values()) == result["budget"]
        assert by_status.get("corrected", 0) == result["policies"][policy]["found"]
    rounds = result["rounds"]["loop"]
    assert len(rounds) == 6 and all("update" in r for r in rounds[:-1])
    assert result["fixed_matches_initial_queue"] is True
    with Store.open(out / "loop" / "workspace.db") as store:
        assert store.query("SELECT count(*) AS n FROM queue_updates")[0]["n"] == len(rounds) - 1


def test_from_reuses_a_folder_without_writing_to_it(run: tuple[int, dict[str, Any], Path]) -> None:
    _, first, out = run
    db = out / "rv" / "ws" / "workspace.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    rc, result, err = run_bench("--from", str(out / "rv"), "--out", str(out.parent / "again"), "--policies",
                                "fixed,best", "--limit", "100", "--round", "50", "--budget", "1")
    assert rc in (0, 1), err[-3000:]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert set(result["policies"]) == {"fixed", "best"} and result["population"]["bins"] == 100
    assert result["policies"]["fixed"]["found"] == result["policies"]["best"]["found"] == \
        result["population"]["variances"]  # everything reviewed: every order finds them all


def test_refuses_an_out_folder_it_did_not_make(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("not the bench's")
    done = subprocess.run([sys.executable, str(SCRIPT), "--from", str(tmp_path / "rv"), "--out", str(theirs)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "was not made by this script" in done.stderr
    assert (theirs / "keep.txt").exists()


def test_refuses_to_replace_the_folder_it_reads(run: tuple[int, dict[str, Any], Path]) -> None:
    """An --out that holds --from (a rerun into the first run's folder) would delete the bins: refused."""
    _, _, out = run
    done = subprocess.run([sys.executable, str(SCRIPT), "--from", str(out / "rv"), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "holds --from" in done.stderr
    assert (out / "rv" / "truth.json").exists() and (out / "audit_yield.png").exists()
