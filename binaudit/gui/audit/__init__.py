"""The audit loop in the app: queue updates from the reviews (and optional fine-tuning), the Queue quality dock,
random-sample audits with their bins marked in the list.

  menu.py      AuditMenu: composes the pieces below; the window wires the Label menu and the dock to it
  updater.py   QueueUpdater: update_queue in a worker, then the index and the list take the new order
  finetune.py  FineTuner: `python -m training finetune` per active model, then scoring the new version
  order.py     how an update moved the queue (Qt-free)
  quality.py   the panel's words and curves from a core.audit Report (Qt-free)
  panel.py     QueueQualityPanel (queue_report in a worker); dock.py its dock
  samples.py   drawing a sample in a worker, reading samples, the list's marks on sampled bins
  dialogs.py   the random-sample dialog and the queue-update settings dialog
"""
