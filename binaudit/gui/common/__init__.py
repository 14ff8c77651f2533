"""What every part of the app uses and none owns: the open workspace (WorkspaceSession: store connections,
the browse index loaded in a worker, polling for other auditors' labels), background work (workers:
Task and start() on a QThreadPool, Job with progress/cancel and one outcome signal), QSettings, icons and
the style sheet, error dialogs and the exception hook, the shared table set-up and display formatting.
Nothing here imports another sub-package of binaudit.gui."""
