"""Workspaces with readable names: `binaudit import DIR --name NAME` puts DIR's bins in
DATA_DIR/workspaces/NAME instead of a hashed folder, and a name belongs to one dataset folder.

The dataset a named workspace holds is written beside its database (SOURCE_FILE); a name already
holding another dataset is refused, so two datasets never mix by a typo.
"""

from __future__ import annotations

import re
from pathlib import Path

from binaudit.core.workspace import Workspace, data_home

SOURCE_FILE = "dataset-source.txt"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$")


class WorkspaceNameError(ValueError):
    """A --name that cannot be used; the message says why and what to do."""


def workspaces_dir() -> Path:
    """Where imports without --db keep their workspaces."""
    return data_home() / "workspaces"


def named_workspace(name: str) -> Workspace:
    """The workspace folder for a readable name (letters, digits, space, dot, dash, underscore)."""
    name = name.strip()
    if not NAME_RE.match(name) or name in (".", ".."):
        raise WorkspaceNameError(f"{name!r} cannot name a workspace: use letters, digits, spaces, '.', '-' or '_' "
                                 "(at most 80, starting with a letter or digit)")
    return Workspace(workspaces_dir() / name)


def recorded_source(workspace: Workspace) -> Path | None:
    """The dataset folder a named workspace was made for (None when it does not say)."""
    try:
        text = (workspace.root / SOURCE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text) if text else None


def _image_paths_under(workspace: Workspace, dataset: Path) -> bool | None:
    """Whether a workspace's photos come from dataset (None: it has no photo paths to tell by)."""
    from binaudit.core.store import Store

    with Store.open(workspace.db_path, readonly=True) as store:
        path = store.any_image_path()
    if path is None:
        return None
    return Path(path).resolve().is_relative_to(dataset)


def claim_name(workspace: Workspace, dataset: Path) -> None:
    """Record that this named workspace holds `dataset`, refusing a name that holds another one."""
    dataset = Path(dataset).resolve()
    source = recorded_source(workspace)
    if source is None and workspace.exists() and _image_paths_under(workspace, dataset) is False:
        raise WorkspaceNameError(f"the workspace name {workspace.root.name!r} is already used for another dataset "
                                 f"({workspace.root}); choose another --name")
    if source is not None and source.resolve() != dataset:
        raise WorkspaceNameError(f"the workspace name {workspace.root.name!r} is already used for {source} "
                                 f"({workspace.root}); choose another --name, or import with --db to add to it")
    workspace.ensure()
    if source is None:
        (workspace.root / SOURCE_FILE).write_text(f"{dataset}\n", encoding="utf-8")
