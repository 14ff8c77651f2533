"""No model yet, no dead end: a panel in the list area that says what to do and offers it.

When a review queue is on and empty because no active model has scored the bins, the panel covers
the list: "Train a model now" opens the Training setup with the SVM (the sensible CPU recipe) and
a time estimate from the number of labelled photos; "Import a model file..." runs File > Import
Model.... Without a queue, on a workspace with no active model, it shows compactly at the bottom of the
list (and can be dismissed) so the way to a queue is visible from the first minute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from binaudit.core.store import Store
from binaudit.core.train_estimate import TrainEstimate, store_svm_estimate
from binaudit.gui.common import workers
from binaudit.gui.common.session import WorkspaceSession

NO_MODEL, INACTIVE, UNSCORED = "none", "inactive", "unscored"
TEXTS = {
    NO_MODEL: ("No model yet, so there is no review queue",
               "The queues rank bins by how much a counting model disagrees with the recorded count. Train "
               "one here on this computer's CPU, or import a model file trained elsewhere (for example on a GPU "
               "server, written by `binaudit models export`)."),
    INACTIVE: ("No active model, so the queue is empty",
               "This workspace has models, but none is active. Activate one in Training > Models (it scores "
               "every photo first), train a new one, or import a model file."),
    UNSCORED: ("The active model has not scored these bins",
               "Activate it again in Training > Models: that scores every photo, then fills the queue."),
}


def _estimate(db_path: str) -> TrainEstimate:
    with Store.open(db_path, readonly=True) as store:
        return store_svm_estimate(store)


def model_state(session: WorkspaceSession) -> str | None:
    """Why no model can fill a queue (NO_MODEL, INACTIVE, UNSCORED), or None when an active model has scores."""
    index = session.index
    if any(bool(np.any(index.models[k].predicted >= 0)) for k in index.model_kinds()):
        return None
    if not session.store.list_models():
        return NO_MODEL
    return UNSCORED if index.model_kinds() else INACTIVE


class NoModelPanel(QFrame):
    """The panel itself: what is wrong, what to do, and a button for each way out."""

    trainRequested = Signal()
    importRequested = Signal()
    modelsRequested = Signal()

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("noModelPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.title = QLabel(objectName="queueTitle", wordWrap=True)
        self.text = QLabel(wordWrap=True)
        self.estimate = QLabel("Training estimate: counting the labelled photos\u2026", wordWrap=True)
        self.estimate.setObjectName("hint")
        self.train = QPushButton("Train a model now")
        self.import_ = QPushButton("Import a model file\u2026")
        self.models = QPushButton("Models\u2026")
        self.dismiss = QToolButton(text="\u2715", toolTip="Hide this until the workspace is opened again")
        self.train.clicked.connect(self.trainRequested)
        self.import_.clicked.connect(self.importRequested)
        self.models.clicked.connect(self.modelsRequested)
        buttons = QHBoxLayout()
        for button in (self.train, self.import_, self.models):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.dismiss)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (self.title, self.text, self.estimate):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.stretch_end = layout.count()
        layout.addStretch(2)
        self.state: str | None = None
        self.compact = False

    def set_state(self, state: str, compact: bool) -> None:
        """Say what the state means; compact: one line and the buttons, at the bottom of the list."""
        self.state, self.compact = state, compact
        title, text = TEXTS[state]
        self.title.setText(title)
        self.text.setText(text)
        self.text.setVisible(not compact)
        self.estimate.setVisible(not compact)  # compact: the Train button's tooltip carries it
        self.models.setVisible(state != NO_MODEL)
        self.dismiss.setVisible(compact)

    def set_estimate(self, estimate: TrainEstimate) -> None:
        self.estimate.setText(f"Train a model now: the SVM on this computer's CPU, {estimate.describe()}.")
        self.estimate.setToolTip(estimate.basis())
        self.train.setToolTip(f"Opens the training setup with the SVM preselected ({estimate.describe()})")


class FirstModel(QObject):
    """Keeps the panel over the open workspace's list and runs its buttons.

    train(estimate text) opens the training setup; import_model() and show_models() are the window's commands.
    """

    def __init__(self, train: Callable[[str], Any], import_model: Callable[[], Any], show_models: Callable[[], Any],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.train, self.import_model, self.show_models = train, import_model, show_models
        self.session: WorkspaceSession | None = None
        self.browser: Any = None
        self.panel: NoModelPanel | None = None
        self.estimate: TrainEstimate | None = None
        self.dismissed = False
        self._pending = False

    def attach(self, session: WorkspaceSession, browser: Any) -> NoModelPanel:
        """Put a (hidden) panel over this workspace's list and follow what the list shows."""
        self.detach()
        self.session, self.browser, self.estimate, self.dismissed = session, browser, None, False
        panel = self.panel = NoModelPanel(browser.stack)
        panel.hide()
        panel.trainRequested.connect(lambda: self.train(self.estimate_text()))
        panel.importRequested.connect(self.import_model)
        panel.modelsRequested.connect(self.show_models)
        panel.dismiss.clicked.connect(self._dismiss)
        browser.stack.installEventFilter(self)
        session.indexLoaded.connect(self.schedule)
        browser.model.modelReset.connect(self.schedule)
        browser.viewChanged.connect(self.schedule)
        return panel

    def detach(self) -> None:
        """The workspace is closing: the panel goes with its list."""
        if self.browser is not None:
            self.browser.stack.removeEventFilter(self)
        self.session = self.browser = self.panel = None

    def estimate_text(self) -> str:
        return self.estimate.describe() if self.estimate is not None else ""

    def schedule(self) -> None:
        """Update once the list has settled (several signals arrive for one change)."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.update_panel)

    def update_panel(self) -> None:
        """Show the panel (full or compact) when no model can fill a queue, else hide it."""
        self._pending = False
        session, browser, panel = self.session, self.browser, self.panel
        if session is None or panel is None or session.closed or not session.loaded:
            return
        state = model_state(session)
        queue_on = browser.model.queue is not None
        compact = not (queue_on and browser.shown_count() == 0)
        if state is None or (compact and (self.dismissed or state == UNSCORED)):
            panel.hide()
            return
        panel.set_state(state, compact)
        self._place()
        panel.show()
        panel.raise_()
        if self.estimate is None:
            workers.start(_estimate, str(session.workspace.db_path), on_done=self._estimated, owner=panel)

    def _estimated(self, estimate: TrainEstimate) -> None:
        self.estimate = estimate
        if self.panel is not None:
            self.panel.set_estimate(estimate)
            if self.panel.isVisible():
                self._place()

    def _dismiss(self) -> None:
        self.dismissed = True
        self.update_panel()

    def _place(self) -> None:
        panel, stack = self.panel, self.browser.stack
        if panel.compact:
            layout = panel.layout()
            wanted = layout.totalHeightForWidth(stack.width()) if layout.hasHeightForWidth() else -1
            height = min(max(wanted, panel.sizeHint().height()), stack.height())
            panel.setGeometry(0, stack.height() - height, stack.width(), height)
        else:
            panel.setGeometry(stack.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.panel is not None and event.type() == QEvent.Type.Resize and self.panel.isVisible():
            self._place()
        return False


def first_model_dialog(dialog: QDialog, estimate_text: str) -> QDialog:
    """The training setup (SVM preselected) with what it is for and how long it should take on top."""
    dialog.setWindowTitle("Train a first model (SVM, on the CPU)")
    note = QLabel(("<b>A first model for the review queues.</b> The SVM trains on this computer's CPU; "
                   + (f"{estimate_text}." if estimate_text else "it takes about a minute per 7,000 labelled photos (an estimate).")
                   + " When it finishes, compare and activate it; activating scores every photo."), wordWrap=True)
    note.setTextFormat(Qt.TextFormat.RichText)
    dialog.layout().insertWidget(0, note)
    dialog.note = note  # type: ignore[attr-defined]
    return dialog
