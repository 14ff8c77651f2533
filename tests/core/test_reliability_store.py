"""What binaudit promises about labels: crash safety, two writers, disk full, read-only, network filesystems."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from binaudit.core.store import ReadOnlyStoreError, Store, StoreError
from binaudit.core.workspace import network_filesystem_warning
from tests.support import relabel_script

IDS = [f"{i:05d}" for i in range(1, 41)]


def make_workspace(path: Path) -> Path:
    with Store.open(path) as store:
        rows = [{"image_id": i, "path": f"/data/{i}.jpg", "status": "ok", "split": "train", "recorded_count": 3}
                for i in IDS]
        store.upsert_images(rows, {})
    return path


def start_script(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, relabel_script.__file__, str(db), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def assert_cache_matches_events(store: Store) -> None:
    """Each image's effective label equals its latest event (the cache was written with the event)."""
    latest = {r["image_id"]: r for r in store.query(
        "SELECT e.* FROM label_events e JOIN (SELECT image_id, max(id) AS id FROM label_events GROUP BY image_id) m "
        "ON e.id = m.id")}
    for image_id, event in latest.items():
        label = store.effective_label(image_id)
        assert (label.event_id, label.count) == (event["id"], event["count"])


def test_sigkill_never_loses_an_acknowledged_label(tmp_path: Path) -> None:
    db = make_workspace(tmp_path / "crash.db")
    rng = random.Random(1234)
    acknowledged: dict[int, int] = {}  # script label number -> event id
    begun: set[int] = set()
    kills = 0
    next_k = 0
    while kills < 20 or len(acknowledged) < 1000:
        proc = start_script(db, "--ids", ",".join(IDS), "--n", "100000", "--seed", str(kills),
                            "--start", str(next_k), "--user", f"crash{kills}")
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(proc.stdout,), daemon=True)
        reader.start()
        time.sleep(0.4 + rng.random() * 0.8)  # interpreter start-up, then some labels, then a random moment
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        kills += 1
        for line in lines:
            parts = line.split()
            if parts and parts[0] == "begin":
                begun.add(int(parts[1]))
            elif parts and parts[0] == "ack":
                acknowledged[int(parts[1])] = int(parts[2])
            elif parts and parts[0] == "error":
                pytest.fail(line)
        next_k = max(begun, default=-1) + 1
        with Store.open(db) as store:
            assert store.integrity_check() == "ok"
            stored = {e["id"]: e for e in store.query("SELECT id, predictions FROM label_events")}
            for k, event_id in acknowledged.items():
                assert event_id in stored, f"acknowledged label {k} (event {event_id}) lost after kill {kills}"
            stored_ks = {json.loads(e["predictions"])["script"]["k"] for e in stored.values()}
            assert stored_ks <= begun, "a label that was never started is in the store"
            assert len(stored_ks - set(acknowledged)) <= kills, "more than one in-flight label per kill"
            assert_cache_matches_events(store)
    assert kills >= 20 and len(acknowledged) >= 1000
    print(f"crash safety: {kills} SIGKILLs, {len(acknowledged)} acknowledged labels, none lost")


def test_two_writers_detect_every_stale_edit_and_store_everything(tmp_path: Path) -> None:
    db = make_workspace(tmp_path / "two.db")
    overlap = ",".join(IDS[:12])  # few images, so the two auditors collide often
    procs = [start_script(db, "--ids", overlap, "--n", "500", "--seed", str(s), "--user", f"auditor{s}",
                          "--think-ms", "3") for s in (1, 2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    acks, stale = [], 0
    for (out, err), proc in zip(outputs, procs):
        assert proc.returncode == 0, out[-2000:] + err[-2000:]
        assert "locked" not in out + err
        for line in out.splitlines():
            parts = line.split()
            if parts[0] == "ack":
                acks.append((int(parts[2]), None if parts[3] == "None" else int(parts[3])))
            stale += parts[0] == "stale"
    assert len(acks) == 1000
    with Store.open(db) as store:
        assert store.event_count() == 1000
        for event_id, expected in acks:
            # The label was applied on top of exactly the label its author saw, never over a newer one.
            assert store.get_event(event_id).previous_event_id == expected
        assert_cache_matches_events(store)
    assert stale > 0, "the two writers never collided; the test would prove nothing"
    print(f"two writers: 1000 events stored, {stale} stale edits detected and re-applied knowingly")


def test_disk_full_gives_a_clear_message_and_keeps_saved_labels(tmp_path: Path) -> None:
    db = make_workspace(tmp_path / "full.db")
    with Store.open(db) as store:
        store.record_label(IDS[0], user="ann", status="corrected", count=5)
        pages = store.db.conn.execute("PRAGMA page_count").fetchone()[0]
        store.db.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLITE_FULL
        with pytest.raises(StoreError, match="disk is full"):
            for i in range(2000):
                store.record_label(IDS[i % len(IDS)], user="ann", status="uncountable",
                                   reason="x" * 2000)
    with Store.open(db) as store:
        assert store.effective_label(IDS[0]).count == 5
        assert store.integrity_check() == "ok"


def _mount_tmpfs(path: Path, size: str, extra: str = "") -> bool:
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",{extra}" if extra else "")
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.fixture
def small_filesystem(tmp_path: Path):
    mount = tmp_path / "small"
    if os.geteuid() != 0 or not _mount_tmpfs(mount, "600k"):
        pytest.skip("needs root to mount a size-limited tmpfs (the injected-full test above still runs)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


def test_really_full_filesystem(small_filesystem: Path) -> None:
    db = make_workspace(small_filesystem / "ws.db")
    with Store.open(db) as store:
        saved = store.record_label(IDS[1], user="ann", status="corrected", count=7)
        ballast = open(small_filesystem / "ballast", "wb", buffering=0)  # fill the disk to the last byte
        try:
            while True:
                ballast.write(b"\0" * 4096)
        except OSError:
            ballast.close()
        with pytest.raises(StoreError, match="disk is full|I/O error") as info:
            for i in range(5000):
                store.record_label(IDS[i % len(IDS)], user="ann", status="uncountable", reason="y" * 3000)
        assert "not saved" in str(info.value)
    (small_filesystem / "ballast").unlink()
    with Store.open(db) as store:
        assert store.get_event(saved.id).count == 7
        assert store.integrity_check() == "ok"


def test_read_only_folder_is_refused_clearly_and_browsable(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    if os.geteuid() != 0 or not _mount_tmpfs(mount, "4m"):
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        db = make_workspace(mount / "ws.db")
        with Store.open(db) as store:
            store.record_label(IDS[2], user="ann", status="corrected", count=1)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        with pytest.raises(ReadOnlyStoreError, match="not writable"):
            Store.open(db)
        with Store.open(db, readonly=True) as store:
            assert store.effective_label(IDS[2]).count == 1
            with pytest.raises(ReadOnlyStoreError, match="read-only"):
                store.record_label(IDS[2], user="ann", status="corrected", count=2)
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_network_filesystem_warning() -> None:
    mounts = ("/dev/vda / ext4 rw 0 0\n"
              "server:/export /mnt/share nfs4 rw 0 0\n"
              "//nas/bins /mnt/nas cifs rw 0 0\n")
    assert "network filesystem (nfs4)" in network_filesystem_warning(Path("/mnt/share/ws"), mounts)
    assert "cifs" in network_filesystem_warning(Path("/mnt/nas/a/b"), mounts)
    assert network_filesystem_warning(Path("/home/ann/ws"), mounts) is None
