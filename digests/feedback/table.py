"""Plain-text tables that stay aligned with Chinese text (wide characters take two columns)."""

from __future__ import annotations

from collections.abc import Sequence

from digests.rendering.lines import text_width


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers (and rates) right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(text_width(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_looks_numeric(row[i]) for row in cells[1:]) and len(cells) > 1 for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - text_width(cell))
            parts.append(pad + cell if numeric[i] else cell + pad)
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _looks_numeric(cell: str) -> bool:
    return cell in ("", "–") or cell.rstrip("%").replace(".", "", 1).isdigit()
