"""The Training menu's setup dialog: recipe choices from the training module -> a TrainingRequest.

The choices come from `training.recipes` and `training.svm_config` (importing training is allowed;
training never imports the GUI). Only the values that differ from the recipe are passed on the
command line, which the dialog shows as it will run. It also says how many cleaned labels the run
will use (store.training_labels(): uncountable and excluded photos left out).
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from binaudit.core.store import Store
from binaudit.gui.training.process import TrainingRequest

TITLES = {"resnet": "Retrain ResNet", "svm": "Retrain SVM", "lr-find": "Find learning rate",
          "baselines": "Run baselines"}
DEFAULT_RECIPE = {"resnet": "demo", "lr-find": "demo"}
DEVICES = ("auto", "cpu", "cuda", "mps")
DEFAULT_METHODS = "logreg:pixels,tree:pixels,linsvc:pixels,svc-rbf:pca"


def label_summary(store: Store, max_count: int = 5) -> str:
    """How many cleaned labels a run will use, per split (counts above max_count left out)."""
    per_split: Counter[str] = Counter()
    above = trainable = 0
    for split in ("train", "val", "test"):
        counts = [count for _id, _path, count in store.training_labels(split=split)]
        trainable += len(counts)
        above += sum(1 for c in counts if c > max_count)
        per_split[split] = len(counts) - sum(1 for c in counts if c > max_count)
    total = sum(per_split.values())
    left = store.count_images() - trainable
    text = (f"<b>{total:,}</b> cleaned labels: {per_split['train']:,} train \u00b7 {per_split['val']:,} val \u00b7 "
            f"{per_split['test']:,} test")
    notes = []
    if above:
        notes.append(f"{above:,} with more than {max_count} items left out (or kept as {max_count}+ with --or-more)")
    if left > 0:
        notes.append(f"{left:,} uncountable, excluded or unreadable photos left out")
    return text + (f"<br><small>{html.escape('; '.join(notes))}</small>" if notes else "")


class TrainingSetupDialog(QDialog):
    """See the module docstring. `request()` is the run to start once the dialog was accepted."""

    def __init__(self, command: str, store: Store, db_path: str, parent: QWidget | None = None):
        super().__init__(parent)
        from training.recipes import RECIPES  # light: dataclasses only
        from training.svm_config import SVMConfig

        self.command, self.db_path = command, db_path
        self.recipes = RECIPES
        self.svm_defaults = SVMConfig()
        self.setWindowTitle(TITLES[command])
        self.form = QFormLayout()
        self.fields: dict[str, QWidget] = {}
        if command in ("resnet", "lr-find"):
            self._resnet_fields()
        elif command == "svm":
            self._svm_fields()
        else:
            self._baseline_fields()
        self.threads = self._add("threads", QSpinBox(minimum=0, maximum=256, value=0, specialValueText="default"),
                                 "CPU threads", "torch/BLAS threads of the run (default: the library's choice)")
        self.labels = QLabel(label_summary(store))
        self.labels.setWordWrap(True)
        self.preview = QLineEdit(readOnly=True)
        self.preview.setToolTip("The command the app will run (python -m training ...)")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QGroupBox("Settings")
        box.setLayout(self.form)
        layout = QVBoxLayout(self)
        layout.addWidget(self.labels)
        layout.addWidget(box)
        layout.addWidget(QLabel("Command:"))
        layout.addWidget(self.preview)
        layout.addWidget(buttons)
        for widget in self.fields.values():
            for signal in ("valueChanged", "currentIndexChanged", "textChanged", "toggled"):
                if hasattr(widget, signal):
                    getattr(widget, signal).connect(lambda *_: self._update_preview())
        if "recipe" in self.fields:
            self._recipe_changed()
        self._update_preview()
        self.setMinimumWidth(560)

    def _add(self, key: str, widget: QWidget, label: str, tip: str = "") -> Any:
        widget.setToolTip(tip)
        self.fields[key] = widget
        self.form.addRow(label, widget)
        return widget

    # ------------------------------------------------------------------ fields
    def _resnet_fields(self) -> None:
        recipe = QComboBox()
        for name, r in self.recipes.items():
            recipe.addItem(name + (f"  (published {r.published.split(' (')[0]})" if r.published else ""), name)
        recipe.setCurrentIndex(max(0, recipe.findData(DEFAULT_RECIPE[self.command])))
        self._add("recipe", recipe, "Recipe", "A named config from the training module (python -m training recipes)")
        self.recipe_text = QLabel(wordWrap=True)
        self.recipe_text.setObjectName("hint")
        self.form.addRow("", self.recipe_text)
        arch = QComboBox()
        arch.addItems(["resnet18", "resnet34", "resnet50"])
        self._add("arch", arch, "Architecture")
        self._add("epochs", QSpinBox(minimum=1, maximum=1000), "Epochs")
        self._add("input_size", QSpinBox(minimum=16, maximum=1024, singleStep=16, suffix=" px"), "Input size")
        self._add("stages", QLineEdit(), "Stages", "SIZE:EPOCHS[:head|all|diff], comma-separated (empty: one stage)")
        device = QComboBox()
        device.addItems(list(DEVICES))
        self._add("device", device, "Device", "auto: CUDA, then Apple MPS, then CPU")
        weights = QComboBox()
        weights.addItem("from scratch (none)", "none")
        weights.addItem("ImageNet (torchvision download)", "imagenet")
        weights.addItem("local weights file\u2026", "file")
        self._add("weights", weights, "Pretrained weights")
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        self.weights_file = QLineEdit(placeholderText="resnet34.pth or .safetensors")
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._choose_weights)
        h.addWidget(self.weights_file, 1)
        h.addWidget(browse)
        self.fields["weights_file"] = self.weights_file
        self.form.addRow("Weights file", row)
        if self.command == "lr-find":
            self._add("num_iter", QSpinBox(minimum=5, maximum=1000, value=100), "Steps", "LR range test steps")
        self.fields["recipe"].currentIndexChanged.connect(lambda _: self._recipe_changed())
        weights.currentIndexChanged.connect(lambda _: self._weights_changed())

    def _svm_fields(self) -> None:
        d = self.svm_defaults
        self._add("size", QSpinBox(minimum=8, maximum=512, value=d.size, suffix=" px"), "Pixel features",
                  "Photo squashed to SIZE x SIZE RGB")
        self._add("pca", QSpinBox(minimum=0, maximum=5000, value=d.pca, specialValueText="none"), "PCA components")
        kernel = QComboBox()
        kernel.addItems(["rbf", "poly", "linear", "sigmoid"])
        kernel.setCurrentText(d.kernel)
        self._add("kernel", kernel, "Kernel")
        self._add("C", QDoubleSpinBox(minimum=1e-4, maximum=1e6, value=d.C, decimals=4), "C")
        self._add("hog", QCheckBox("add HOG features", checked=d.hog), "")
        self._add("blobs", QCheckBox("add blob counts", checked=d.blobs), "")
        self._add("search", QCheckBox("grid search over C and gamma first", checked=d.search), "")
        self._add("folds", QSpinBox(minimum=0, maximum=20, value=d.folds, specialValueText="skip"), "Out-of-fold k",
                  "k-fold cross-validation: honest probabilities for the label-issue queue")

    def _baseline_fields(self) -> None:
        self._add("methods", QLineEdit(DEFAULT_METHODS), "Methods", "METHOD:FEATURE, comma-separated")
        self._add("size", QSpinBox(minimum=8, maximum=512, value=32, suffix=" px"), "Pixel features")
        self._add("pca", QSpinBox(minimum=1, maximum=5000, value=50), "PCA components")
        split = QComboBox()
        split.addItems(["test", "val"])
        self._add("eval_split", split, "Evaluate on")

    def _recipe_changed(self) -> None:
        r = self.recipes[self.fields["recipe"].currentData()]
        self.recipe_text.setText(f"<small>{html.escape(r.description)}"
                                 + (f"<br>Published: {html.escape(r.published)}" if r.published else "") + "</small>")
        f = self.fields
        f["arch"].setCurrentText(r.arch)
        f["epochs"].setValue(r.epochs)
        f["input_size"].setValue(r.input_size)
        f["stages"].setText(r.stages)
        staged = bool(r.stages.strip())
        for key in ("epochs", "input_size"):
            f[key].setEnabled(not staged)
            f[key].setToolTip("This recipe trains in stages: edit the stages instead" if staged else "")
        weights = r.weights if r.weights in ("none", "imagenet") else "file"
        f["weights"].setCurrentIndex(f["weights"].findData(weights))
        self.weights_file.setText("" if weights != "file" else r.weights)
        self._weights_changed()

    def _weights_changed(self) -> None:
        self.weights_file.setEnabled(self.fields["weights"].currentData() == "file")
        self._update_preview()

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pretrained weights", "", "Weights (*.pth *.pt *.safetensors)")
        if path:
            self.fields["weights"].setCurrentIndex(self.fields["weights"].findData("file"))
            self.weights_file.setText(path)

    # ------------------------------------------------------------------ the command line
    def args(self) -> list[str]:
        """The options after `--db WS`, only where they differ from the recipe / defaults."""
        f, out = self.fields, []
        if self.command in ("resnet", "lr-find"):
            r = self.recipes[f["recipe"].currentData()]
            out += ["--recipe", r.name]
            if f["arch"].currentText() != r.arch:
                out += ["--arch", f["arch"].currentText()]
            if f["stages"].text().strip() != r.stages.strip():
                out += ["--stages", f["stages"].text().strip()]
            if not f["stages"].text().strip():
                if f["epochs"].value() != r.epochs:
                    out += ["--epochs", str(f["epochs"].value())]
                if f["input_size"].value() != r.input_size:
                    out += ["--input-size", str(f["input_size"].value())]
            weights = f["weights"].currentData()
            value = self.weights_file.text().strip() if weights == "file" else weights
            if value and value != r.weights:
                out += ["--weights", value]
            if f["device"].currentText() != "auto":
                out += ["--device", f["device"].currentText()]
            if self.command == "lr-find":
                out += ["--num-iter", str(f["num_iter"].value())]
        elif self.command == "svm":
            d = self.svm_defaults
            for key, flag in (("size", "--size"), ("pca", "--pca"), ("folds", "--folds")):
                if f[key].value() != getattr(d, key):
                    out += [flag, str(f[key].value())]
            if f["kernel"].currentText() != d.kernel:
                out += ["--kernel", f["kernel"].currentText()]
            if abs(f["C"].value() - d.C) > 1e-9:
                out += ["--C", f"{f['C'].value():g}"]
            for key in ("hog", "blobs", "search"):
                if f[key].isChecked():
                    out.append(f"--{key}")
        else:
            out += ["--methods", f["methods"].text().strip() or DEFAULT_METHODS, "--size", str(f["size"].value()),
                    "--pca", str(f["pca"].value()), "--eval-split", f["eval_split"].currentText()]
        if self.threads.value():
            out += ["--threads", str(self.threads.value())]
        return out

    def request(self) -> TrainingRequest:
        detail = self.fields["recipe"].currentData() if "recipe" in self.fields else ""
        title = TITLES[self.command] + (f" ({detail})" if detail else "")
        return TrainingRequest(self.command, self.db_path, self.args(), title)

    def _update_preview(self) -> None:
        if hasattr(self, "preview"):
            self.preview.setText(self.request().command_line())
            self.preview.setCursorPosition(0)
