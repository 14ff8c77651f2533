"""The ABID reader: strict metadata parsing, JPEG probing, pairing files, on real files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from binaudit.core import abid
from binaudit.core.abid import ImageError, MetadataError, parse_metadata, probe_jpeg, scan_dataset


def record(**overrides):
    doc = {
        "BIN_FCSKU_DATA": {
            "B00CFQWRPS": {"asin": "B00CFQWRPS", "name": "Saline", "quantity": 2,
                           "length": {"unit": "IN", "value": 8.2}, "weight": {"unit": "pounds", "value": 1.9}},
            "ZZXI0WUSIB": {"asin": "B00T0BUKW8", "name": "Chicken", "normalizedName": "Chicken", "quantity": 1},
        },
        "EXPECTED_QUANTITY": 3,
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_real_sample_record_parses(sample_dir: Path) -> None:
    rec = parse_metadata((sample_dir / "metadata" / "00001.json").read_bytes())
    assert rec.expected_quantity == 3
    assert len(rec.skus) == 3
    assert rec.consistency_problem() is None
    assert rec.skus["ZZXI0WUSIB"].asin == "B00T0BUKW8"  # key is not always the ASIN
    assert rec.skus["B00CFQWRPS"].weight.unit == "pounds"


def test_real_record_without_normalized_name_and_with_image_fname(sample_dir: Path) -> None:
    rec = parse_metadata((sample_dir / "metadata" / "00523.json").read_bytes())
    assert rec.image_fname == "523.jpg"
    assert all(s.normalized_name is None for s in rec.skus.values())
    assert rec.expected_quantity == 2


def test_inconsistent_quantities_are_reported() -> None:
    rec = parse_metadata(record(EXPECTED_QUANTITY=5))
    assert "add up to 3" in rec.consistency_problem()


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "top level must be an object"),
        (record(EXPECTED_QUANTITY="3"), "whole number"),
        (record(EXPECTED_QUANTITY=-1), "at least 0"),
        (record(EXPECTED_QUANTITY=10**9), "more than any bin holds"),
        (record(EXPECTED_QUANTITY=True), "whole number"),
        (record(BIN_FCSKU_DATA=[]), "must be an object"),
        (json.dumps({"EXPECTED_QUANTITY": 1}).encode(), "no BIN_FCSKU_DATA"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": -2}}), "at least 0"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": 3.5}}), "whole number"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1"}}), "no 'quantity'"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": 7, "quantity": 1}}), "must be text"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": 1, "length": {"value": "8"}}}), "must be a number"),
        (b'{"EXPECTED_QUANTITY": NaN, "BIN_FCSKU_DATA": {}}', "NaN"),
        (b'{"EXPECTED_QUANTITY": 1, "EXPECTED_QUANTITY": 2, "BIN_FCSKU_DATA": {}}', "duplicate key"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (record(image_fname=12), "must be text"),
    ],
)
def test_malformed_metadata_is_refused_with_a_reason(data: bytes, fragment: str) -> None:
    with pytest.raises(MetadataError, match=fragment):
        parse_metadata(data)


def jpeg_bytes(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 180, 40)).save(buf, "JPEG")
    return buf.getvalue()


def test_probe_jpeg_reads_size(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes((41, 29)))
    assert probe_jpeg(path)[:2] == (41, 29)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty"),
        (jpeg_bytes()[:-200], "truncated"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "PNG"),
        (b"GIF89a" + b"0" * 100, "GIF"),
        (b"II*\x00" + b"0" * 100, "TIFF"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "EPS"),
        (b"hello world", "not a JPEG"),
    ],
)
def test_probe_jpeg_refuses_bad_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=fragment):
        probe_jpeg(path)


def test_scan_pairs_abid_layout(sample_dir: Path) -> None:
    entries = {e.image_id: e for e in scan_dataset(sample_dir)}
    assert entries["00001"].image_path and entries["00001"].metadata_path
    assert entries["00002"].metadata_path is None
    assert entries["00523"].image_path is None
    assert len(entries) == 11


def test_scan_flat_folder_and_ignores_strings_in_metadata(tmp_path: Path) -> None:
    (tmp_path / "7.jpg").write_bytes(jpeg_bytes())
    (tmp_path / "7.json").write_bytes(record(image_fname="../../etc/passwd"))
    (tmp_path / "notes.txt").write_text("hello")
    entries = {e.image_id: e for e in scan_dataset(tmp_path)}
    assert set(entries) == {"7"}
    assert entries["7"].image_path == (tmp_path / "7.jpg").resolve()


def test_scan_refuses_symlink_outside_dataset(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes())
    root = tmp_path / "data"
    (root / "bin-images").mkdir(parents=True)
    (root / "bin-images" / "00005.jpg").symlink_to(outside)
    entries = list(scan_dataset(root))
    assert entries[0].problem and "outside the dataset" in entries[0].problem


def test_statuses_constant_lists_every_status() -> None:
    assert set(abid.STATUSES) == {"ok", "no_metadata", "no_image", "unreadable_image", "malformed_metadata",
                                  "inconsistent"}
