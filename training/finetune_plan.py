"""What every fine-tune shares (training.finetune says what a fine-tune is and why): its options, the parent
model and what it carries over, which photos train and how heavily, the log's account, the report's section."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from binaudit.core import labels as L
from binaudit.core.store import Store

from .cross_fit import CrossFit
from .data import LabelSet, check_trainable
from .runs import read_json, write_json
from .session import Session
from .stream import TrainingFailed

log = logging.getLogger("training")

VERIFIED = (L.CONFIRMED, L.CORRECTED)  # a person looked at the photo and said how many items it holds
PLAN_FILE = "finetune.json"


@dataclass(frozen=True)
class FinetuneOptions:
    """What `python -m training finetune` was asked for (None: the parent's own setting)."""

    model_id: int
    epochs: int = 2
    verified_weight: float = 3.0
    lr: float | None = None
    device: str | None = None
    workers: int | None = None
    threads: int = 0

    def validate(self) -> FinetuneOptions:
        if self.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {self.epochs}")
        if not self.verified_weight >= 1.0 or not np.isfinite(self.verified_weight):
            raise ValueError(f"--verified-weight must be a number >= 1 (a verified label weighs at least as much "
                             f"as a recorded one), got {self.verified_weight}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        return self


# ---------------------------------------------------------------- the parent

@dataclass
class Parent:
    """The registered model a fine-tune starts from, its training run (if made here) and its out-of-fold file."""

    id: int
    record: dict[str, Any]
    model: Any  # binaudit.ml.count_models.CountModel
    run: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    folds: dict[str, int] = field(default_factory=dict)
    oof_entry: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return str(self.record["kind"])

    @property
    def manifest(self) -> dict[str, Any]:
        return self.record.get("manifest") or {}

    @property
    def config(self) -> dict[str, Any]:
        """Its training run's config ({} for a model imported from elsewhere)."""
        config = self.run.get("config")
        return config if isinstance(config, dict) else {}

    def info(self) -> dict[str, Any]:
        return {"model_id": self.id, "name": self.record.get("name"), "kind": self.kind,
                "architecture": self.record.get("architecture"), "sha256": self.record.get("sha256"),
                "run_id": self.record.get("run_id")}


def load_parent(store: Store, model_id: int) -> Parent:
    """The registered model model_id with its run and out-of-fold predictions; TrainingFailed in one line if
    it is missing or its files are not binaudit's."""
    from binaudit.ml.crossfit import entry, load_cross_fit
    from binaudit.ml.modelfiles import ModelFileError, load_registered, registered_path
    try:
        model = load_registered(store, model_id, device="cpu")
        record = store.get_model(model_id)
        assert record is not None
        folder = registered_path(store, record).parent
        oof = load_cross_fit(record.get("manifest") or {}, folder, len(model.classes))
        oof_entry = entry(record.get("manifest") or {})
    except ModelFileError as exc:
        reason = f"model {model_id} cannot be fine-tuned: {_one_line(str(exc))}"
        log.error("%s", reason)
        raise TrainingFailed(reason) from None
    parent = Parent(model_id, record, model, oof=oof, oof_entry=oof_entry)
    if oof_entry is not None:
        parent.folds = _fold_numbers(folder / oof_entry["file"])
    if record.get("run_id") is not None:
        parent.run = store.get_run(int(record["run_id"])) or {}
        parent.report = _run_report(parent.run)
    return parent


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fold_numbers(path: Path) -> dict[str, int]:
    """{image id: fold} of a cross-fit file already checked by load_cross_fit."""
    with np.load(path, allow_pickle=False) as data:
        return {str(i): int(f) for i, f in zip(data["image_ids"], data["folds"])}


def _run_report(run: dict[str, Any]) -> dict[str, Any]:
    path = Path(run["run_dir"]) / "report.json" if run.get("run_dir") else None
    try:
        return read_json(path) if path is not None and path.is_file() else {}
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------- which photos, how heavy

@dataclass
class Plan:
    """The photos of a fine-tune: the verified training photos (weight W), those left out, the parent."""

    parent: dict[str, Any]
    weight: float
    verified: list[str]
    left_out: list[str]
    train: int
    not_trained: dict[str, int]  # verified labels in val and test (kept out of training)
    inherited: int  # training photos whose out-of-fold predictions come from the parent (0: it had none)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("parent", "weight", "verified", "left_out", "train", "not_trained",
                                              "inherited")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(**{k: data[k] for k in ("parent", "weight", "verified", "left_out", "train", "not_trained",
                                           "inherited")})

    def facts(self) -> dict[str, Any]:
        """What the fine-tune trained on and what it inherited, in numbers and words."""
        return {"verified_weight": self.weight, "verified_train": len(self.verified), "train": self.train,
                "left_out": len(self.left_out), "verified_not_trained": self.not_trained,
                "out_of_fold": f"inherited from model {self.parent['model_id']} for {self.inherited} training "
                               "photos" if self.inherited else "none (the parent had no out-of-fold predictions)"}

    def summary(self) -> dict[str, Any]:
        """The plan without its id lists: the run's config and the report name the parent and the facts."""
        return {"parent_model_id": self.parent["model_id"], "model_kind": self.parent["kind"],
                "parent": self.parent, **self.facts()}

    def sample_weight(self, ids: Sequence[str]) -> np.ndarray:
        """W for a verified photo, 1 for the others (the SVM's sample_weight)."""
        verified = set(self.verified)
        return np.array([self.weight if i in verified else 1.0 for i in ids], dtype=np.float64)

    def copies(self, ids: Sequence[str], seed: int) -> np.ndarray:
        """How many times each photo goes into a ResNet epoch: 1, or W for a verified one (a fractional W
        rounds up for a seeded share frac(W) of them), so an epoch's summed loss weighs it W times."""
        whole, part = divmod(self.weight, 1.0)
        up = np.random.default_rng(seed).random(len(ids)) < part
        verified = set(self.verified)
        return np.array([int(whole) + int(u) if i in verified else 1 for i, u in zip(ids, up)], dtype=np.int64)


def verified_ids(store: Store, ids: Sequence[str]) -> set[str]:
    """The photos among ids whose effective label a person confirmed or corrected."""
    return {i for i, (_, _, status) in store.label_columns(ids).items() if status in VERIFIED}


def subset(labels: LabelSet, keep: Sequence[bool]) -> LabelSet:
    index = np.flatnonzero(np.asarray(keep, dtype=bool))
    return LabelSet([labels.ids[k] for k in index], [labels.paths[k] for k in index], labels.labels[index])


def begin_finetune(session: Session, parent: Parent, config: dict[str, Any], split: tuple[str, int, bool],
                   weight: float) -> tuple[Plan, dict[str, Any]]:
    """Freeze the labels (split, max count, or-more), choose the photos and start the run (row, directory,
    config, finetune.json); returns the plan and the run's config (announce() it after "started")."""
    assert session.store is not None
    session.load_labels(*split)
    train = session.sets["train"]
    verified = verified_ids(session.store, train.ids)
    left_out = [i for i in train.ids if parent.oof and i not in verified and i not in parent.oof]
    if left_out:
        dropped = set(left_out)
        session.sets["train"] = subset(train, [i not in dropped for i in train.ids])
    check_trainable(session.sets, split[1] + 1)
    train_ids = session.sets["train"].ids
    plan = Plan(parent.info(), float(weight), sorted(verified), left_out, len(train_ids),
                {s: len(verified_ids(session.store, session.sets[s].ids)) for s in ("val", "test")},
                sum(i in parent.oof for i in train_ids))
    config = {**config, "finetune": plan.summary()}
    session.start_run("finetune", f"{parent.kind}-model{parent.id}", config)
    assert session.run_dir is not None
    write_json(session.run_dir / PLAN_FILE, plan.to_json())
    return plan, config


def read_plan(run_dir: Path) -> Plan:
    return Plan.from_json(read_json(Path(run_dir) / PLAN_FILE))


def announce(session: Session, plan: Plan) -> None:
    """The run log's account of what the fine-tune trains on and how its training photos will be scored, and
    a progress event with the counts (after the stream's "started")."""
    pid = plan.parent["model_id"]
    log.info("fine-tuning model %s (%s): %d training photos, %d of them with a verified label (weight %g, their "
             "verified count), the others their recorded count", pid, plan.parent["name"], plan.train,
             len(plan.verified), plan.weight)
    log.info("verified labels in val (%d) and test (%d) are not trained on: they keep the calibration and the "
             "test figures honest", plan.not_trained["val"], plan.not_trained["test"])
    if plan.inherited:
        log.info("out-of-fold: model %s's out-of-fold predictions for %d training photos go with the new model, "
                 "so scoring it never judges a training bin by a model that learned its record", pid, plan.inherited)
        if plan.left_out:
            log.info("%d unreviewed training photos that model %s's out-of-fold file does not cover are left out "
                     "of the fine-tune (the new model scores them without having learned their record)",
                     len(plan.left_out), pid)
    else:
        log.info("out-of-fold: model %s was saved without out-of-fold predictions, so the new model has none "
                 "either: its training bins are scored in-sample, as before", pid)
    session.stream.emit("progress", stage="verified labels", done=len(plan.verified), total=plan.train,
                        weight=plan.weight, left_out=len(plan.left_out), inherited_oof=plan.inherited,
                        parent_model_id=pid)


# ---------------------------------------------------------------- what the new model carries

@dataclass
class InheritedCrossFit(CrossFit):
    """The parent's out-of-fold predictions of the new model's training photos, saved under its own note."""

    note: str = ""

    def save(self, manifest: Path, method: str) -> Path:
        return super().save(manifest, self.note or method)


def inherited_cross_fit(parent: Parent, train_ids: Sequence[str]) -> InheritedCrossFit | None:
    """The parent's out-of-fold predictions for these training photos (None when it has none for them)."""
    ids = [i for i in train_ids if i in parent.oof]
    if not ids or parent.oof_entry is None:
        return None
    probs = np.stack([parent.oof[i] for i in ids])
    folds = np.array([parent.folds.get(i, 0) for i in ids], dtype=np.int64)
    note = (f"inherited from model {parent.id} (the model this one was fine-tuned from): "
            f"{parent.oof_entry.get('method', '')}")
    return InheritedCrossFit(ids, probs, folds, int(parent.oof_entry.get("folds") or 0), note=note)


def parent_recorder(plan: Plan) -> Callable[[Path], None]:
    """Writes the plan's summary as the "parent" entry of a saved manifest (before it is registered)."""
    def record(manifest_path: Path) -> None:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
        manifest["parent"] = {**plan.parent, **plan.facts()}
        tmp = Path(manifest_path).with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(tmp, manifest_path)
    return record


def add_to_report(run_dir: Path, plan: Plan) -> None:
    """The fine-tune's section in report.json and report.md (written by the run's usual report)."""
    summary = plan.summary()
    path = Path(run_dir) / "report.json"
    if path.is_file():
        write_json(path, {**read_json(path), "finetune": summary})
    lines = ["", "## Fine-tune", "",
             f"- parent: model {plan.parent['model_id']} ({plan.parent['name']}), sha256 "
             f"{str(plan.parent['sha256'])[:12]}...",
             f"- trained on {plan.train} training photos: {len(plan.verified)} with a verified label (weight "
             f"{plan.weight:g}, their verified count), the others their recorded count",
             f"- not trained on: the verified labels of val ({plan.not_trained['val']}) and test "
             f"({plan.not_trained['test']}), which keep the calibration and the test figures honest",
             f"- out-of-fold predictions: {summary['out_of_fold']}"
             + (f"; {len(plan.left_out)} unreviewed training photos they do not cover were left out"
                if plan.left_out else "")]
    with open(Path(run_dir) / "report.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
