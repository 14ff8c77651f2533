"""Plain-text tables for the command line: a header and rows, each column as wide as its widest cell."""

from __future__ import annotations

from collections.abc import Sequence

Columns = Sequence[tuple[str, str]]  # (title, alignment: "<" or ">")


def format_table(columns: Columns, rows: Sequence[Sequence[str]]) -> str:
    """Rows under the column titles, two spaces apart, trailing blanks trimmed."""
    header = [title for title, _ in columns]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for cells in [header, *rows]:
        parts = [f"{c!s:{align or '<'}{w}}" for c, (_, align), w in zip(cells, columns, widths)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
