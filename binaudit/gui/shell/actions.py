"""Every command of the main window as a QAction with its shortcut, and the menus and toolbar built from them.

The window connects the actions' triggered signals; this module only names, groups and binds keys,
so the keyboard map lives in one place (and in Help > Keyboard shortcuts, see dialogs.KEYS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

from binaudit.gui.common.resources import icon


def _action(window: QMainWindow, text: str, shortcuts: tuple[str | QKeySequence.StandardKey, ...] = (),
            tip: str = "", checkable: bool = False, icon_name: str | None = None,
            std_icon: QStyle.StandardPixmap | None = None) -> QAction:
    action = QAction(text, window)
    keys: list[QKeySequence] = []
    for s in shortcuts:
        for k in (QKeySequence.keyBindings(s) if isinstance(s, QKeySequence.StandardKey) else [QKeySequence(s)]):
            if not k.isEmpty() and k not in keys:  # platform bindings may repeat ours: ambiguous shortcuts
                keys.append(k)
    if keys:
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip or keys:
        shown = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys[:2])
        action.setToolTip(f"{tip or text.replace('&', '').rstrip('.')}" + (f"  ({shown})" if shown else ""))
        action.setStatusTip(tip or text.replace("&", ""))
    action.setCheckable(checkable)
    if icon_name:
        action.setIcon(icon(icon_name))
    elif std_icon is not None:
        action.setIcon(window.style().standardIcon(std_icon))
    window.addAction(action)  # shortcuts work even while the menu bar is hidden
    return action


@dataclass
class Actions:
    open_workspace: QAction
    import_dataset: QAction
    open_demo: QAction
    auditor: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    confirm: QAction
    counts: list[QAction]
    enter_count: QAction
    uncountable: QAction
    exclude: QAction
    next_image: QAction
    previous_image: QAction
    grid: QAction
    audit_queue: QAction
    issue_queue: QAction
    blind: QAction
    fit: QAction
    actual_size: QAction
    zoom_in: QAction
    zoom_out: QAction
    reset_adjustments: QAction
    search: QAction
    go_to: QAction
    reload: QAction
    shortcuts: QAction
    about: QAction
    bulk_exclude: QAction
    bulk_uncountable: QAction
    bulk_count: QAction
    retrain_resnet: QAction
    retrain_svm: QAction
    find_lr: QAction
    baselines: QAction
    models: QAction
    export_csv: QAction
    export_json: QAction
    export_metadata: QAction
    export_folders: QAction
    update_queue: QAction
    random_sample: QAction
    queue_settings: QAction
    labelling: list[QAction] = field(default_factory=list)  # enabled only with an image on screen
    workspace: list[QAction] = field(default_factory=list)  # part 2: enabled only with a workspace open


def build_actions(w: QMainWindow) -> Actions:
    """Every command of the window (see _reviewing_actions and _curating_actions), grouped for enabling."""
    a = Actions(**_reviewing_actions(w), **_curating_actions(w))
    a.labelling = [a.confirm, *a.counts, a.enter_count, a.uncountable, a.exclude]
    a.workspace = [a.go_to, a.issue_queue, a.bulk_exclude, a.bulk_uncountable, a.bulk_count, a.retrain_resnet,
                   a.retrain_svm, a.find_lr, a.baselines, a.models, a.export_csv, a.export_json, a.export_metadata,
                   a.export_folders, a.update_queue, a.random_sample]
    for action, short in ((a.open_workspace, "Open"), (a.import_dataset, "Import"), (a.grid, "Grid"),
                          (a.audit_queue, "Audit Queue"), (a.issue_queue, "Label Issues"), (a.blind, "Blind"), (a.previous_image, "Previous"),
                          (a.next_image, "Next"), (a.confirm, "Confirm"), (a.uncountable, "Uncountable"),
                          (a.exclude, "Exclude"), (a.undo, "Undo"), (a.redo, "Redo")):
        action.setIconText(short)  # the toolbar's label; menus show the full text
    return a


def _reviewing_actions(w: QMainWindow) -> dict[str, Any]:
    """Open and import, labelling keys, walking the list, viewing the photo, help."""
    SP = QStyle.StandardPixmap
    return dict(
        open_workspace=_action(w, "&Open Workspace\u2026", (QKeySequence.StandardKey.Open,), "Open a workspace folder",
                               std_icon=SP.SP_DirOpenIcon),
        import_dataset=_action(w, "&Import Dataset Folder\u2026", ("Ctrl+I",),
                               "Import an ABID-layout dataset folder (photos + metadata)", icon_name="import"),
        open_demo=_action(w, "Open &Demo Workspace", (), "Open the demo workspace built by `binaudit demo`"),
        auditor=_action(w, "Auditor &Name\u2026", (), "The name stored with your labels"),
        quit=_action(w, "&Quit", (QKeySequence.StandardKey.Quit, "Ctrl+Q"), "Quit binaudit"),
        undo=_action(w, "&Undo", (QKeySequence.StandardKey.Undo,), "Undo the last label (recorded as an event)",
                     icon_name="undo"),
        redo=_action(w, "&Redo", (QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z", "Ctrl+Y"),
                     "Redo (recorded as an event)", icon_name="redo"),
        confirm=_action(w, "&Confirm Recorded Count", ("C", "Return", "Enter"),
                        "The recorded count is right", icon_name="confirm"),
        counts=[_action(w, f"Count &{n}", (str(n),), f"The bin holds {n} items") for n in range(10)],
        enter_count=_action(w, "E&nter Count\u2026", ("N",), "Type any count, 10 or more too"),
        uncountable=_action(w, "&Uncountable\u2026", ("U",), "No one can count this photo (pick the reason)",
                            icon_name="uncountable"),
        exclude=_action(w, "E&xclude from Training", ("X",), "Keep this photo out of training",
                        icon_name="exclude"),
        next_image=_action(w, "&Next Image", ("J",), "Skip to the next image of the queue", icon_name="next"),
        previous_image=_action(w, "&Previous Image", ("K",), "Back to the previous image", icon_name="previous"),
        grid=_action(w, "Thumbnail &Grid", ("Ctrl+G",), "Switch between the table and the thumbnail grid",
                     checkable=True, icon_name="grid"),
        audit_queue=_action(w, "&Audit Queue", ("Ctrl+Shift+A",),
                            "Walk the bins ranked by mismatch score", checkable=True, icon_name="queue"),
        issue_queue=_action(w, "&Label-Issue Queue", ("Ctrl+Shift+L",),
                            "Walk the bins ranked by label-issue score (labels that are probably wrong)",
                            checkable=True, icon_name="issues"),
        blind=_action(w, "&Blind Review", ("Ctrl+B",), "Hide every count (record, SKUs, models) until you have counted",
                      checkable=True, icon_name="blind"),
        fit=_action(w, "&Fit Photo", ("F",), "Fit the photo to the view"),
        actual_size=_action(w, "&Actual Size", ("A",), "Show the photo at 1:1"),
        zoom_in=_action(w, "Zoom &In", ("+", "=", QKeySequence.StandardKey.ZoomIn), "Zoom in"),
        zoom_out=_action(w, "Zoom &Out", ("-", QKeySequence.StandardKey.ZoomOut), "Zoom out"),
        reset_adjustments=_action(w, "&Reset Brightness and Contrast", ("R",), "Back to the photo as taken"),
        search=_action(w, "&Search\u2026", (QKeySequence.StandardKey.Find,),
                       "Search product names and ASINs, or type a bin id to go to it"),
        go_to=_action(w, "&Go to Bin\u2026", ("Ctrl+L",), "Show a bin by its exact id (1 and 00001 differ)"),
        reload=_action(w, "Re&load", (QKeySequence.StandardKey.Refresh, "F5"), "Reload the workspace"),
        shortcuts=_action(w, "&Keyboard Shortcuts", (QKeySequence.StandardKey.HelpContents, "F1"), "All keys"),
        about=_action(w, "&About binaudit", (), "Version information"),
    )


def _curating_actions(w: QMainWindow) -> dict[str, Any]:
    """Part 2: bulk decisions on selected rows, training, models and exports."""
    return dict(
        bulk_exclude=_action(w, "E&xclude Selected", ("Shift+X",), "Exclude every selected row from training"),
        bulk_uncountable=_action(w, "Mark Selected &Uncountable\u2026", ("Shift+U",),
                                 "Mark every selected row uncountable (one reason for all)"),
        bulk_count=_action(w, "Set Count of &Selected\u2026", ("Shift+N",), "Give every selected row the same count"),
        retrain_resnet=_action(w, "Retrain &ResNet\u2026", (), "Train a ResNet counter on the cleaned labels"),
        retrain_svm=_action(w, "Retrain &SVM\u2026", (), "Train an SVM counter (with out-of-fold probabilities)"),
        find_lr=_action(w, "Find &Learning Rate\u2026", (), "Run the learning-rate range test for a recipe"),
        baselines=_action(w, "Run &Baselines\u2026", (), "Classic baselines: per-class accuracy table"),
        models=_action(w, "&Models\u2026", ("Ctrl+M",), "Every registered model: metrics, run, labels; activate one"),
        export_csv=_action(w, "Audit Results as &CSV\u2026", (), "The reviewed images with labels and predictions"),
        export_json=_action(w, "Audit Results as &JSON\u2026", (), "The reviewed images with labels and predictions"),
        export_metadata=_action(w, "Corrected ABID &Metadata\u2026", (),
                                "Copies of the reviewed metadata files with the audited EXPECTED_QUANTITY"),
        export_folders=_action(w, "Image &Folder per Count\u2026", (),
                               "split/count/id.jpg folders of the trainable photos, for other training tools"),
        update_queue=_action(w, "Up&date the Queue", ("Ctrl+U",),
                             "Fold the verified counts back into the audit queue's order (in the background)",
                             icon_name="update-queue"),
        random_sample=_action(w, "Random-Sample &Audit\u2026", (),
                              "Draw random bins to review: the inventory's record accuracy and the queue's baseline",
                              icon_name="sample"),
        queue_settings=_action(w, "Queue Update &Settings\u2026", (),
                               "How often the queue updates itself, and whether the models are fine-tuned too"),
    )


def build_menus(w: QMainWindow, a: Actions) -> dict[str, QMenu]:
    bar = w.menuBar()
    menus: dict[str, QMenu] = {}
    menus["file"] = m = bar.addMenu("&File")
    m.addActions([a.open_workspace, a.import_dataset, a.open_demo])
    m.addSeparator()
    m.addAction(a.auditor)
    m.addSeparator()
    m.addAction(a.quit)
    menus["edit"] = m = bar.addMenu("&Edit")
    m.addActions([a.undo, a.redo])
    m.addSeparator()
    m.addActions([a.search, a.go_to])
    menus["label"] = m = bar.addMenu("&Label")
    m.addAction(a.confirm)
    counts = m.addMenu("Set &Count")
    counts.addActions(a.counts)
    m.addActions([a.enter_count, a.uncountable, a.exclude])
    m.addSeparator()
    menus["selection"] = sel = m.addMenu("Se&lected Rows")
    sel.addActions([a.bulk_exclude, a.bulk_uncountable, a.bulk_count])
    m.addSeparator()
    m.addActions([a.update_queue, a.random_sample, a.queue_settings])
    m.addSeparator()
    m.addActions([a.next_image, a.previous_image])
    menus["view"] = m = bar.addMenu("&View")
    m.addActions([a.grid, a.audit_queue, a.issue_queue, a.blind])
    m.addSeparator()
    m.addActions([a.fit, a.actual_size, a.zoom_in, a.zoom_out, a.reset_adjustments])
    m.addSeparator()
    m.addAction(a.reload)
    menus["training"] = m = bar.addMenu("&Training")
    m.addActions([a.retrain_resnet, a.retrain_svm, a.find_lr, a.baselines])
    m.addSeparator()
    m.addAction(a.models)
    menus["export"] = m = bar.addMenu("E&xport")
    m.addActions([a.export_csv, a.export_json, a.export_metadata, a.export_folders])
    menus["help"] = m = bar.addMenu("&Help")
    m.addActions([a.shortcuts, a.about])
    return menus


def build_toolbar(w: QMainWindow, a: Actions) -> QToolBar:
    bar = QToolBar("Main", w)
    bar.setObjectName("mainToolbar")
    bar.setIconSize(QSize(20, 20))
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    bar.setMovable(False)
    bar.addActions([a.open_workspace, a.import_dataset])
    bar.addSeparator()
    bar.addActions([a.grid, a.audit_queue, a.issue_queue, a.blind])
    bar.addSeparator()
    bar.addActions([a.previous_image, a.next_image])
    bar.addSeparator()
    bar.addActions([a.confirm, a.uncountable, a.exclude])
    bar.addSeparator()
    bar.addActions([a.undo, a.redo])
    w.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    return bar


def short_text(action: QAction) -> str:
    return action.text().replace("&", "").replace("\u2026", "")


__all__ = ["Actions", "build_actions", "build_menus", "build_toolbar", "short_text", "QIcon"]
