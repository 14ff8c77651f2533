"""Getting started from the command line: the exact next command when a workspace has no model, readable
workspace names, the xcb library check before any window, exit codes without a display, the demo opening
before its rescan, and progress that does not flood a log file."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import shlex
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from binaudit.cli import app as cli_app
from binaudit.cli import display_check, main
from binaudit.core.progress import progress_bar
from binaudit.core.store import Store
from binaudit.core.train_estimate import duration_text, svm_estimate


def _refusal(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return str(exc.value.code)


def test_queue_and_score_without_a_model_print_the_exact_next_commands(synth_store: Store) -> None:
    ws = shlex.quote(str(synth_store.path.parent))
    for command in ("queue", "score"):
        message = _refusal([command, "--db", str(synth_store.path.parent)])
        assert f"\n  python -m training svm --db {ws}\n" in message, message
        assert f"\n  binaudit models import FILE --db {ws} --activate\n" in message
        assert "an estimate: about" in message and "labelled photos" in message


def test_queue_names_the_model_to_activate_then_the_score_command(synth_store: Store) -> None:
    ws = shlex.quote(str(synth_store.path.parent))
    model_id = synth_store.register_model(kind="svm", architecture="svm-rbf", classes=list(range(6)),
                                          path="m.npz", sha256="0" * 64)
    message = _refusal(["queue", "--db", str(synth_store.path.parent)])
    assert f"\n  binaudit models activate {model_id} --db {ws}\n" in message, message
    synth_store.activate_model(model_id)
    message = _refusal(["queue", "--db", str(synth_store.path.parent)])
    assert message.endswith(f"\n  binaudit score --active --db {ws}"), message


def test_the_estimate_grows_with_the_photos_and_says_it_is_one() -> None:
    small, real, big = svm_estimate(500, 350), svm_estimate(6812, 4663), svm_estimate(60000, 42000)
    assert small.seconds < real.seconds < big.seconds
    assert 40 <= real.seconds <= 90  # the measured run took 62 s
    assert real.describe() == "an estimate: about 60 s for 6,812 labelled photos"
    assert duration_text(600) == "10 min" and duration_text(4 * 3600) == "4.0 h"


def test_import_says_where_the_workspace_went_and_takes_a_readable_name(
        sample_dir: Path, synth_dataset: Path, private_data_home: Path, capsys) -> None:
    assert main(["import", str(sample_dir), "--name", "north aisle", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    root = private_data_home / "workspaces" / "north aisle"
    assert (root / "workspace.db").exists()
    assert f"workspace: {root}\n" in out and f"binaudit gui {shlex.quote(str(root))}" in out
    assert "python -m training svm --db" in out  # no model yet: what to do next
    assert main(["import", str(sample_dir), "--name", "north aisle", "--workers", "1"]) == 0  # same data again
    refusal = _refusal(["import", str(synth_dataset), "--name", "north aisle"])
    assert "already used for" in refusal and str(sample_dir) in refusal
    with Store.open(root / "workspace.db") as store:
        assert store.count_images() == 12  # nothing of the other dataset got in
    assert "cannot name a workspace" in _refusal(["import", str(sample_dir), "--name", "../escape"])


def test_a_name_on_a_workspace_made_without_it_is_refused_for_another_dataset(
        sample_dir: Path, synth_dataset: Path, private_data_home: Path) -> None:
    root = private_data_home / "workspaces" / "older"
    assert main(["import", str(sample_dir), "--db", str(root), "--workers", "1"]) == 0
    assert "already used for another dataset" in _refusal(["import", str(synth_dataset), "--name", "older"])


def test_xcb_check_names_the_missing_library_and_its_packages() -> None:
    missing = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    advice = display_check.check_xcb({"DISPLAY": ":0"}, "linux", found=lambda soname: soname not in missing)
    assert advice is not None
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in advice
    assert "sudo dnf install xcb-util-keysyms xcb-util-wm\n" in advice
    assert "libxcb-cursor0" not in advice  # Qt's own message would have blamed this one
    assert display_check.check_xcb({"DISPLAY": ":0"}, "linux", found=lambda s: True) is None


@pytest.mark.parametrize("environ, xcb", [
    ({"DISPLAY": ":0"}, True), ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, True),
    ({"QT_QPA_PLATFORM": "xcb"}, True), ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, False),
    ({}, False), ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
    ({"DISPLAY": ":0", "BINAUDIT_SKIP_LIBRARY_CHECK": "1"}, None),
])
def test_the_check_runs_only_when_qt_will_use_xcb(environ: dict, xcb: bool) -> None:
    if xcb is None:  # the escape hatch
        assert display_check.check_xcb(environ, "linux", found=lambda s: False) is None
        return
    assert display_check.platform_is_xcb(environ, "linux") is xcb
    assert display_check.platform_is_xcb(environ, "darwin") is False


def test_gui_with_a_missing_library_exits_1_before_any_qapplication(monkeypatch, capsys) -> None:
    import binaudit.gui.shell.app as shell_app

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv(display_check.SKIP_ENV, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(display_check, "system_finder", lambda environ: lambda s: s != "libxcb-icccm.so.4")
    monkeypatch.setattr(shell_app, "run_app", lambda *a, **k: pytest.fail("the app must not start"))
    assert main(["gui"]) == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4" in err and "sudo apt-get install libxcb-icccm4\n" in err


def _headless_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "BINAUDIT_HOME": str(home), "OMP_NUM_THREADS": "1"}


def test_headless_demo_exits_nonzero_unless_no_gui(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "binaudit.cli", "demo", "--n", "12", "--no-train"]
    env = _headless_env(tmp_path / "home")
    shown = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert shown.returncode == 1, shown.stderr
    assert "no display" in shown.stderr and "--no-gui" in shown.stderr
    built = subprocess.run([*run, "--no-gui"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    assert "\r" not in built.stderr  # not a terminal: plain progress lines


def test_existing_demo_opens_the_window_before_its_rescan(monkeypatch, private_data_home: Path) -> None:
    import binaudit.demo
    import binaudit.gui.shell.app as shell_app

    assert main(["demo", "--n", "12", "--no-train", "--no-gui"]) == 0
    events: list[str] = []
    real_build = binaudit.demo.build_demo
    monkeypatch.setattr(binaudit.demo, "build_demo", lambda **kw: (events.append("rescan"), real_build(**kw))[1])

    def window(workspace, background=None) -> int:
        events.append(f"window {workspace.root.name}")
        events.append(f"changed {background()}")  # what the app runs in a worker once the window shows
        return 0

    monkeypatch.setattr(shell_app, "run_app", window)
    monkeypatch.setattr(cli_app, "cannot_open_window", lambda workspace: None)
    assert main(["demo", "--n", "12", "--no-train"]) == 0
    assert events == ["window demo", "rescan", "changed False"]


def test_progress_on_a_non_terminal_is_a_few_plain_lines() -> None:
    stream = io.StringIO()
    with progress_bar("import bins", "files", stream=stream) as update:
        for done in range(0, 10_001, 3):
            update(done, 10_000)
        update(10_000, 10_000)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and 2 <= len(lines) <= 6, lines
    assert lines[-1] == "import bins: 10,000 / 10,000 files (100%)"


def test_progress_on_a_terminal_is_a_redrawn_bar() -> None:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    with os.fdopen(follower, "w") as terminal:
        with progress_bar("import bins", "files", stream=terminal) as update:
            for done in range(0, 101, 10):
                update(done, 100)
    chunks = []
    while select.select([leader], [], [], 0.2)[0]:
        try:
            chunks.append(os.read(leader, 65536))
        except OSError:  # EIO: everything written was read and the terminal's other end is closed
            break
    os.close(leader)
    drawn = b"".join(chunks).decode(errors="replace")
    assert "\r" in drawn and "100/100" in drawn
