"""Exports: audit results (CSV/JSON), corrected ABID metadata with originals untouched, folders per count."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path

import pytest

from binaudit.cli import main
from binaudit.core.abid import parse_metadata
from binaudit.core.export import atomic_folder, export_audit_results, export_corrected_metadata, export_image_folders
from binaudit.core.store import Store


def relabel_some(store: Store) -> list[str]:
    ids = store.image_ids()[:4]
    store.record_label(ids[0], user="ann", status="corrected", count=7)
    store.record_label(ids[1], user="bob", status="confirmed", count=store.get_image(ids[1])["recorded_count"])
    store.record_label(ids[2], user="ann", status="uncountable", reason="taped over")
    store.record_label(ids[3], user="ann", status="excluded")
    return ids


def test_results_csv_and_json(synth_store: Store, tmp_path: Path) -> None:
    ids = relabel_some(synth_store)
    assert export_audit_results(synth_store, tmp_path / "r.csv") == 4
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    by_id = {r["image_id"]: r for r in rows}
    assert by_id[ids[0]]["effective_count"] == "7" and by_id[ids[0]]["reviewed_by"] == "ann"
    assert by_id[ids[2]]["label_status"] == "uncountable" and by_id[ids[2]]["reason"] == "taped over"
    export_audit_results(synth_store, tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert len(doc["results"]) == 4 and doc["label_snapshot"] == synth_store.label_snapshot()
    assert export_audit_results(synth_store, tmp_path / "all.csv", reviewed_only=False) == synth_store.count_images()


def test_corrected_metadata_keeps_originals(synth_store: Store, tmp_path: Path) -> None:
    ids = relabel_some(synth_store)
    original_path = Path(synth_store.get_image(ids[0])["meta_path"])
    before = original_path.read_bytes()
    assert export_corrected_metadata(synth_store, tmp_path / "fixed") == 4
    assert original_path.read_bytes() == before
    fixed = json.loads((tmp_path / "fixed" / "metadata" / f"{ids[0]}.json").read_text())
    assert fixed["EXPECTED_QUANTITY"] == 7
    assert fixed["AUDIT"]["recorded_quantity"] == json.loads(before)["EXPECTED_QUANTITY"]
    assert fixed["AUDIT"]["by"] == "ann"
    parse_metadata(json.dumps({k: v for k, v in fixed.items() if k != "AUDIT"}).encode())


def test_image_folders_per_count(synth_store: Store, tmp_path: Path) -> None:
    ids = relabel_some(synth_store)
    n = export_image_folders(synth_store, tmp_path / "folders")
    files = list((tmp_path / "folders").rglob("*.jpg"))
    assert n == len(files) == len(synth_store.training_labels())
    assert (tmp_path / "folders").glob(f"*/7/{ids[0]}.jpg")
    assert not list((tmp_path / "folders").rglob(f"{ids[2]}.jpg")), "uncountable photos are not exported"


def test_failed_export_leaves_previous_one(tmp_path: Path) -> None:
    target = tmp_path / "export"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("disk full")
    assert (target / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_export_cli(synth_store: Store, tmp_path: Path) -> None:
    relabel_some(synth_store)
    assert main(["export", "results", str(tmp_path / "out.json"), "--db", str(synth_store.path)]) == 0
    assert json.loads((tmp_path / "out.json").read_text())["results"]


def test_export_never_replaces_a_folder_that_is_not_an_export(tmp_path: Path, synth_store: Store) -> None:
    from binaudit.core.export import ExportError

    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "thesis.txt").write_text("precious")
    with pytest.raises(ExportError, match="not an earlier binaudit export"):
        export_image_folders(synth_store, documents)
    assert (documents / "thesis.txt").read_text() == "precious"
    export_image_folders(synth_store, tmp_path / "folders")
    export_image_folders(synth_store, tmp_path / "folders")  # an earlier export is replaced


def test_real_nulls_stay_blank_or_null_in_every_export(sample_dir: Path, tmp_path: Path) -> None:
    """The bundled real records with a null name (01037), null measures (00043, 00011) and an empty bin (00013)."""
    from binaudit.core.importer import import_dataset

    with Store.open(tmp_path / "ws" / "workspace.db") as store:
        import_dataset(store, sample_dir)
        store.record_label("01037", user="ann", status="corrected", count=4)
        store.record_label("00043", user="ann", status="confirmed", count=11)
        store.record_label("00011", user="bob", status="uncountable", reason="items hidden")
        store.record_label("00013", user="bob", status="confirmed", count=0)
        assert export_audit_results(store, tmp_path / "r.csv", reviewed_only=False) == 12
        export_audit_results(store, tmp_path / "r.json")
        assert export_corrected_metadata(store, tmp_path / "fixed") == 4
        assert export_image_folders(store, tmp_path / "folders") == len(store.training_labels())
    text = (tmp_path / "r.csv").read_text()
    assert "None" not in text and "null" not in text
    rows = {r["image_id"]: r for r in csv.DictReader(text.splitlines())}
    assert rows["00011"]["effective_count"] == "" and rows["00004"]["reviewed_by"] == ""
    results = {r["image_id"]: r for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    assert sorted(results) == ["00011", "00013", "00043", "01037"] and results["00013"]["reason"] is None
    for image_id in ("01037", "00043", "00013"):
        original = json.loads((sample_dir / "metadata" / f"{image_id}.json").read_bytes())
        fixed = json.loads((tmp_path / "fixed" / "metadata" / f"{image_id}.json").read_bytes())
        assert fixed.pop("AUDIT")["recorded_quantity"] == original["EXPECTED_QUANTITY"]
        assert fixed.pop("EXPECTED_QUANTITY") == {"01037": 4, "00043": 11, "00013": 0}[image_id]
        original.pop("EXPECTED_QUANTITY")
        assert fixed == original  # nulls stay null (no "" invented), float noise kept
    nameless = json.loads((tmp_path / "fixed" / "metadata" / "01037.json").read_bytes())["BIN_FCSKU_DATA"]["B00L8MU234"]
    assert nameless["name"] is None and nameless["normalizedName"] is None
    bare = json.loads((tmp_path / "fixed" / "metadata" / "00043.json").read_bytes())["BIN_FCSKU_DATA"]["B00OZO3XLK"]
    assert [bare[k] for k in ("length", "width", "height", "weight")] == [None] * 4
    assert "None" not in (tmp_path / "fixed" / "metadata" / "01037.json").read_text()
    assert list((tmp_path / "folders").glob("*/4/01037.jpg")) and list((tmp_path / "folders").glob("*/0/00013.jpg"))
    assert not list((tmp_path / "folders").rglob("00011.jpg"))


def test_an_undone_decision_is_not_exported_as_a_review(synth_store: Store, tmp_path: Path) -> None:
    ids = relabel_some(synth_store)
    synth_store.record_label(ids[0], user="ann", status="reset", action="undo")  # the first decision, undone
    assert export_audit_results(synth_store, tmp_path / "r.csv") == 3
    assert ids[0] not in {r["image_id"] for r in csv.DictReader((tmp_path / "r.csv").open())}
    export_audit_results(synth_store, tmp_path / "all.csv", reviewed_only=False)
    row = next(r for r in csv.DictReader((tmp_path / "all.csv").open()) if r["image_id"] == ids[0])
    assert row["label_status"] == "recorded" and row["reviewed_by"] == "" and row["reviewed_at"] == ""
    assert row["effective_count"] == row["recorded_count"]
    assert export_corrected_metadata(synth_store, tmp_path / "fixed") == 3
    assert not (tmp_path / "fixed" / "metadata" / f"{ids[0]}.json").exists()


def test_exports_get_the_users_normal_permissions(synth_store: Store, tmp_path: Path) -> None:
    relabel_some(synth_store)
    old = os.umask(0o022)
    try:
        export_audit_results(synth_store, tmp_path / "r.csv")
        export_corrected_metadata(synth_store, tmp_path / "fixed")
        os.umask(0o027)
        export_audit_results(synth_store, tmp_path / "group.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "fixed").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "group.json").stat().st_mode) == 0o640


def test_results_limited_to_chosen_images_and_columns(synth_store: Store, tmp_path: Path) -> None:
    ids = relabel_some(synth_store)
    chosen = synth_store.image_ids()[10:15]
    n = export_audit_results(synth_store, tmp_path / "f.csv", reviewed_only=False, image_ids=chosen,
                             columns=["recorded_count", "svm_predicted"])
    rows = list(csv.DictReader((tmp_path / "f.csv").open()))
    assert n == 5 and [r["image_id"] for r in rows] == sorted(chosen)
    assert list(rows[0]) == ["image_id", "recorded_count", "svm_predicted"]
    assert ids[0] not in {r["image_id"] for r in rows}


def test_export_cli_options_say_what_was_written(synth_store: Store, tmp_path: Path, capsys) -> None:
    relabel_some(synth_store)
    db, out = str(synth_store.path), tmp_path / "r.csv"
    assert main(["export", "results", str(out), "--db", db, "--reviewed-only", "--columns", "label_status,reason"]) == 0
    said = capsys.readouterr().out
    assert f"exported 4 rows (reviewed images only; 3 columns: image_id, label_status, reason) to {out}" in said
    assert out.read_text().splitlines()[0] == "image_id,label_status,reason"
    assert main(["export", "results", str(out), "--db", db, "--all"]) == 0
    assert f"exported {synth_store.count_images():,} rows (every image; 15 columns" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["export", "results", str(out), "--db", db, "--columns", "image_id,nonsense"])
    assert "unknown column(s) nonsense" in str(refused.value.code)
    with pytest.raises(SystemExit):
        main(["export", "results", str(out), "--db", db, "--all", "--reviewed-only"])
