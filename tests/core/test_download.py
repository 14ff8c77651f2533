"""Tests for binaudit.core.download against a real S3 API server on loopback.

moto's ThreadedMotoServer serves the S3 REST API over HTTP on 127.0.0.1; the
downloader talks to it with unsigned (anonymous) requests, exactly as it does
to the public ABID bucket.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
from pathlib import Path

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")
from botocore import UNSIGNED  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from PIL import Image  # noqa: E402

from binaudit.core import download as dl  # noqa: E402
from binaudit.core.download import DownloadError, download_abid  # noqa: E402

BUCKET = "abid-test"
IDS = [f"{i:05d}" for i in range(1, 13)]  # 00001 .. 00012
NO_IMAGE = "00007"  # metadata without photo, like real exports
REFUSED_KEY = "metadata/00003a.json"  # sorts between 00003 and 00004


def _jpeg(seed: int) -> bytes:
    img = Image.new("RGB", (24 + seed, 16), (40 * seed % 256, 200, 30))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _metadata(i: int, stem: str) -> bytes:
    rec = {
        "BIN_FCSKU_DATA": {
            f"B00TEST{i:03d}": {
                "asin": f"B00TEST{i:03d}",
                "name": f"item {i}",
                "quantity": i % 4,
                "length": {"unit": "IN", "value": 8.2},
                "weight": {"unit": "pounds", "value": 1.9},
            }
        },
        "EXPECTED_QUANTITY": i % 4,
        "image_fname": f"{int(stem)}.jpg",
    }
    return json.dumps(rec).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on loopback with a public-read bucket of 12 records."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # Dummy credentials for the *test* client only; the downloader is unsigned.
    admin = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    admin.create_bucket(Bucket=BUCKET, ACL="public-read")
    files: dict[str, bytes] = {}
    for i, stem in enumerate(IDS, start=1):
        files[f"metadata/{stem}.json"] = _metadata(i, stem)
        if stem != NO_IMAGE:
            files[f"bin-images/{stem}.jpg"] = _jpeg(i)
    files[REFUSED_KEY] = b"{}"
    for key, body in files.items():
        admin.put_object(Bucket=BUCKET, Key=key, Body=body, ACL="public-read")
    yield {"endpoint": endpoint, "files": files}
    server.stop()


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch, tmp_path):
    """Prove the downloader needs no credentials: none in env or files."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _run(s3, dest: Path, limit: int, **kw) -> dl.DownloadSummary:
    kw.setdefault("workers", 4)
    return download_abid(dest, limit, bucket=BUCKET, endpoint_url=s3["endpoint"], **kw)


def _local_files(dest: Path) -> dict[str, bytes]:
    return {
        p.relative_to(dest).as_posix(): p.read_bytes()
        for p in sorted(dest.rglob("*")) if p.is_file()
    }


def _expected(s3, stems) -> dict[str, bytes]:
    out = {}
    for stem in stems:
        out[f"metadata/{stem}.json"] = s3["files"][f"metadata/{stem}.json"]
        if stem != NO_IMAGE:
            out[f"bin-images/{stem}.jpg"] = s3["files"][f"bin-images/{stem}.jpg"]
    return out


# --------------------------------------------------------------------------- #


def test_client_is_unsigned():
    client = dl._make_client("http://127.0.0.1:9", "us-east-1", 4, 1)
    assert client.meta.config.signature_version is UNSIGNED


def test_downloads_first_n_with_correct_bytes(s3, tmp_path):
    calls = []
    summary = _run(s3, tmp_path, 5, progress=lambda d, t: calls.append((d, t)))
    expected = _expected(s3, IDS[:5])
    assert _local_files(tmp_path) == expected
    assert summary.downloaded == 10
    assert summary.skipped == 0
    assert summary.bytes == sum(len(b) for b in expected.values())
    assert summary.failed == [(REFUSED_KEY, summary.failed[0][1])]
    assert "refused" in summary.failed[0][1]
    assert not summary.cancelled
    assert calls[0] == (0, 10) and calls[-1] == (10, 10)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_second_run_skips_everything(s3, tmp_path):
    first = _run(s3, tmp_path, 4)
    assert first.downloaded == 8
    second = _run(s3, tmp_path, 4)
    assert second.downloaded == 0
    assert second.skipped == 8
    assert second.bytes == 0
    assert _local_files(tmp_path) == _expected(s3, IDS[:4])


def test_corrupted_file_same_size_is_redownloaded(s3, tmp_path):
    _run(s3, tmp_path, 3)
    img = tmp_path / "bin-images" / "00002.jpg"
    good = img.read_bytes()
    img.write_bytes(bytes(b ^ 0xFF for b in good))  # same size, wrong bytes
    assert img.stat().st_size == len(good)
    summary = _run(s3, tmp_path, 3)
    assert summary.downloaded == 1
    assert summary.skipped == 5
    assert img.read_bytes() == good


def test_truncated_file_is_redownloaded(s3, tmp_path):
    _run(s3, tmp_path, 2)
    meta = tmp_path / "metadata" / "00001.json"
    good = meta.read_bytes()
    meta.write_bytes(good[:5])
    summary = _run(s3, tmp_path, 2)
    assert summary.downloaded == 1 and summary.skipped == 3
    assert meta.read_bytes() == good


