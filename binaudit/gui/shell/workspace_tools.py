"""The window's workspace extras: File > Import Model..., File > Recent Workspaces, the workspace folder
shown in the status bar (click: open it) and File > Show Workspace Folder, the no-model panel over the
list, and the current list handed to Export.

The main window makes one WorkspaceTools and calls opened(workspace) / closed() around each workspace;
everything else is wired here, so the window stays a composer of a few lines.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMainWindow

from binaudit.core.workspace import Workspace
from binaudit.gui.common.formatting import elide_for_status_bar
from binaudit.gui.shell.first_model import FirstModel, first_model_dialog
from binaudit.gui.shell.recent import RecentMenu, add_recent
from binaudit.gui.training.model_import import ModelImporter


class WorkspaceTools(QObject):
    """See the module docstring. `window` is the MainWindow (menus, actions_, statusBar, training, exports)."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window: Any = window
        self.workspace: Workspace | None = None
        self.importer = ModelImporter(lambda model_id: window.training.activate(model_id), window)
        self.first_model = FirstModel(self.train_first_model, self.importer.choose, window.training.show_models, self)
        self.import_model = self._action("Import &Model\u2026", "Ctrl+Shift+I",
                                         "Register a model file exported elsewhere (binaudit models export)")
        self.show_folder = self._action("Show Workspace &Folder", "", "Open the workspace's folder in the file manager")
        self.recent = RecentMenu(window.open_workspace, window)
        self.import_model.triggered.connect(self.importer.choose)
        self.show_folder.triggered.connect(self.open_folder)
        self.importer.message.connect(window.statusBar().showMessage)
        self.importer.imported.connect(lambda _result: self.first_model.schedule())
        window.sb_workspace.linkActivated.connect(lambda _link: self.open_folder())
        self._add_to_file_menu()
        self._enable(False)

    def _action(self, text: str, key: str, tip: str) -> QAction:
        action = QAction(text, self.window)
        if key:
            action.setShortcut(QKeySequence(key))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        self.window.addAction(action)
        return action

    def _add_to_file_menu(self) -> None:
        """Import Model after Import Dataset; Recent Workspaces and Show Folder after Open Demo."""
        menu, a = self.window.menus["file"], self.window.actions_
        actions = menu.actions()
        after_demo = actions[actions.index(a.open_demo) + 1] if a.open_demo in actions[:-1] else None
        menu.insertAction(a.open_demo, self.import_model)
        menu.insertMenu(after_demo, self.recent) if after_demo else menu.addMenu(self.recent)
        menu.insertAction(after_demo, self.show_folder) if after_demo else menu.addAction(self.show_folder)

    def _enable(self, enabled: bool) -> None:
        for action in (self.import_model, self.show_folder):
            action.setEnabled(enabled)

    # ------------------------------------------------------------------ workspace lifecycle
    def opened(self, workspace: Workspace) -> None:
        """A workspace is on screen: remember it, show where it lives, follow its list."""
        window = self.window
        self.workspace = workspace
        add_recent(workspace)
        self.importer.set_workspace(workspace)
        self.first_model.attach(window.session, window.browser)
        window.exports.shown_ids = lambda: _shown_ids(window)
        root = str(workspace.root)
        window.sb_workspace.setText(f'<a href="{html.escape(QUrl.fromLocalFile(root).toString())}">'
                                    f'{html.escape(elide_for_status_bar(root, window.sb_workspace, 180))}</a>')
        window.sb_workspace.setToolTip(f"{workspace.db_path}\nClick to open the folder")  # the whole path
        self._enable(True)

    def closed(self) -> None:
        """The workspace is closing."""
        self.first_model.detach()
        self.importer.set_workspace(None)
        self.window.exports.shown_ids = None
        self.workspace = None
        self._enable(False)

    # ------------------------------------------------------------------ commands
    def open_folder(self) -> bool:
        """Show the workspace folder in the desktop's file manager."""
        if self.workspace is None:
            return False
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.workspace.root))))

    def train_first_model(self, estimate_text: str) -> Any:
        """The Training setup with the SVM preselected and the estimate on top; starts the run when accepted."""
        proc = self.window.training.setup("svm", prepare=lambda dialog: first_model_dialog(dialog, estimate_text))
        if proc is None:
            return None
        proc.ended.connect(lambda _state: self.first_model.schedule())  # a registered model: activate it next
        return proc


def _shown_ids(window: Any) -> list[str]:
    """The image ids of the list as it is shown (filters, queue, chart selection), in its order."""
    browser = window.browser
    if browser is None or window.session is None or not window.session.loaded:
        return []
    ids = window.session.index.ids[browser.model.view]
    return [i.decode("utf-8") for i in ids]
