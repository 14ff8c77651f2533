"""`binaudit models`: list, activate, export and import models from the command line (no Qt).

Listing reads only the store; activate, export and import load binaudit.ml (torch) when they run.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from binaudit.cli.tables import format_table
from binaudit.cli.workspace_args import (
    add_db_option,
    add_db_option_after_action,
    db_hint,
    open_store,
)
from binaudit.core.formatting import fmt_num, fmt_pct

MODEL_COLUMNS = (("id", ">"), ("kind", "<"), ("architecture", "<"), ("classes", "<"), ("active", "<"),
                 ("accuracy", ">"), ("RMSE", ">"), ("on", "<"), ("scored", ">"), ("created", "<"), ("run", ">"),
                 ("name", "<"))


def _classes(classes: Any) -> str:
    """[0, 1, ..., 5] as '0-5'; anything not a run of counts as a comma list."""
    values = [int(c) for c in classes or []]
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ",".join(map(str, values)) or "-"


def _created(stamp: str | None) -> str:
    """A stored UTC ISO time as local 'YYYY-MM-DD HH:MM'."""
    try:
        return datetime.fromisoformat(str(stamp)).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(stamp or "-")


def _number(metrics: dict, key: str, pct: bool) -> str:
    value = metrics.get(key)
    if not isinstance(value, (int, float)):
        return "-"
    return fmt_pct(value, "-") if pct else fmt_num(value, "-")


def model_row(model: dict[str, Any], scored: int) -> list[str]:
    """One registered model as the table's cells."""
    m = model.get("metrics") if isinstance(model.get("metrics"), dict) else {}
    return [str(model["id"]), str(model["kind"]), str(model.get("architecture") or "-"),
            _classes(model.get("classes")), "yes" if model.get("active") else "",
            _number(m, "accuracy", True), _number(m, "rmse", False), str(m.get("split") or "-"), str(scored),
            _created(model.get("created_at")), str(model.get("run_id") or "-"), str(model.get("name") or "")]


def models_table(store: Any) -> str:
    """Every registered model as a table (shared with `binaudit info`); '' when there is none."""
    models = store.list_models()
    if not models:
        return ""
    return format_table(MODEL_COLUMNS, [model_row(m, len(store.scored_image_ids(int(m["id"])))) for m in models])


def cmd_models(args: argparse.Namespace) -> int:
    """List every registered model with its key metrics."""
    workspace, store = open_store(args.db)
    with store:
        table = models_table(store)
    if not table:
        print(f"no models in {workspace.db_path}; train one (`binaudit train svm --db ...`) "
              f"or import one (`binaudit models import FILE{db_hint(args)}`)")
        return 0
    print(f"models in {workspace.db_path} (accuracy and RMSE: on the split named under on; "
          f"scored: images with stored predictions)")
    print(table)
    return 0


def _model_or_exit(store: Any, model_id: int, args: argparse.Namespace) -> dict[str, Any]:
    record = store.get_model(model_id)
    if record is None:
        raise SystemExit(f"binaudit: no model {model_id} in this workspace (see `binaudit models{db_hint(args)}`)")
    return record


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _activate(store: Any, model_id: int) -> str:
    """Activate a registered model (its file checked first); returns what changed, in words."""
    from binaudit.ml.modelfiles import activate_registered

    record = store.get_model(model_id)
    before = store.active_model(record["kind"])
    if before is not None and int(before["id"]) == model_id:
        return f"model {model_id} is already the active {record['kind']} model"
    activate_registered(store, model_id)
    replaced = f" (was model {before['id']})" if before else ""
    return f"model {model_id} ({record['architecture']}) is now the active {record['kind']} model{replaced}"


def _score_hint(store: Any, model_id: int, args: argparse.Namespace) -> str | None:
    """Where the model has not scored every usable image yet: the command that does it."""
    from binaudit.core.abid import IMAGE_USABLE_STATUSES

    total = len(store.image_ids(status=IMAGE_USABLE_STATUSES))
    scored = len(store.scored_image_ids(model_id))
    if scored >= total:
        return None
    return (f"it has predictions for {scored} of {total} images; "
            f"run `binaudit score --model {model_id}{db_hint(args)}` before `binaudit queue`")


