"""Hostile metadata: whatever bytes arrive, the parser answers fast with a BinRecord or a MetadataError."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binaudit.core.abid import BinRecord, MetadataError, parse_metadata, parse_metadata_checked, parse_metadata_fast

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                         st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=40)

sku = st.fixed_dictionaries(
    {"asin": st.one_of(st.text(max_size=12), json_values), "quantity": st.one_of(st.integers(), json_values)},
    optional={"name": json_values, "normalizedName": json_values,
              "length": st.one_of(st.fixed_dictionaries({"unit": json_values, "value": json_values}), json_values),
              "weight": st.one_of(st.fixed_dictionaries({"unit": json_values, "value": json_values}), json_values)})
records = st.fixed_dictionaries(
    {"BIN_FCSKU_DATA": st.one_of(st.dictionaries(st.text(max_size=12), sku, max_size=4), json_values),
     "EXPECTED_QUANTITY": st.one_of(st.integers(), json_values)},
    optional={"image_fname": json_values})


def outcome(data: bytes) -> BinRecord | None:
    """Parse and return the record, or None for a MetadataError; anything else fails the test."""
    try:
        return parse_metadata(data)
    except MetadataError:
        return None


@settings(max_examples=300, deadline=200, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_schema_shaped_records(doc: dict) -> None:
    record = outcome(json.dumps(doc, allow_nan=True).encode())
    if record is not None:
        assert record.expected_quantity >= 0
        assert all(s.quantity >= 0 for s in record.skus.values())


@settings(max_examples=300, deadline=200)
@given(json_values)
def test_any_json_value(value: object) -> None:
    outcome(json.dumps(value, allow_nan=True).encode())


@settings(max_examples=300, deadline=200)
@given(st.binary(max_size=2000))
def test_any_bytes(data: bytes) -> None:
    outcome(data)


def extreme_cases() -> dict[str, bytes]:
    good = {"BIN_FCSKU_DATA": {"B000000001": {"asin": "B000000001", "name": "x", "quantity": 1}},
            "EXPECTED_QUANTITY": 1}
    return {
        "deep nesting": b"[" * 100_000 + b"]" * 100_000,
        "deep objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "huge integer": b'{"EXPECTED_QUANTITY": 1' + b"0" * 50_000 + b', "BIN_FCSKU_DATA": {}}',
        "huge float": b'{"EXPECTED_QUANTITY": 1e999999, "BIN_FCSKU_DATA": {}}',
        "NaN": b'{"EXPECTED_QUANTITY": NaN, "BIN_FCSKU_DATA": {}}',
        "Infinity in a dimension": json.dumps({**good, "BIN_FCSKU_DATA": {"B000000001": {
            "asin": "B000000001", "quantity": 1, "length": {"unit": "IN", "value": float("inf")}}}}).encode(),
        "-Infinity": b'{"EXPECTED_QUANTITY": -Infinity, "BIN_FCSKU_DATA": {}}',
        "duplicate keys": b'{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {}, "EXPECTED_QUANTITY": 5}',
        "duplicate SKU keys": (b'{"EXPECTED_QUANTITY": 2, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": 1},'
                               b' "B1": {"asin": "B1", "quantity": 1}}}'),
        "string quantity": json.dumps({**good, "EXPECTED_QUANTITY": "1"}).encode(),
        "string SKU quantity": json.dumps({**good, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": "1"}}}).encode(),
        "10 MB file": json.dumps({**good, "padding": "x" * 10_000_000}).encode(),
        "path-like image_fname": json.dumps({**good, "image_fname": "../../../../etc/passwd"}).encode(),
        "absolute image_fname": json.dumps({**good, "image_fname": "/etc/shadow"}).encode(),
        "NUL bytes": b'{"EXPECTED_QUANTITY": 1,\x00 "BIN_FCSKU_DATA": {}}',
        "UTF-16": json.dumps(good).encode("utf-16"),
        "lone surrogate": b'{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1": {"asin": "\\ud800", "quantity": 1}}}',
    }


@pytest.mark.parametrize("name", list(extreme_cases()))
def test_extremes_are_refused_fast(name: str) -> None:
    data = extreme_cases()[name]
    start = time.perf_counter()
    record = outcome(data)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{name} took {elapsed:.2f}s"  # ~40 ms on an idle core
    if name == "path-like image_fname" or name == "absolute image_fname":
        assert record is not None and record.image_fname  # kept as text only, never used as a path
    else:
        assert record is None, f"{name} was accepted"


def checked_outcome(data: bytes) -> BinRecord | None:
    try:
        return parse_metadata_checked(data)
    except MetadataError:
        return None


codes = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
numbers = st.one_of(st.floats(0, 1e6), st.integers(0, 10**6), st.floats(allow_nan=True), st.integers(), st.booleans())
measures = st.one_of(st.none(), st.fixed_dictionaries({"value": numbers},
                                                      optional={"unit": st.one_of(st.text(max_size=6), st.none())}))
texts = st.one_of(st.text(max_size=20), st.none(), st.sampled_from(["a: b", "x\":", "", "Caf\u00e9"]))
nearly_valid_skus = st.fixed_dictionaries(
    {"asin": codes, "quantity": st.integers(-1, 10_001)},
    optional={"name": texts, "normalizedName": texts, "length": measures, "width": measures, "height": measures,
              "weight": measures, "color": st.integers()})
nearly_valid_records = st.fixed_dictionaries(
    {"BIN_FCSKU_DATA": st.dictionaries(codes, nearly_valid_skus, max_size=4), "EXPECTED_QUANTITY": st.integers(-1, 10_001)},
    optional={"image_fname": texts})
layouts = st.sampled_from([{}, {"indent": 4, "sort_keys": True}, {"separators": (",", ":")},
                           {"separators": (", ", " : ")}, {"separators": (",", ":\t")}])


@settings(max_examples=400, deadline=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(records, nearly_valid_records), layouts, st.data())
def test_fast_parser_never_disagrees_with_the_checked_one(doc: dict, layout: dict, data: st.DataObject) -> None:
    """The compiled fast path may only say "not sure" (None); when it answers, the checked parser agrees."""
    text = json.dumps(doc, allow_nan=True, **layout)
    if data.draw(st.booleans(), "duplicate a key"):
        text = text.rstrip("}") + (", " if doc else "") + data.draw(
            st.sampled_from(['"EXPECTED_QUANTITY": 1', '"EXPECTED_QUANTITY" : 1', '"image_fname":"a:b"'])) + "}"
    raw = text.encode()
    fast = parse_metadata_fast(raw)
    if fast is not None:
        assert checked_outcome(raw) == fast


@pytest.mark.parametrize("text", [
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": 1}}, "EXPECTED_QUANTITY" : 1}',
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": 1, "name": "a: b"},'
    ' "B1": {"asin": "B1", "quantity": 1}}}',
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": 1, "length": null, '
    '"length": {"unit": "IN", "value": 2}}}}',
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": 1, "weight": null, '
    '"weight": null}}}',
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1": {"asin": "B1", "quantity": 1, "name": null, "name": "x"}}}',
    '{"EXPECTED_QUANTITY": 1, "image_fname": null, "BIN_FCSKU_DATA": {}, "image_fname": null}',
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1\\n": {"asin": "B1", "quantity": 1}}}',
    '{"EXPECTED_QUANTITY": 1, "BIN_FCSKU_DATA": {"B1\\nB2": {"asin": "B1", "quantity": 1}}}',
])
def test_fast_parser_refuses_what_it_cannot_prove(text: str) -> None:
    assert parse_metadata_fast(text.encode()) is None
    assert checked_outcome(text.encode()) is None


def test_generated_and_real_records_take_the_fast_path(sample_dir, synth_dataset) -> None:
    """The sample's nulls (a name, weights, dimensions), empty bin and unpadded id included."""
    files = [*(sample_dir / "metadata").glob("*.json"), *(synth_dataset / "metadata").glob("*.json")]
    assert len(files) > 100
    for path in files:
        data = path.read_bytes()
        assert parse_metadata_fast(data) is not None, path.name
        assert parse_metadata_fast(data) == parse_metadata_checked(data)
