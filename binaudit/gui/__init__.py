"""The desktop app (PySide6 only), one sub-package per thing the user does; slow work runs in workers.

  shell/     the window: app start-up, MainWindow (composes the parts, computes nothing), the Workbench
             (one open workspace: browser beside bin view), every QAction with its shortcut, the
             welcome page, the window's dialogs and Prompts (every question it asks)
  browse/    finding bins: the table and thumbnail grid over the browse index, filters and search,
             review queues, thumbnail and photo decoding (in `python -m binaudit.gui.browse.decode`)
  review/    deciding about bins: the bin view (photo, predictions, SKUs, history), label decisions with
             undo/redo and conflicts, the labelling keys, bulk decisions on selected rows, their dialogs
  charts/    seeing the models against the labels: QPainter charts and the Charts dock
  training/  retraining and switching models: setup -> `python -m training` subprocess -> live view,
             Runs dock, Models window, comparison, activation; the device probe
  audit/     the audit loop: queue updates from the reviews (optionally fine-tuning the models), the Queue
             quality dock, random-sample audits with the sampled bins marked
  data/      getting data in and out: import a dataset folder, the Export menu
  common/    what every part uses: the open workspace's session, background tasks and jobs, settings,
             icons, error dialogs, table set-up, display formatting

Imports point one way (tests/test_import_cycles.py): shell uses every part; review uses browse; training
uses charts; audit uses browse, review, training and charts; every part uses common, and common uses none
of them.
"""
