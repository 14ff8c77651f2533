"""The bin view's SKU table on real records with nulls: blanks, never the text "None"."""

from __future__ import annotations

from pathlib import Path

from binaudit.core.importer import import_dataset
from binaudit.core.store import Store


def _cells(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_null_name_and_null_measures_show_as_blanks(qtbot, sample_dir: Path, store: Store) -> None:
    from binaudit.gui.review.bin_view import SkuTable  # where the bin view takes it from, wherever it lives

    import_dataset(store, sample_dir)
    table = SkuTable()
    qtbot.addWidget(table)
    table.show_items(store.items_for_image("01037"))
    rows = {row[0]: row for row in _cells(table)}
    assert rows["B00L8MU234"][1:3] == ["", "2"] and rows["B00L8MU234"][4] == "0.71 lb"
    table.show_items(store.items_for_image("00043"))
    rows = {row[0]: row for row in _cells(table)}
    assert rows["B00OZO3XLK"] == ["B00OZO3XLK", "world trip Fancy Passport Cover", "1", "", ""]
    table.show_items(store.items_for_image("00011"))
    assert all("None" not in text for row in _cells(table) for text in row)
    table.show_items(store.items_for_image("00013"))
    assert table.rowCount() == 0
