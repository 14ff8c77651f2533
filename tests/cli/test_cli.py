"""The `binaudit` command package: `info` reads as tables; import, info and models load neither torch nor Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from binaudit.cli import main
from binaudit.core.store import Store

METRICS = {"accuracy": 0.5567, "rmse": 0.9312, "split": "test", "per_class": {"0": {"accuracy": 0.9, "support": 3}}}


def _workspace(store: Store) -> Path:
    """The fixture store with a few images, one label event and one registered, active model."""
    store.upsert_images([{"image_id": f"{i:05d}", "path": None, "recorded_count": i % 4,
                          "status": "ok" if i % 3 else "inconsistent", "split": "train"} for i in range(9)], {})
    store.record_label("00001", user="ann", status="confirmed", count=1, expected_event_id=None)
    model_id = store.register_model(kind="svm", architecture="svm-rbf", classes=list(range(6)), path="m.npz",
                                    sha256="0" * 64, name="tiny svm", metrics=METRICS)
    store.activate_model(model_id)
    return store.path


def test_info_prints_tables_not_dicts(store: Store, capsys) -> None:
    db = _workspace(store)
    assert main(["info", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "per_class" not in out
    lines = out.splitlines()
    images = {line.rsplit(None, 1)[0].strip(): line.split()[-1] for line in lines[2:8] if line.strip()}
    assert images["ok"] == "6" and images["inconsistent"] == "3" and images["all images"] == "9"
    assert images["label events"] == "1"
    model = next(line for line in lines if line.lstrip().startswith("1 "))
    assert model.split()[1:4] == ["svm", "svm-rbf", "0-5"] and "55.7%" in model and "0.931" in model


def test_store_only_commands_import_neither_torch_nor_qt(store: Store, sample_dir: Path, tmp_path: Path) -> None:
    db, fresh = str(_workspace(store)), str(tmp_path / "imported")
    code = ("import sys; from binaudit.cli import main; "
            f"assert main(['import', {str(sample_dir)!r}, '--db', {fresh!r}, '--workers', '1']) == 0; "
            f"assert main(['info', '--db', {db!r}]) == 0; assert main(['models', '--db', {db!r}]) == 0; "
            "bad = [m for m in ('torch', 'PySide6') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "svm-rbf" in result.stdout


def test_python_dash_m_runs_the_command(binaudit_cli) -> None:
    result = binaudit_cli("--version", timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("binaudit ")


def test_synth_takes_the_inconsistent_share(tmp_path, capsys) -> None:
    import json

    import pytest

    from binaudit.cli import main

    out = tmp_path / "bins"
    assert main(["synth", str(out), "--n", "40", "--seed", "2", "--mismatch-rate", "0.5",
                 "--inconsistent-share", "1", "--scale", "0.3"]) == 0
    variances = [t["variance"] for t in json.loads((out / "truth.json").read_text())["images"].values()]
    assert variances.count("inconsistent") == 20 and variances.count("consistent") == 0
    assert "20 of them contradicting their own SKU list" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="inconsistent_share must be within"):
        main(["synth", str(tmp_path / "bad"), "--n", "3", "--inconsistent-share", "2"])
