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
"""

from __future__ import annotations
