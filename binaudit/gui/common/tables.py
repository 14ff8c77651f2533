"""The settings every list-like table of the app shares."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QTableWidget


def read_only_table(table: QTableWidget, headers: Sequence[str], *, select_rows: bool = True) -> QTableWidget:
    """Give table these column headers, no row numbers and no editing; clicks select whole rows."""
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    if select_rows:
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    return table
