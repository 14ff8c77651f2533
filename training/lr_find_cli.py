"""`python -m training lr-find`: the LR range test on a recipe's first stage, as a run of its own."""

from __future__ import annotations

from pathlib import Path

from binaudit.ml.device import prepare_module

from .data import ResumableSampler, make_loader, prepare_datasets
from .distributed import DistInfo
from .losses import build_criterion
from .lr_finder import lr_range_test, plot_lr_finder
from .optim import build_optimizer, set_trainable
from .recipes import Recipe
from .resnet_train import build_model, pick_device, seed_everything
from .session import RunScope, guarded_run


def run_lr_find(db: str, recipe: Recipe, num_iter: int, start_lr: float, end_lr: float) -> int:
    """Emits started, lr_finder points, then finished with {"suggestion", "plot"}; saves lr_finder.png."""
    return guarded_run(lambda scope: _lr_find(scope, db, recipe, num_iter, start_lr, end_lr))


def _lr_find(scope: RunScope, db: str, recipe: Recipe, num_iter: int, start_lr: float, end_lr: float) -> int:
    """The range test inside guarded_run, on the recipe's first stage (input size, frozen body or not)."""
    session, stream, stop = scope.open(db), scope.stream, scope.stop
    session.begin_run("lr-find", recipe.name, recipe.to_dict(), recipe.split, recipe.max_count, recipe.or_more)
    session.emit_started("lr-find", recipe.name, recipe.to_dict(), recipe.max_count + 1, device=recipe.device)
    seed_everything(recipe.seed)
    stage = recipe.stage_list()[0]
    device = pick_device(recipe, DistInfo())
    model = prepare_module(build_model(recipe, recipe.max_count + 1, DistInfo()), device)
    data = prepare_datasets(session.sets, session.cache_root, stage.input_size, recipe.hflip, recipe.seed,
                            workers=recipe.workers, skip_bad=recipe.skip_bad_images,
                            progress=lambda d, t: stream.progress(f"cache {stage.input_size}px", d, t),
                            letterbox=recipe.letterbox, jitter=recipe.color_jitter)
    set_trainable(model, stage.mode)
    optimizer = build_optimizer(model, recipe, stage.mode, recipe.lr)
    loader = make_loader(data["train"], recipe.batch_size, ResumableSampler(data["train"], seed=recipe.seed),
                         recipe.workers)
    criterion = build_criterion(recipe.loss, recipe.max_count + 1, recipe.label_smoothing).to(device)
    result = lr_range_test(model, loader, optimizer, device, criterion, start_lr, end_lr, num_iter,
                           on_point=lambda lr, loss: stream.emit("lr_finder", lr=lr, loss=loss),
                           should_stop=lambda: bool(stop))
    plot = plot_lr_finder(result, Path(session.run_dir) / "lr_finder.png")
    if stop:
        return session.cancelled(f"stopped by {stop.signal_name}")
    return session.finished(None, {"suggestion": result["suggestion"], "plot": str(plot),
                                   "points": len(result["lrs"])})
