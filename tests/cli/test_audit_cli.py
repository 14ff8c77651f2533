"""`binaudit report`, `sample` and `update-queue` run as real subprocesses on real workspaces: synthetic bins,
a real SVM, reviews written through the store as an auditor who knows the generator's truth would."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from binaudit.core.importer import import_dataset
from binaudit.core.store import Store
from tests.support.workspaces import build_trained_workspace, private_copy


@pytest.fixture(scope="module")
def svm_workspace(tmp_path_factory: pytest.TempPathFactory, synth_dataset: Path) -> Path:
    return build_trained_workspace(tmp_path_factory.mktemp("audit-cli") / "ws", synth_dataset, resnet=None)


@pytest.fixture
def workspace(tmp_path: Path, svm_workspace: Path) -> Path:
    return private_copy(svm_workspace, tmp_path / "ws")


def _truth(synth_dataset: Path) -> dict[str, dict]:
    return json.loads((synth_dataset / "truth.json").read_text())["images"]


def _review(db: Path, truth: dict[str, dict], ids: list[str], user: str = "ann") -> int:
    """Confirm or correct each bin to its true count; returns how many were variances."""
    with Store.open(db) as store:
        for image_id in ids:
            t = truth[image_id]
            wrong = t["true_count"] != t["recorded_count"]
            store.record_label(image_id, user=user, status="corrected" if wrong else "confirmed", count=t["true_count"])
    return sum(truth[i]["true_count"] != truth[i]["recorded_count"] for i in ids)


def test_a_workspace_without_models_or_reviews_says_what_to_do(tmp_path: Path, synth_dataset: Path,
                                                               binaudit_cli: Callable) -> None:
    root = tmp_path / "bare"
    with Store.open(root / "workspace.db") as store:
        import_dataset(store, synth_dataset)
    report = binaudit_cli("report", "--db", str(root))
    assert report.returncode == 1 and "Traceback" not in report.stderr
    assert "nothing to report yet" in report.stderr and "python -m training svm" in report.stderr
    update = binaudit_cli("update-queue", "--db", str(root))
    assert update.returncode == 1 and "no P(variance) to update" in update.stderr
    stratified = binaudit_cli("sample", "--size", "5", "--stratified", "--db", str(root))
    assert stratified.returncode == 1 and "leave out --stratified" in stratified.stderr
    simple = binaudit_cli("sample", "--size", "5", "--seed", "1", "--db", str(root), "--json")
    assert simple.returncode == 0, simple.stderr
    assert len(json.loads(simple.stdout)["bins"]) == 5
    too_big = binaudit_cli("sample", "--size", "100000", "--db", str(root))
    assert too_big.returncode == 1 and "cannot be drawn" in too_big.stderr and "Traceback" not in too_big.stderr


def test_report_before_any_review_cannot_tell_and_points_to_a_sample(workspace: Path, binaudit_cli: Callable) -> None:
    text = binaudit_cli("report", "--db", str(workspace))
    assert text.returncode == 0, text.stderr
    assert "cannot tell yet: draw a random sample with `binaudit sample" in text.stdout.lower()
    assert "bins reviewed from the queue    0" in text.stdout
    assert "Expected in the next" not in text.stdout and "has not been checked against reviews" in text.stdout
    data = json.loads(binaudit_cli("report", "--db", str(workspace), "--json").stdout)
    assert data["reviewed"] == 0 and data["verdict"]["better_than_random"] is None and data["sample"] is None
    assert data["remaining"] is None and data["expected_next"] is None and data["lift"] is None


def test_sample_review_report_and_update_the_queue(workspace: Path, synth_dataset: Path,
                                                   binaudit_cli: Callable) -> None:
    truth, db = _truth(synth_dataset), workspace / "workspace.db"
    wrong = sorted(i for i, t in truth.items() if t["true_count"] != t["recorded_count"])[:2]
    right = sorted(i for i, t in truth.items() if t["true_count"] == t["recorded_count"])[:18] + wrong
    assert _review(db, truth, right) == 2  # twenty queue reviews that found what random review would find

    drawn = binaudit_cli("sample", "--size", "40", "--seed", "2", "--db", str(workspace), "--user", "cy")
    assert drawn.returncode == 0, drawn.stderr
    assert "Random sample #1: 40 bins drawn from 120" in drawn.stdout and "Review them in this order" in drawn.stdout
    with Store.open(db) as store:
        sampled = [b.image_id for b in store.audit_sample_bins()]
    assert drawn.stdout.split("\n\n")[1].splitlines()[1].startswith(", ".join(sampled[:20]))
    found = _review(db, truth, sampled, user="cy")

    data = json.loads(binaudit_cli("report", "--db", str(workspace), "--json").stdout)
    assert data["sample"]["reviewed"] == 40 and data["sample"]["found"] == found and data["reviewed"] == 20
    assert data["variance_rate"]["value"] == pytest.approx(found / 40)
    assert data["remaining_source"] == "random sample" and data["found"] == 2
    assert data["verdict"]["better_than_random"] is False
    text = binaudit_cli("report", "--db", str(workspace)).stdout
    assert "no better than random" in text.lower() and "record accuracy" in text
    assert f"{100 * (1 - found / 40):.1f}%" in text  # record accuracy from the sample

    update = binaudit_cli("update-queue", "--db", str(workspace), "--user", "ann", "--json")
    assert update.returncode == 0, update.stderr
    assert json.loads(update.stdout)["reviewed"] == len(set(right) | set(sampled))
    assert json.loads(update.stdout)["recalibration"]["coefficients"]
    queue = binaudit_cli("queue", "--db", str(workspace), "--top", "5")
    assert "recalibrated by queue update #1 (ann" in queue.stdout
    again = binaudit_cli("update-queue", "--db", str(workspace), "--user", "bob")
    assert again.returncode == 0 and again.stdout.startswith("Queue update #2: recalibrated on")
    assert "queue update #2 (bob" in binaudit_cli("report", "--db", str(workspace)).stdout
