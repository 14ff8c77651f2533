"""The desktop app (PySide6 only): thin widgets over Qt-free models, slow work in worker threads.

Layout (each file is one piece of the window):
  app.py          run_app(): QApplication, style, error hook, the window
  main_window.py  MainWindow: composes panels, menus, toolbar, status bar; computes nothing
  actions.py      every QAction with its shortcut, grouped into menus
  session.py      WorkspaceSession: the open workspace's stores, browse index, change polling
  labeling.py     LabelController + LabelCommand: decisions, undo/redo, conflicts -> the store
  browse_model.py Qt item models over core.browse.BrowseIndex (table rows and grid cells)
  browser.py      BrowserPanel: filter bar, queue bar, table/grid views, current image
  filter_bar.py   FilterBar: the filter widgets -> a core.browse.BrowseFilter
  thumbnails.py   ImageLoader: decoding in worker processes (QProcess), LRU caches, prefetch
  decode.py       the decoder worker (`python -m binaudit.gui.decode`): Pillow, JPEG only, no Qt
  grid_view.py    the thumbnail grid (a table of cells: scales to 500k images) and its delegate
  bin_view.py     BinView: photo + adjustments, header and badge, predictions, SKUs, history
  photo_view.py   PhotoView: zoom, pan, fit, 1:1, brightness/contrast
  panels.py       PredictionPanel, SkuTable, HistoryPanel
  dialogs.py      reason picker, count entry, conflict, auditor name, about, shortcuts
  importing.py    import a dataset folder in a worker with a progress dialog
  settings.py     QSettings in the binaudit data directory
  errors.py       error dialogs and the sys.excepthook that shows them
  workers.py      Task: a QRunnable with finished/failed signals (index loading, search, writes, import)
  device_probe.py which device the models would use, asked of a child process (torch stays out)
  resources.py    icons and the style sheet from resources/

Part 2 (curation and the training loop):
  curation.py         bulk decisions on the selected rows, the table's context menu, the Charts dock
  charts.py           QPainter charts: LineChart, BarChart, ConfusionMatrixChart (clickable cells)
  charts_panel.py     the Charts dock: label-vs-predicted confusion, per-class accuracy, count distributions
  training_menu.py    TrainingMenu: setup -> subprocess -> live view / Runs dock -> compare -> activate
  training_setup.py   the setup dialog: recipes from training.recipes, cleaned-label counts -> TrainingRequest
  training_process.py RunMonitor (the JSON-lines stream folded into state, ETA) and TrainingProcess (QProcess)
  training_view.py    the live run window: progress, ETA, loss/accuracy curves, LR finder plot, output
  runs_panel.py       the Runs dock: live and past runs; reopen, cancel
  compare_view.py     new vs active model on the same val images: metrics, confusions, flipped images
  models_view.py      every registered model with metrics, run and label snapshot; activate / compare
  model_jobs.py       background model work: score val images for a comparison; rescore-then-activate
  export_dialog.py    the Export menu: audit results CSV/JSON, corrected metadata, image folder per count
"""

from __future__ import annotations
