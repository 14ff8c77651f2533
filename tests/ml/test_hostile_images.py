"""Hostile photos: import finishes, every file gets a status and reason, memory stays bounded,
nothing outside the dataset folder is opened, and Pillow only ever parses JPEG."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.paths import REPO

AUDITED_IMPORT = textwrap.dedent("""
    import json, sys
    opened = []
    outside = sys.argv[3]
    def audit(event, args):
        if event == "open" and isinstance(args[0], (str, bytes)):
            path = args[0] if isinstance(args[0], str) else args[0].decode("utf-8", "replace")
            if path.startswith(outside):
                opened.append(path)
    sys.addaudithook(audit)
    import PIL.Image
    real_open = PIL.Image.open
    formats_seen = []
    def checked_open(fp, mode="r", formats=None):
        formats_seen.append(tuple(formats or ()))
        return real_open(fp, mode, formats)
    PIL.Image.open = checked_open
    from binaudit.core.importer import import_dataset
    from binaudit.core.store import Store
    def status_mb(field):  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    with Store.open(sys.argv[2]) as store:
        summary = import_dataset(store, sys.argv[1])
        rows = store.query("SELECT image_id, status, reason FROM images")
        import_peak_mb = status_mb("VmHWM")
        import torch
        from binaudit.ml import modelfiles
        from binaudit.ml.resnet import build_resnet
        from binaudit.ml.scoring import score_images
        torch.set_num_threads(1)
        manifest = modelfiles.save_resnet(build_resnet("resnet18"), sys.argv[4], architecture="resnet18",
                                          input_size=32)
        model_id = modelfiles.register_model_file(store, manifest)
        ready_mb = status_mb("VmRSS")
        scored = score_images(store, model_id, device="cpu", batch_size=16, num_workers=0)
    peak_mb = status_mb("VmHWM")
    print(json.dumps({"rows": rows, "opened_outside": opened, "formats": sorted(set(formats_seen)),
                      "peak_mb": peak_mb, "import_peak_mb": import_peak_mb, "ready_mb": ready_mb, "scanned": summary.scanned,
                      "scoring": {"total": scored.total, "scored": scored.scored, "errors": scored.errors}}))
""")


def test_corpus_is_big_enough(hostile_corpus) -> None:
    _, _, kinds = hostile_corpus
    bad = [k for k in kinds.values() if k != "good"]
    assert len(bad) >= 200


def test_import_survives_hostile_photos(hostile_corpus, tmp_path: Path) -> None:
    root, outside, kinds = hostile_corpus
    result = subprocess.run([sys.executable, "-c", AUDITED_IMPORT, str(root), str(tmp_path / "ws.db"),
                             str(outside.resolve()), str(tmp_path / "models" / "r18")], capture_output=True, text=True, timeout=300,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    rows = {r["image_id"]: r for r in report["rows"]}

    assert report["opened_outside"] == [], "a file outside the dataset folder was opened"
    assert all(fmt == ["JPEG"] for fmt in report["formats"]), report["formats"]
    assert report["import_peak_mb"] < 300, f"import peaked at {report['import_peak_mb']:.0f} MB"
    scoring_growth = report["peak_mb"] - report["ready_mb"]  # above what torch and the model take anyway
    assert scoring_growth < 300, f"scoring grew the process by {scoring_growth:.0f} MB"
    scoring = report["scoring"]
    assert scoring["total"] > 0 and scoring["scored"] + scoring["errors"] == scoring["total"]
    assert all(r["status"] and (r["status"] == "ok" or r["reason"]) for r in rows.values())

    def status_of(name: str) -> str:
        stem = name.split(".")[0]
        return (rows.get(name) or rows[stem])["status"]

    for name, kind in kinds.items():
        if kind == "good" or kind == "damaged scan data":  # a sound header: decoding errors surface at scoring
            assert status_of(name) == "ok", (name, kind)
        elif kind == "metadata without photo":
            assert status_of(name) == "no_image"
        elif kind.startswith("non-UTF-8"):
            continue
        else:
            assert status_of(name) == "unreadable_image", (name, kind, rows.get(name) or rows.get(name.split(".")[0]))
    non_utf8 = [r for i, r in rows.items() if "\\x" in i]
    assert len(non_utf8) == 10 and all("UTF-8" in r["reason"] for r in non_utf8)
    reasons = " ".join(r["reason"] or "" for r in rows.values())
    for fragment in ("truncated", "empty", "PNG", "TIFF", "GIF", "EPS", "outside the dataset", "far beyond"):
        assert fragment in reasons, fragment
    print(f"hostile import+scoring: {len(kinds)} files, {scoring}, import peak {report['import_peak_mb']:.0f} MB, "
          f"torch+model loaded {report['ready_mb']:.0f} MB, scoring peak {report['peak_mb']:.0f} MB")
