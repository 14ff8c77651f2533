"""Which device the models will run on, asked of a child Python process so torch never loads in the GUI."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QProcess, QTimer, Signal
from PySide6.QtWidgets import QLabel

SCRIPT = ("import sys\nfrom binaudit.ml.device import choose_device\n"
          "try:\n    d = choose_device(sys.argv[1])\n    print(d)\n"
          "except Exception as e:\n    print('unavailable: %s' % e)\n")


class DeviceProbe(QObject):
    """found(text) with e.g. "cuda", "cpu" or "unavailable: ..."; never blocks the GUI thread."""

    found = Signal(str)

    def __init__(self, requested: str = "auto", parent: QObject | None = None):
        super().__init__(parent)
        self.requested = requested
        self.process = QProcess(self)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(lambda _: self.found.emit("unknown"))

    def start(self) -> None:
        self.process.start(sys.executable, ["-c", SCRIPT, self.requested])

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        text = bytes(self.process.readAllStandardOutput().data()).decode(errors="replace").strip()
        self.found.emit(text.splitlines()[-1] if code == 0 and text else "unknown")

    def stop(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(1000)


def probe_into(label: QLabel, requested: str, parent: QObject, delay_ms: int = 1500) -> DeviceProbe:
    """A probe started after delay_ms (the window paints first) that writes "device: ..." into label."""
    probe = DeviceProbe(requested, parent)
    probe.found.connect(lambda d: label.setText(f"device: {d}"))
    QTimer.singleShot(delay_ms, probe.start)
    return probe
