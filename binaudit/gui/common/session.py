"""The open workspace: its store connections, the browse index (loaded in a worker), and change polling."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from binaudit.core.browse import BrowseIndex
from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.labels import LabelEvent
from binaudit.core.store import Store, StoreError
from binaudit.core.workspace import Workspace
from binaudit.gui.common import workers

log = logging.getLogger("binaudit.gui")
POLL_MS = 2000


def _load_index(db_path: str, progress: Any) -> BrowseIndex:
    with Store.open(db_path, readonly=True) as reader:
        index = BrowseIndex.load(reader, progress=progress)
    index.warm()  # the float sorts (audit queue, confidences) take tens of ms each: not on the GUI thread
    return index


class WorkspaceSession(QObject):
    """Everything one open workspace needs, shared by the panels.

    Connections: `store` is used on the GUI thread for small reads (one image, its history);
    `writer` only by the single label-writer thread (`write_pool`), so an fsync never holds the
    GUI thread's connection; loading the browse index opens a read-only connection of its own.
    """

    indexLoading = Signal()
    indexLoaded = Signal()
    indexProgress = Signal(int, int)
    indexFailed = Signal(str)
    rowsChanged = Signal(list)        # image ids whose label columns were refreshed in the index
    externalEvents = Signal(list)     # LabelEvents written by someone else (another app instance)

    def __init__(self, workspace: Workspace, parent: QObject | None = None, poll_ms: int = POLL_MS):
        super().__init__(parent)
        self.workspace = workspace
        self.readonly = False
        try:
            self.store = Store.open(workspace.db_path)
        except StoreError:
            self.store = Store.open(workspace.db_path, readonly=True)
            self.readonly = True
        self.writer: Store | None = None if self.readonly else Store.open(workspace.db_path)
        self.write_pool = QThreadPool(self)
        self.write_pool.setMaxThreadCount(1)
        self.index = BrowseIndex()
        self.loaded = False
        self._loading: workers.Task | None = None
        self.own_event_ids: set[int] = set()
        self._closed = False
        self._load_from_event = 0
        self.last_seen_event = self.store.last_event_id()
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(poll_ms)
        self.poll_timer.timeout.connect(self.poll)
        if poll_ms > 0:
            self.poll_timer.start()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ index
    def load_index(self) -> None:
        """(Re)load the browse index in a worker; indexLoaded fires on the GUI thread when it is ready."""
        if self._loading is not None or self._closed:
            return
        self.indexLoading.emit()
        progress = workers.TaskSignals()
        progress.progress.connect(self.indexProgress)
        self._progress_signals = progress
        self._load_from_event = self.store.last_event_id()
        self._loading = workers.start(_load_index, str(self.workspace.db_path),
                                      lambda done, total: progress.progress.emit(done, total),
                                      on_done=self._index_ready, on_error=self._index_failed, owner=self)

    def _index_ready(self, index: BrowseIndex) -> None:
        self._loading = None
        if self._closed:
            return
        # labels written while the index was loading may be missing from its snapshot
        late = self.store.events_since(self._load_from_event)
        if late:
            index.refresh(self.store, list(dict.fromkeys(e.image_id for e in late)))
        self.index = index
        self.loaded = True
        self.indexLoaded.emit()

    def _index_failed(self, exc: BaseException) -> None:
        self._loading = None
        if self._closed:
            return
        log.error("loading the browser failed: %s", getattr(exc, "__traceback_text__", exc))
        self.indexFailed.emit(str(exc))

    def refresh_rows(self, image_ids: list[str]) -> None:
        """Re-read a few images' label columns (after a relabel) and tell the views."""
        if self._closed:
            return
        if self.loaded and image_ids:
            self.index.refresh(self.store, image_ids)
        self.rowsChanged.emit(list(image_ids))

    # ------------------------------------------------------------------ other auditors
    def poll(self) -> list[LabelEvent]:
        """Pick up label events written since we last looked; refresh their rows; report others' events."""
        if self._closed:
            return []
        try:
            events = self.store.events_since(self.last_seen_event)
        except Exception as exc:  # a busy or vanished database must not break the timer
            log.warning("polling for label changes failed: %s", exc)
            return []
        if not events:
            return []
        self.last_seen_event = max(e.id for e in events)
        foreign = [e for e in events if e.id not in self.own_event_ids]
        changed = list(dict.fromkeys(e.image_id for e in events))
        self.refresh_rows(changed)
        if foreign:
            self.externalEvents.emit(foreign)
        return foreign

    # ------------------------------------------------------------------ info
    def active_models(self) -> dict[str, dict[str, Any] | None]:
        return {kind: self.store.active_model(kind) for kind in MODEL_KINDS}

    def image_paths(self, image_ids: list[str]) -> dict[str, str]:
        return self.store.image_paths(image_ids)

    def close(self) -> None:
        self._closed = True
        self.poll_timer.stop()
        if self._loading is not None:
            self._loading.cancel()
        self.write_pool.waitForDone(10_000)
        for store in (self.writer, self.store):
            if store is not None:
                try:
                    store.close()
                except Exception as exc:
                    log.warning("closing the workspace: %s", exc)
