"""The window around everything: run_app() (QApplication, style, error hook); MainWindow, which opens and
closes workspaces, composes the parts, wires every action to them and owns the status bar; the Workbench,
one open workspace on screen (browser beside bin view, with its loader, label controller, decisions and
curation); every QAction with its shortcut, grouped into menus and the toolbar; the welcome page; and the
window's own dialogs with Prompts, the one object that asks the user questions. Only the shell knows all
the parts; none of them imports it."""
