"""Photos and thumbnails decoded outside the GUI thread, with LRU caches and prefetch.

Decoding runs in worker processes (`python -m binaudit.gui.browse.decode`, driven through QProcess pipes),
so it never competes with painting for the GIL, a crash in a decoder cannot take the app down, and
the results arrive as ordinary GUI-thread signals. If a process cannot be started the loader falls
back to threads. Thumbnails use JPEG draft mode (the decoder scales by 1/2..1/8), fit the grid
cell's picture box and are converted once to the screen's RGB32 format. Requests are served newest
first (what is on screen now), photos before thumbnails before prefetch; only a few are in flight at
a time, and when the waiting list grows past MAX_PENDING the oldest waiting thumbnails are dropped
(their cells ask again when painted again).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QProcess, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage

from binaudit.gui.browse import decode
from binaudit.gui.common.workers import Task
from binaudit.gui.common.workers import start as start_task

log = logging.getLogger("binaudit.gui")

THUMB_SIDE = 168                 # thumbnails fit THUMB_BOX (the grid cell's picture area), drawn unscaled
THUMB_BOX = (THUMB_SIDE, THUMB_SIDE - 32)
PHOTO_SIDE = 2400
MAX_PENDING = 96
BROKEN = QImage()    # cached for files that cannot be decoded, so they are not retried on every paint
NO_PHOTO = QImage()  # cached for images without a photo file
PHOTO, THUMB, PREFETCH = 2, 1, 0  # request levels


def to_qimage(result: Any) -> QImage:
    """A decode result (see binaudit.gui.browse.decode) as an RGB32 QImage, or BROKEN / NO_PHOTO."""
    if len(result) == 3:
        w, h, data = result
        return QImage(data, w, h, 3 * w, QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)
    if result[0] == "no photo":
        return NO_PHOTO
    log.info("cannot decode: %s", result[1] if len(result) > 1 else result)
    return BROKEN


def decode_image(path: str, box: tuple[int, int]) -> QImage:
    """Decode in this thread (tests, tools)."""
    return to_qimage(decode.decode(path, "", box, None))


Key = tuple[str, str]  # ("t" or "p", image id)
Finish = Callable[[Key, Any], None]


class _ThreadDecoders(QObject):
    """Fallback: decode on a pool of the app's worker tasks (shares the GIL with the GUI; used by tests and
    when processes fail)."""

    def __init__(self, threads: int, finish: Finish, parent: QObject):
        super().__init__(parent)  # owned by the loader: alive as long as queued results can arrive
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.capacity = 2 * threads
        self.finish = finish
        self.tasks: dict[Key, Task] = {}

    @property
    def busy(self) -> int:
        return len(self.tasks)

    def submit(self, key: Key, request: dict[str, Any]) -> None:
        self.tasks[key] = start_task(
            decode.decode, request["path"], request["image_id"], tuple(request["box"]), request["db"],
            on_done=lambda result: self._done(key, result),
            on_error=lambda exc: self._done(key, ("unreadable", str(exc))), pool=self.pool, owner=self)

    def _done(self, key: Key, result: Any) -> None:
        self.tasks.pop(key, None)
        self.finish(key, result)

    def close(self) -> None:
        """Drop the decodes that have not started and wait for the running ones."""
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()
        self.pool.waitForDone()


class _DecoderProcess(QObject):
    """One `python -m binaudit.gui.browse.decode` child; requests and answers travel through its pipes."""

    def __init__(self, finish: Finish, parent: QObject):
        super().__init__(parent)
        self.finish = finish
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._exited)
        self.buffer = bytearray()
        self.header: dict[str, Any] | None = None
        self.inflight: dict[int, Key] = {}
        self.next_id = 0
        self.process.start(sys.executable, ["-m", "binaudit.gui.browse.decode"])

    @property
    def alive(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def submit(self, key: Key, request: dict[str, Any]) -> None:
        self.next_id += 1
        self.inflight[self.next_id] = key
        self.process.write(json.dumps({**request, "id": self.next_id}).encode() + b"\n")

    def _read(self) -> None:
        self.buffer += bytes(self.process.readAllStandardOutput().data())
        while True:
            if self.header is None:
                end = self.buffer.find(b"\n")
                if end < 0:
                    return
                self.header = json.loads(bytes(self.buffer[:end]))
                del self.buffer[: end + 1]
            size = int(self.header["n"])
            if len(self.buffer) < size:
                return
            header, data = self.header, bytes(self.buffer[:size])
            del self.buffer[:size]
            self.header = None
            key = self.inflight.pop(int(header["id"]), None)
            if key is not None:
                result = (header["w"], header["h"], data) if "error" not in header else tuple(header["error"])
                self.finish(key, result)

    def _exited(self, *_: Any) -> None:
        """The decoder died (a hostile file, a kill): its requests are reported unreadable."""
        lost, self.inflight = self.inflight, {}
        if lost:
            log.warning("an image decoder process exited with %d request(s) in flight", len(lost))
        for key in lost.values():
            self.finish(key, ("unreadable", "the decoder process stopped"))

    def close(self) -> None:
        self.inflight.clear()
        if self.alive:
            self.process.closeWriteChannel()  # the child exits at end of input
            if not self.process.waitForFinished(2000):
                self.process.kill()
                self.process.waitForFinished(1000)


class _ProcessDecoders(QObject):
    MAX_RESTARTS = 5

    def __init__(self, workers: int, finish: Finish, parent: QObject):
        super().__init__(parent)
        self.children = [_DecoderProcess(finish, self) for _ in range(workers)]
        self.finish = finish
        self.restarts = 0

    @property
    def broken(self) -> bool:
        """Decoders keep dying: the loader falls back to threads."""
        return self.restarts > self.MAX_RESTARTS

    @property
    def capacity(self) -> int:
        return 2 * len(self.children)

    @property
    def busy(self) -> int:
        return sum(len(c.inflight) for c in self.children)

    def submit(self, key: Key, request: dict[str, Any]) -> None:
        for i, child in enumerate(self.children):
            if not child.alive:  # replace a dead decoder
                self.restarts += 1
                child.deleteLater()
                self.children[i] = _DecoderProcess(self.finish, self)
        min(self.children, key=lambda c: len(c.inflight)).submit(key, request)

    def close(self) -> None:
        for child in self.children:
            child.close()


class _Lru(OrderedDict):
    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity

    def get_item(self, key: str) -> QImage | None:
        image = self.get(key)
        if image is not None:
            self.move_to_end(key)
        return image

    def put(self, key: str, image: QImage) -> None:
        self[key] = image
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class ImageLoader(QObject):
    """Thumbnails and full photos by image id; thumbnailReady / photoReady say when one arrived.

    db_path lets the decoders look up photo paths themselves, so the GUI thread never queries them.
    """

    thumbnailReady = Signal(str)
    photoReady = Signal(str)
    use_processes = True  # tests switch this off to avoid starting processes for every window

    def __init__(self, parent: QObject | None = None, workers: int | None = None,
                 thumb_cache: int = 3000, photo_cache: int = 12, db_path: str | None = None,
                 processes: bool | None = None):
        super().__init__(parent)
        self.db_path = db_path
        # one decoder per spare core, at most 3 (on 2 cores: one decoder beside the GUI thread)
        self.workers = workers or max(1, min(3, (os.cpu_count() or 2) - 1))
        self.processes = self.use_processes if processes is None else processes
        self.thumbs = _Lru(thumb_cache)
        self.photos = _Lru(photo_cache)
        self._waiting: OrderedDict[Key, tuple[str | None, tuple[int, int], int]] = OrderedDict()
        self._inflight: set[Key] = set()
        self._decoders: _ThreadDecoders | _ProcessDecoders | None = None
        self._closed = False

    # ------------------------------------------------------------------ requests
    def thumbnail(self, image_id: str, path: str | None = None) -> QImage | None:
        """The cached thumbnail (BROKEN / NO_PHOTO when there is none), or None after queueing its decode."""
        image = self.thumbs.get_item(image_id)
        if image is None and (path or self.db_path):
            self._request(("t", image_id), path, THUMB_BOX, THUMB)
        return image

    def photo(self, image_id: str, path: str | None, prefetch: bool = False) -> QImage | None:
        image = self.photos.get_item(image_id)
        if image is None and path:
            self._request(("p", image_id), path, (PHOTO_SIDE, PHOTO_SIDE), THUMB if prefetch else PHOTO)
        return image

    def prefetch_thumbnails(self, image_ids: list[str]) -> None:
        for image_id in image_ids:
            if image_id and image_id not in self.thumbs and self.db_path:
                self._request(("t", image_id), None, THUMB_BOX, PREFETCH)

    def _request(self, key: Key, path: str | None, box: tuple[int, int], level: int) -> None:
        if self._closed or key in self._inflight:
            return
        old = self._waiting.pop(key, None)
        self._waiting[key] = (path, box, max(level, old[2]) if old else level)  # newest at the end
        excess = len(self._waiting) - MAX_PENDING
        if excess > 0:
            for stale in [k for k in self._waiting if k[0] == "t"][:excess]:
                del self._waiting[stale]
        self._pump()

    def _pump(self) -> None:
        """Keep a few decodes in flight: the highest level first, the newest request within a level."""
        if not self._waiting or self._closed:
            return
        decoders = self.start()
        if isinstance(decoders, _ProcessDecoders) and decoders.broken:
            log.warning("image decoder processes keep stopping; decoding in threads")
            decoders.close()
            self.processes, self._decoders = False, None
            decoders = self.start()
        while self._waiting and decoders.busy < decoders.capacity:
            best = max(level for _, _, level in self._waiting.values())
            key = next(k for k in reversed(self._waiting) if self._waiting[k][2] == best)
            path, box, _ = self._waiting.pop(key)
            self._inflight.add(key)
            decoders.submit(key, {"path": path, "image_id": key[1], "box": list(box), "db": self.db_path})

    def start(self) -> _ThreadDecoders | _ProcessDecoders:
        """Start the decoders (processes take a moment to spawn: call early, e.g. while the index loads)."""
        if self._decoders is None:
            if self.processes:
                self._decoders = _ProcessDecoders(self.workers, self._finish, self)
                if not all(c.process.waitForStarted(5000) for c in self._decoders.children):
                    log.warning("image decoder processes did not start; decoding in threads")
                    self._decoders.close()
                    self.processes = False
            if not self.processes:
                self._decoders = _ThreadDecoders(self.workers, self._finish, self)
        return self._decoders

    def _finish(self, key: Key, result: Any) -> None:
        self._inflight.discard(key)
        if self._closed:
            return
        image = to_qimage(result)
        kind, image_id = key
        if kind == "t":
            self.thumbs.put(image_id, image)
            self.thumbnailReady.emit(image_id)
        else:
            self.photos.put(image_id, image)
            if image is not BROKEN and image is not NO_PHOTO and image_id not in self.thumbs:
                self.thumbs.put(image_id, image.scaled(THUMB_BOX[0], THUMB_BOX[1], Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
            self.photoReady.emit(image_id)
        self._pump()

    @property
    def pending(self) -> int:
        return len(self._waiting) + len(self._inflight)

    def shutdown(self) -> None:
        """Stop decoding: drop what waits, let running decodes finish, stop the workers."""
        self._closed = True
        self._waiting.clear()
        if self._decoders is not None:
            self._decoders.close()
            self._decoders = None
        self._inflight.clear()
