"""`binaudit demo`: build the demo workspace once (synthetic bins, import, trained models, predictions)."""

from __future__ import annotations

import shutil
import sys

from binaudit.core.importer import import_dataset
from binaudit.core.store import Store
from binaudit.core.workspace import Workspace, demo_workspace

DEMO_SEED = 2024
DEMO_MISMATCH_RATE = 0.12
DEMO_IMAGE_SCALE = 0.6


def _say(text: str) -> None:
    print(f"binaudit demo: {text}", file=sys.stderr, flush=True)


def build_demo(n: int = 600, fresh: bool = False, train: bool = True,
               workspace: Workspace | None = None) -> Workspace:
    """Create (or reuse) the demo workspace in the user's data directory and return it."""
    from binaudit.core.progress import progress_bar
    from binaudit.core.synth import generate_dataset

    workspace = workspace or demo_workspace()
    if fresh and workspace.root.exists():
        shutil.rmtree(workspace.root)
    workspace.ensure()
    dataset = workspace.dataset_dir
    if not (dataset / "truth.json").exists():
        _say(f"writing {n} synthetic bins to {dataset}")
        with progress_bar("synthesise bins", "img") as bar:
            generate_dataset(dataset, n, seed=DEMO_SEED, mismatch_rate=DEMO_MISMATCH_RATE,
                             image_scale=DEMO_IMAGE_SCALE, progress=bar)
    with Store.open(workspace.db_path) as store:
        with progress_bar("import", "files") as bar:
            summary = import_dataset(store, dataset, progress=bar)
        _say(summary.describe())
        if train:
            _train_demo_models(store, workspace)
    _say(f"workspace ready: {workspace.db_path}")
    return workspace


def _train_demo_models(store: Store, workspace: Workspace) -> None:
    """Give the demo an active ResNet and SVM with stored predictions (skipped when they exist)."""
    try:
        from training.demo import ensure_demo_models
    except ImportError:
        _say("training module not available; the demo has no models yet")
        return
    ensure_demo_models(store, workspace)