def cmd_activate(args: argparse.Namespace) -> int:
    """Make a model the active one of its kind."""
    _, store = open_store(args.db)
    with store:
        _model_or_exit(store, args.id, args)
        from binaudit.ml.modelfiles import (
            ModelFileError,  # torch: only once there is a model to check
        )

        try:
            print(_activate(store, args.id))
        except ModelFileError as exc:
            raise SystemExit(f"binaudit: model {args.id} cannot be activated: {_one_line(exc)}") from None
        hint = _score_hint(store, args.id, args)
    if hint:
        print(hint)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write one model (weights + manifest) to a single zip file."""
    out = Path(args.file)
    if out.exists() and not args.force:
        raise SystemExit(f"binaudit: {out} already exists; choose another name or add --force")
    _, store = open_store(args.db)
    with store:
        record = _model_or_exit(store, args.id, args)
        from binaudit.ml.modelfiles import (
            ModelFileError,  # torch: only once there is a model to export
        )
        from binaudit.ml.modelpack import export_model

        try:
            export_model(store, args.id, out)
        except (ModelFileError, OSError) as exc:
            raise SystemExit(f"binaudit: model {args.id} cannot be exported: {_one_line(exc)}") from None
    print(f"exported model {args.id} ({record['kind']} {record['architecture']}) to {out} "
          f"({out.stat().st_size / 1e6:.1f} MB); use it with `binaudit models import {out} --db OTHER`")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Register a model from an export file in this workspace (checked as the registry checks its own)."""
    from binaudit.ml.modelfiles import ModelFileError
    from binaudit.ml.modelpack import import_model

    workspace, store = open_store(args.db)
    with store:
        try:
            result = import_model(store, workspace.models_dir, Path(args.file))
        except (ModelFileError, OSError) as exc:
            raise SystemExit(f"binaudit: nothing imported: {_one_line(exc)}") from None
        if result.created:
            print(f"imported {args.file} as model {result.model_id} ({result.kind}), files in {result.path.parent}")
        else:
            print(f"{args.file} is already registered here as model {result.model_id} ({result.kind}); "
                  "nothing imported")
        if args.activate:
            try:
                print(_activate(store, result.model_id))
            except ModelFileError as exc:
                raise SystemExit(f"binaudit: model {result.model_id} cannot be activated: {_one_line(exc)}") from None
        hint = _score_hint(store, result.model_id, args) if args.activate else None
    if hint:
        print(hint)
    elif not args.activate:
        print(f"activate it with `binaudit models activate {result.model_id}{db_hint(args)}`")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `binaudit models [activate|export|import]` to the `binaudit` parser."""
    p = sub.add_parser("models", help="list models; activate, export or import one",
                       description="With no action: list the registered models.")
    add_db_option(p)
    p.set_defaults(func=cmd_models)
    actions = p.add_subparsers(dest="models_action", metavar="{activate,export,import}")

    a = actions.add_parser("activate", help="make a model the active one of its kind")
    a.add_argument("id", type=int, help="model id (see `binaudit models`)")
    add_db_option_after_action(a)
    a.set_defaults(func=cmd_activate)

    a = actions.add_parser("export", help="write a model and its manifest to one portable zip file")
    a.add_argument("id", type=int, help="model id (see `binaudit models`)")
    a.add_argument("file", help="the file to write, e.g. svm.binaudit-model.zip")
    a.add_argument("--force", action="store_true", help="replace FILE if it exists")
    add_db_option_after_action(a)
    a.set_defaults(func=cmd_export)

    a = actions.add_parser("import", help="register a model exported from another workspace")
    a.add_argument("file", help="a file written by `binaudit models export`")
    a.add_argument("--activate", action="store_true", help="also make it the active model of its kind")
    add_db_option_after_action(a)
    a.set_defaults(func=cmd_import)
