"""`python -m training lr-find`: the LR range test on a recipe's first stage, as a run of its own."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .stream import EXIT_CANCELLED
from .data import ResumableSampler, check_trainable, make_loader, prepare_datasets
from .lr_finder import lr_range_test, plot_lr_finder
from .optim import build_optimizer, set_trainable
from .recipes import Recipe
from .resnet_train import build_model, pick_device, seed_everything
from .distributed import DistInfo
from binaudit.ml.device import prepare_module
from .session import Session, end_with_failure
from .stream import StopFlag, Stream


def run_lr_find(db: str, recipe: Recipe, num_iter: int, start_lr: float, end_lr: float) -> int:
    """Emits started, lr_finder points, then finished with {"suggestion", "plot"}; saves lr_finder.png."""
    stream, stop = Stream(), StopFlag().install()
    session = None
    try:
        session = Session.open(db, stream)
        session.load_labels(recipe.split, recipe.max_count, recipe.or_more)
        check_trainable(session.sets, recipe.max_count + 1)
        session.start_run("lr-find", recipe.name, recipe.to_dict())
        stream.emit("started", kind="lr-find", run_id=session.run_id, run_dir=str(session.run_dir),
                    recipe=recipe.name, config=recipe.to_dict(), resumed=False, epochs=0,
                    classes=list(range(recipe.max_count + 1)), images=session.summary(recipe.max_count + 1),
                    label_snapshot=session.label_snapshot, world_size=1, device=recipe.device)
        seed_everything(recipe.seed)
        stage = recipe.stage_list()[0]
        device = pick_device(recipe, DistInfo())
        model = prepare_module(build_model(recipe, recipe.max_count + 1, DistInfo()), device)
        data = prepare_datasets(session.sets, session.cache_root, stage.input_size, recipe.hflip, recipe.seed,
                                workers=recipe.workers, skip_bad=recipe.skip_bad_images,
                                progress=lambda d, t: stream.progress(f"cache {stage.input_size}px", d, t))
        set_trainable(model, stage.mode)
        optimizer = build_optimizer(model, recipe, stage.mode, recipe.lr)
        loader = make_loader(data["train"], recipe.batch_size, ResumableSampler(data["train"], seed=recipe.seed),
                             recipe.workers)
        result = lr_range_test(model, loader, optimizer, device, nn.CrossEntropyLoss(), start_lr, end_lr, num_iter,
                               on_point=lambda lr, loss: stream.emit("lr_finder", lr=lr, loss=loss),
                               should_stop=lambda: bool(stop))
        plot = plot_lr_finder(result, Path(session.run_dir) / "lr_finder.png")
        if stop:
            return session.cancelled(f"stopped by {stop.signal_name}")
        return session.finished(None, {"suggestion": result["suggestion"], "plot": str(plot),
                                       "points": len(result["lrs"])})
    except KeyboardInterrupt:
        return session.cancelled("interrupted") if session else EXIT_CANCELLED
    except Exception as exc:
        return end_with_failure(session, stream, exc)
    finally:
        stop.uninstall()
        if session is not None:
            session.close()
