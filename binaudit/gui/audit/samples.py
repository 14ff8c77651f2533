"""Random-sample audits in the app: draw one (in a worker), read the samples, mark the sampled bins in the list.

The store marks the sampled bins (core.store.audit); the list shows a die beside the id of every bin
of a sample (tooltip: which sample), re-read in a worker whenever the browse index reloads.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import QObject

from binaudit.core.abid.statuses import IMAGE_USABLE_STATUSES
from binaudit.core.audit.loop import draw_sample
from binaudit.core.browse import IMAGE_STATUSES
from binaudit.core.store import Store
from binaudit.gui.audit.dialogs import SampleInfo
from binaudit.gui.browse.browser import BrowserPanel
from binaudit.gui.common import workers
from binaudit.gui.common.resources import icon
from binaudit.gui.common.session import WorkspaceSession


def draw_sample_job(db_path: str, size: int, stratified: bool, user: str) -> int:
    """Draw and store a random sample on a connection of its own (a worker thread); its id."""
    with Store.open(db_path) as store:
        return draw_sample(store, size, stratified=stratified, user=user)


def sample_marks(db_path: str) -> dict[str, str]:
    """Image id -> "In random sample #k" for every sampled bin (the latest sample holding it)."""
    marks: dict[str, str] = {}
    with Store.open(db_path, readonly=True) as store:
        for sample in store.audit_samples():
            for b in store.audit_sample_bins(int(sample["id"])):
                marks[b.image_id] = f"In random sample #{sample['id']} (bin {b.draw_order + 1} of {sample['size']})"
    return marks


class SampleReader:
    """Small reads about samples on the GUI thread (a sample row, its ids; the counts come from the index)."""

    def __init__(self, session: WorkspaceSession):
        self.session = session

    def population(self) -> int:
        """Bins a sample can draw from: a usable photo with a recorded count (the store checks the exact rule)."""
        index = self.session.index
        usable = np.isin(index.status, [IMAGE_STATUSES.index(s) for s in IMAGE_USABLE_STATUSES])
        return int(np.count_nonzero(usable & (index.recorded >= 0)))

    def sample_ids(self, sample_id: int) -> list[str]:
        """The sample's bins in review order (any prefix is a random sample of each stratum)."""
        return [b.image_id for b in self.session.store.audit_sample_bins(sample_id)]

    def latest_info(self) -> SampleInfo | None:
        sample = self.session.store.audit_sample()
        if sample is None:
            return None
        index = self.session.index
        positions = index.positions(self.sample_ids(int(sample["id"])))
        reviewed = int(np.count_nonzero(index.reviewed_mask()[positions]))
        return SampleInfo(int(sample["id"]), int(sample["size"]), reviewed, bool(sample["stratified"]),
                          str(sample["created_at"]), str(sample["created_by"]))


class SampleMarks(QObject):
    """Keeps the list's marks on the sampled bins: re-read after every index load and every new sample."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.session: WorkspaceSession | None = None
        self.browser: BrowserPanel | None = None
        self.marks: dict[str, str] = {}

    def set_session(self, session: WorkspaceSession | None, browser: BrowserPanel | None) -> None:
        if self.session is not None:
            try:
                self.session.indexLoaded.disconnect(self.reload)
            except (RuntimeError, TypeError):
                pass
        self.session, self.browser, self.marks = session, browser, {}
        if session is not None:
            session.indexLoaded.connect(self.reload)

    def reload(self) -> None:
        """Read the sampled bins in a worker, then mark them in the list."""
        session = self.session
        if session is None or session.closed:
            return
        workers.start(sample_marks, str(session.workspace.db_path), on_done=partial(self._apply, session), owner=self)

    def _apply(self, session: WorkspaceSession, marks: dict[str, str]) -> None:
        if session is not self.session or self.browser is None:
            return
        self.marks = marks
        self.browser.model.set_marked(marks, icon("sample"))
