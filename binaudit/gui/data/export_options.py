"""What an audit-results export includes: which images (reviewed only, every image, or the list as shown with
its filters, queue and chart selection) and which columns; asked before the file name."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from binaudit.core.export import RESULT_FIELDS

REVIEWED, ALL, SHOWN = "reviewed", "all", "shown"


@dataclass
class ExportOptions:
    """Which rows and columns an audit-results export writes."""

    include: str = REVIEWED
    columns: list[str] = field(default_factory=lambda: list(RESULT_FIELDS))
    image_ids: list[str] | None = None  # with SHOWN: the list's images

    @property
    def reviewed_only(self) -> bool:
        return self.include == REVIEWED

    def describe(self) -> str:
        """'reviewed images only; 15 columns' and the like."""
        which = {REVIEWED: "reviewed images only", ALL: "every image",
                 SHOWN: f"the {len(self.image_ids or []):,} images of the list as shown"}[self.include]
        return f"{which}; {len(self.columns)} of {len(RESULT_FIELDS)} columns"


class ExportOptionsDialog(QDialog):
    """Radio buttons for the rows, a check box per column (image_id always written)."""

    def __init__(self, title: str, shown_count: int | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        rows = QGroupBox("Include")
        self.group = QButtonGroup(self)
        self.choices: dict[str, QRadioButton] = {}
        layout = QVBoxLayout(rows)
        for key, text in ((REVIEWED, "Reviewed images only (an undone decision is not a review)"),
                          (ALL, "Every image"),
                          (SHOWN, f"The list as shown: {shown_count or 0:,} images (its filters, queue and "
                                  "chart selection)")):
            button = QRadioButton(text)
            self.group.addButton(button)
            self.choices[key] = button
            layout.addWidget(button)
        self.choices[REVIEWED].setChecked(True)
        self.choices[SHOWN].setEnabled(bool(shown_count))
        self.columns = self._column_boxes()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Choose File\u2026")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer = QVBoxLayout(self)
        outer.addWidget(rows)
        outer.addWidget(self.columns_box)
        outer.addWidget(buttons)

    def _column_boxes(self) -> dict[str, QCheckBox]:
        self.columns_box = QGroupBox("Columns")
        grid = QGridLayout(self.columns_box)
        boxes: dict[str, QCheckBox] = {}
        for n, name in enumerate(RESULT_FIELDS):
            box = QCheckBox(name, checked=True)
            box.setEnabled(name != "image_id")
            boxes[name] = box
            grid.addWidget(box, n // 3, n % 3)
        row = QHBoxLayout()
        for text, on in (("All", True), ("None", False)):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, on=on: self.set_columns(RESULT_FIELDS if on else []))
            row.addWidget(button)
        row.addStretch(1)
        grid.addLayout(row, len(RESULT_FIELDS) // 3 + 1, 0, 1, 3)
        return boxes

    def set_columns(self, names: list[str]) -> None:
        """Tick exactly these columns (image_id stays ticked)."""
        for name, box in self.columns.items():
            box.setChecked(name == "image_id" or name in names)

    def set_include(self, include: str) -> None:
        self.choices[include].setChecked(True)

    def options(self, shown_ids: list[str] | None = None) -> ExportOptions:
        """The choice made (SHOWN takes the ids of the list as shown)."""
        include = next(key for key, button in self.choices.items() if button.isChecked())
        columns = [name for name, box in self.columns.items() if box.isChecked()]
        return ExportOptions(include, columns, list(shown_ids or []) if include == SHOWN else None)
