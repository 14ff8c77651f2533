"""What to run next when a workspace has no model to queue or score with: the exact commands, with its path."""

from __future__ import annotations

import shlex
from typing import Any

from binaudit.core.kinds import MODEL_KINDS
from binaudit.core.workspace import Workspace


def ws_arg(workspace: Workspace) -> str:
    """The workspace as a --db value to paste into a shell."""
    return shlex.quote(str(workspace.root))


def first_model_steps(store: Any, workspace: Workspace) -> str:
    """No model at all: train one on this machine (with a time estimate) or import one trained elsewhere."""
    from binaudit.core.train_estimate import store_svm_estimate

    ws = ws_arg(workspace)
    estimate = store_svm_estimate(store)
    return (f"this workspace has no model yet. Next, train one on this machine's CPU ({estimate.describe()}):\n"
            f"  python -m training svm --db {ws}\n"
            f"  (then: binaudit models activate ID --db {ws})\n"
            f"or import one trained elsewhere (written by `binaudit models export`):\n"
            f"  binaudit models import FILE --db {ws} --activate\n"
            f"then score every photo with it:\n"
            f"  binaudit score --active --db {ws}")


def no_active_model_steps(store: Any, workspace: Workspace) -> str | None:
    """Models registered but none active: the activate command for the newest; None when one is active."""
    if any(store.active_model(kind) for kind in MODEL_KINDS):
        return None
    models = store.list_models()
    if not models:
        return first_model_steps(store, workspace)
    newest = max(models, key=lambda m: int(m["id"]))
    return (f"no model is active yet ({len(models)} registered, see `binaudit models --db {ws_arg(workspace)}`). "
            f"Next, activate the newest:\n  binaudit models activate {newest['id']} --db {ws_arg(workspace)}\n"
            f"then score every photo with it:\n  binaudit score --active --db {ws_arg(workspace)}")


def unscored_steps(workspace: Workspace) -> str:
    """Active models without stored predictions: the score command."""
    return (f"the active model has not scored these photos yet. Next:\n"
            f"  binaudit score --active --db {ws_arg(workspace)}")
