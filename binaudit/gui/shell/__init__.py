"""The window around everything: run_app() (QApplication, style, error hook), MainWindow (opens and closes
workspaces, composes browse, review, charts, training and data parts, wires actions to them, owns the status
bar and the welcome page), every QAction with its shortcut grouped into menus and the toolbar, and the
window's own dialogs with Prompts, the one object that asks the user questions. Only the shell knows all
the parts; none of them imports it."""
