"""The audit loop's two small dialogs: draw a random-sample audit, and the queue-update settings."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from binaudit.gui.common import settings

DEFAULT_SAMPLE = 200
FINETUNE_TIP = ("After each update, fine-tune every active model on the verified counts in the training "
                "process (a new model version each time; compare it and activate it as any other run). "
                "Takes minutes on a CPU.")


@dataclass(frozen=True)
class SampleChoice:
    """What the sample dialog asked for: draw a new sample (size, stratified) or review an existing one."""

    draw: bool
    size: int = 0
    stratified: bool = False
    sample_id: int | None = None


@dataclass(frozen=True)
class SampleInfo:
    """The latest sample as the dialog shows it."""

    sample_id: int
    size: int
    reviewed: int
    stratified: bool
    created_at: str
    created_by: str


class RandomSampleDialog(QDialog):
    """Size and stratification of a new random sample; or review the latest one again."""

    def __init__(self, population: int, latest: SampleInfo | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Random-Sample Audit")
        self._review_id: int | None = None
        self.review_button: QPushButton | None = None
        intro = QLabel(
            f"Draw bins at random from the {population:,} bins with a photo and a recorded count, and review "
            "every one of them. Their variances give an unbiased estimate of the inventory's record accuracy "
            "(with its 95% interval) and the baseline that tells whether the audit queue beats random review. "
            "The sampled bins are marked in the store and in the list.")
        intro.setWordWrap(True)
        self.size_box = QSpinBox(minimum=1, maximum=max(1, population), value=min(DEFAULT_SAMPLE, max(1, population)))
        self.size_box.setSuffix(" bins")
        self.size_box.setToolTip("More bins, narrower interval: 200 bins give about \u00b13 points at a 5% rate")
        self.stratified = QCheckBox("Stratified by score")
        self.stratified.setToolTip("Draw from score groups in proportion to their size: the same unbiased "
                                   "estimate, usually a narrower interval when the score tells variances apart")
        form = QFormLayout()
        form.addRow("Sample size", self.size_box)
        form.addRow("", self.stratified)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.draw_button = buttons.addButton("Draw and Review", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        if latest is not None:
            layout.addWidget(self._latest_row(latest))
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def _latest_row(self, latest: SampleInfo) -> QWidget:
        row = QWidget()
        text = QLabel(f"Sample #{latest.sample_id} ({latest.size:,} bins{', stratified' if latest.stratified else ''}, "
                      f"drawn by {latest.created_by}): {latest.reviewed:,} reviewed.")
        text.setWordWrap(True)
        again = self.review_button = QPushButton(f"Review Sample #{latest.sample_id}")
        again.setToolTip("List this sample's bins in their review order (the ones left are what it still needs)")
        again.clicked.connect(lambda: self._review(latest.sample_id))
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(text)
        layout.addWidget(again)
        return row

    def _review(self, sample_id: int) -> None:
        self._review_id = sample_id
        self.accept()

    def choice(self) -> SampleChoice:
        if self._review_id is not None:
            return SampleChoice(draw=False, sample_id=self._review_id)
        return SampleChoice(draw=True, size=self.size_box.value(), stratified=self.stratified.isChecked())


class QueueUpdateSettingsDialog(QDialog):
    """How often the queue updates itself, and whether an update also fine-tunes the models (QSettings)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Queue Update Settings")
        self.every = QSpinBox(minimum=0, maximum=10_000,
                              value=settings.get_int(settings.QUEUE_UPDATE_EVERY, settings.DEFAULT_QUEUE_UPDATE_EVERY))
        self.every.setSuffix(" decisions")
        self.every.setSpecialValueText("only when asked")
        self.every.setToolTip("0: only Label > Update the Queue updates it")
        self.finetune = QCheckBox("Also fine-tune the active models")
        self.finetune.setChecked(settings.get_bool(settings.QUEUE_FINETUNE))
        self.finetune.setToolTip(FINETUNE_TIP)
        hint = QLabel(FINETUNE_TIP)
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        form = QFormLayout()
        form.addRow("Update the queue after every", self.every)
        form.addRow("", self.finetune)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def save(self) -> None:
        settings.put(settings.QUEUE_UPDATE_EVERY, self.every.value())
        settings.put(settings.QUEUE_FINETUNE, self.finetune.isChecked())