def test_leftover_part_file_does_not_count(s3, tmp_path):
    (tmp_path / "bin-images").mkdir(parents=True)
    (tmp_path / "metadata").mkdir(parents=True)
    good = s3["files"]["bin-images/00001.jpg"]
    part = tmp_path / "bin-images" / "00001.jpg.part"
    part.write_bytes(good[: len(good) // 2])  # a killed download's remains
    (tmp_path / "metadata" / "00001.json.part").write_bytes(s3["files"]["metadata/00001.json"])
    summary = _run(s3, tmp_path, 1)
    assert summary.downloaded == 2 and summary.skipped == 0
    assert _local_files(tmp_path) == _expected(s3, ["00001"])  # no .part left


def test_limit_and_start_after(s3, tmp_path):
    summary = _run(s3, tmp_path, 3, start_after="00004")
    assert _local_files(tmp_path) == _expected(s3, ["00005", "00006", "00007"])
    assert summary.downloaded == 5
    assert summary.failed == [("bin-images/00007.jpg", "image not in the bucket")]
    # start_after given as a full key, limit past the end of the bucket
    other = tmp_path / "other"
    summary = _run(s3, other, 100, start_after="metadata/00010.json")
    assert _local_files(other) == _expected(s3, ["00011", "00012"])
    assert summary.downloaded == 4 and summary.failed == []


def test_missing_image_recorded_not_fatal(s3, tmp_path):
    summary = _run(s3, tmp_path, len(IDS))
    assert ("bin-images/00007.jpg", "image not in the bucket") in summary.failed
    assert summary.downloaded == 2 * len(IDS) - 1
    assert _local_files(tmp_path) == _expected(s3, IDS)


def test_limit_zero_does_nothing(s3, tmp_path):
    summary = _run(s3, tmp_path, 0)
    assert summary == dl.DownloadSummary()
    assert not any(tmp_path.iterdir())


def test_unreachable_endpoint_raises_clear_error(tmp_path):
    endpoint = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    with pytest.raises(DownloadError) as info:
        download_abid(tmp_path, 3, bucket=BUCKET, endpoint_url=endpoint, max_attempts=1)
    msg = str(info.value)
    assert "Cannot reach" in msg and endpoint in msg and "network" in msg
    assert not any(tmp_path.iterdir())


def test_missing_bucket_raises_clear_error(s3, tmp_path):
    with pytest.raises(DownloadError, match="bucket 'no-such-bucket' does not exist"):
        download_abid(tmp_path, 3, bucket="no-such-bucket", endpoint_url=s3["endpoint"])


def test_access_denied_translates_to_clear_error():
    exc = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
         "ResponseMetadata": {"HTTPStatusCode": 403}},
        "ListObjectsV2",
    )
    err = dl._translate(exc, "aft-vbi-pds", "https://s3.us-east-1.amazonaws.com")
    assert isinstance(err, DownloadError)
    assert "Access denied" in str(err) and "aft-vbi-pds" in str(err)
    missing = ClientError({"Error": {"Code": "NoSuchKey"},
                           "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject")
    assert dl._translate(missing, "b", "e") is None  # per-file, not fatal


def test_cancel_stops_early(s3, tmp_path):
    seen = []
    summary = _run(s3, tmp_path, len(IDS), workers=1,
                   progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) > 3)
    assert summary.cancelled
    assert 0 < summary.downloaded < 2 * len(IDS) - 1
    files = _local_files(tmp_path)
    assert not any(name.endswith(".part") for name in files)
    expected = _expected(s3, IDS)
    assert all(files[name] == expected[name] for name in files)  # nothing truncated
    # A later run resumes and completes.
    rest = _run(s3, tmp_path, len(IDS))
    assert rest.skipped == summary.downloaded
    assert _local_files(tmp_path) == expected


def test_cancel_before_start(s3, tmp_path):
    summary = _run(s3, tmp_path, 5, cancel=lambda: True)
    assert summary.cancelled and summary.downloaded == 0


@pytest.mark.parametrize("key,prefix,ok", [
    ("metadata/00001.json", "metadata/", True),
    ("metadata/1234567.json", "metadata/", True),
    ("bin-images/523.jpg", "bin-images/", True),
    ("metadata/12345678.json", "metadata/", False),
    ("metadata/../00001.json", "metadata/", False),
    ("metadata/sub/00001.json", "metadata/", False),
    ("metadata//00001.json", "metadata/", False),
    ("metadata/00001.json/", "metadata/", False),
    ("metadata/00001.json\n", "metadata/", False),
    ("metadata/00001.JSON", "metadata/", False),
    ("metadata/..", "metadata/", False),
    ("bin-images/00001.jpg", "metadata/", False),
    ("metadata/０１.json", "metadata/", False),  # non-ASCII digits
])
def test_safe_name_refuses_untrusted_keys(key, prefix, ok):
    assert (dl._safe_name(key, prefix) is not None) is ok


def test_verification_size_only_for_multipart_etag(tmp_path):
    path = tmp_path / "00001.jpg"
    path.write_bytes(b"abcdef")
    md5 = hashlib.md5(b"abcdef").hexdigest()
    assert dl._is_verified(path, dl._Remote("k", "00001.jpg", 6, md5))
    assert not dl._is_verified(path, dl._Remote("k", "00001.jpg", 6, "0" * 32))
    assert dl._is_verified(path, dl._Remote("k", "00001.jpg", 6, '"0123abcd-3"'))
    assert not dl._is_verified(path, dl._Remote("k", "00001.jpg", 7, '"0123abcd-3"'))
    assert not dl._is_verified(tmp_path / "absent.jpg", dl._Remote("k", "a", 6, md5))
