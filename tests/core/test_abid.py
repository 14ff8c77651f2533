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
    assert rec.expected_quantity == 12
    assert [s.quantity for s in rec.skus.values()] == [4, 2, 6]
    assert rec.consistency_problem() is None
    assert rec.skus["B000C33MI2"].weight.unit == "pounds" and rec.skus["B000C33MI2"].length.unit == "IN"


def test_key_that_differs_from_its_asin_is_kept() -> None:
    rec = parse_metadata(record())  # the dataset's own docs show such a key; the slice has none
    assert rec.skus["ZZXI0WUSIB"].asin == "B00T0BUKW8"


def test_real_record_without_normalized_name_and_with_image_fname(sample_dir: Path) -> None:
    rec = parse_metadata((sample_dir / "metadata" / "1037.json").read_bytes())
    assert rec.image_fname == "1037.jpg"
    assert all(s.normalized_name is None for s in rec.skus.values())
    assert rec.expected_quantity == 5 and rec.consistency_problem() is None


def test_real_null_name_reads_as_blank_and_keeps_the_count(sample_dir: Path) -> None:
    rec = parse_metadata((sample_dir / "metadata" / "01037.json").read_bytes())
    sku = rec.skus["B00L8MU234"]
    assert sku.name == "" and sku.normalized_name is None and sku.quantity == 2
    assert sku.weight.value == pytest.approx(0.7054720379543957)
    assert rec.expected_quantity == 5 and rec.consistency_problem() is None


def test_real_null_weight_and_dimensions_read_as_none(sample_dir: Path) -> None:
    weightless = parse_metadata((sample_dir / "metadata" / "00011.json").read_bytes())
    assert [k for k, s in weightless.skus.items() if s.weight is None] == ["B01ATYIK7G"]
    assert weightless.skus["B01ATYIK7G"].length is not None
    bare = parse_metadata((sample_dir / "metadata" / "00043.json").read_bytes()).skus["B00OZO3XLK"]
    assert (bare.length, bare.width, bare.height, bare.weight) == (None, None, None, None)
    assert bare.name == "world trip Fancy Passport Cover" and bare.quantity == 1


def test_real_empty_bin_and_inconsistent_record(sample_dir: Path) -> None:
    empty = parse_metadata((sample_dir / "metadata" / "00013.json").read_bytes())
    assert empty.skus == {} and empty.expected_quantity == 0 and empty.consistency_problem() is None
    short = parse_metadata((sample_dir / "metadata" / "01405.json").read_bytes())
    assert "EXPECTED_QUANTITY is 5" in short.consistency_problem() and "add up to 4" in short.consistency_problem()


@pytest.mark.parametrize("sku", [
    {"asin": "B1", "quantity": 1, "name": None, "normalizedName": None},
    {"asin": "B1", "quantity": 1},
    {"asin": "B1", "quantity": 1, "name": "", "normalizedName": ""},
    {"asin": "B1", "quantity": 1, "name": "x", "weight": None, "length": None, "width": None, "height": None},
])
def test_nulls_and_blanks_that_real_records_hold_are_taken(sku: dict) -> None:
    data = json.dumps({"BIN_FCSKU_DATA": {"B1": sku}, "EXPECTED_QUANTITY": 1, "image_fname": None}).encode()
    rec = parse_metadata(data)
    assert rec.skus["B1"].name == (sku.get("name") or "") and rec.image_fname is None
    assert abid.parse_metadata_fast(data) == abid.parse_metadata_checked(data) == rec


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
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": 1, "name": False}}), "name must be text"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": 1, "name": 0}}), "name must be text"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": None, "quantity": 1}}), "asin must be text"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": None}}), "whole number"),
        (record(BIN_FCSKU_DATA={"B1": {"asin": "B1", "quantity": 1, "weight": {"unit": "pounds", "value": None}}}),
         "must be a number"),
        (record(EXPECTED_QUANTITY=None), "whole number"),
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
    assert len(entries) == 12
    assert all(e.image_path and e.metadata_path and e.problem is None for e in entries.values())
    assert entries["1037"].image_path.name == "1037.jpg" and entries["01037"].image_path.name == "01037.jpg"


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
