"""Tables that stay readable in a narrow terminal: nothing is ever cut with `…`.

The rule every table in `wanka` follows (docs/output.md):

1. Ids, numbers and `file:line` cells never wrap and are never cut.
2. Free-text columns (`Col(wrap=True)`) wrap at spaces to fit; a word longer than 24 characters
   (a dotted API name in a message) folds onto the next line rather than being cut.
3. If the table is still wider than the terminal, whole columns are left out, lowest `keep` first
   (ties: rightmost first), then any left-out column that fits again is put back, highest `keep`
   first; the caption names those left out. Columns with `keep=0` are never left out.
4. `--wide` (`wide=True`) keeps every column; the table is as wide as it needs to be.

No table forces a width: the width is the terminal's (`COLUMNS`), 80 when not a terminal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

__all__ = ["FORMATS", "Col", "FitTable", "fit_table", "render_tables", "table_data", "table_width"]

FORMATS = ("table", "csv", "md", "json")
"""`--format` of the table commands: rich tables (default), CSV, Markdown, or the command's JSON."""

_BORDER = 3  # one padding space either side + one vertical rule per column
_EDGE = 1  # the closing vertical rule
_FOLD_AT = 24  # a free-text word longer than this folds onto the next line (never cut)


@dataclass(frozen=True, slots=True)
class Col:
    """One column: its header, alignment, whether it may wrap, and how late it is left out."""

    header: str
    """The header; a newline splits it over two lines to keep a numeric column narrow."""
    justify: Literal["left", "right", "center"] = "right"
    wrap: bool = False
    """Free text that may wrap at spaces; ids and numbers never wrap."""
    keep: int = 0
    """0: never left out; otherwise columns with the lowest `keep` are left out first."""


class FitTable(Table):
    """A `fit_table` table: also keeps every column, for `--format csv|md` (none is left out there)."""

    full: tuple[list[str], list[list[str]]] | None = None


def _natural(col: Col, cells: Sequence[str]) -> int:
    """Widest cell or header line (a header may hold a newline: `"HBM\\nGiB"`)."""
    return max([*(len(h) for h in col.header.split("\n")), *(len(c) for c in cells)])


def _minimum(col: Col, cells: Sequence[str]) -> int:
    """The narrowest the column can be without cutting a word (wrap columns) or a cell (others)."""
    if not col.wrap:
        return _natural(col, cells)
    words = [w for c in [col.header, *cells] for w in c.split()]
    return min(max([1, *(len(w) for w in words)]), _FOLD_AT)


def table_width(widths: Sequence[int]) -> int:
    """Characters a boxed rich table takes for columns of these content widths."""
    return sum(w + _BORDER for w in widths) + _EDGE


def _shown(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indices of the columns kept at `width` (dropping the lowest `keep`, rightmost first)."""
    columns = [[r[i] for r in rows] for i in range(len(cols))]
    mins = [_minimum(c, columns[i]) for i, c in enumerate(cols)]
    shown = list(range(len(cols)))
    order = sorted((i for i, c in enumerate(cols) if c.keep > 0), key=lambda i: (cols[i].keep, -i))
    dropped = []
    for i in order:
        if table_width([mins[j] for j in shown]) <= width:
            break
        shown.remove(i)
        dropped.append(i)
    for i in reversed(dropped):  # a narrow column left out early may fit beside the rest
        trial = sorted([*shown, i])
        if table_width([mins[j] for j in trial]) <= width:
            shown = trial
    return shown


def fit_table(
    cols: Sequence[Col],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    wide: bool = False,
    title: str | None = None,
    caption: str | None = None,
) -> Table:
    """A rich Table of `rows` (strings) that fits `width` without cutting any cell (see module doc)."""
    rows = [[str(c) for c in r] for r in rows]
    shown = list(range(len(cols))) if wide else _shown(cols, rows, width)
    left_out = [cols[i].header.replace("\n", " ") for i in range(len(cols)) if i not in shown]
    notes = [caption] if caption else []
    if left_out:
        notes.append(f"left out to fit {width} columns: {', '.join(left_out)} (--wide shows all)")
    t = FitTable(
        title=title,
        caption="\n".join(notes) or None,
        title_justify="left",
        caption_justify="left",
    )
    columns = [[r[i] for r in rows] for i in range(len(cols))]
    widths = _widths([cols[i] for i in shown], [columns[i] for i in shown], width, wide)
    for i, w in zip(shown, widths, strict=True):
        c = cols[i]
        t.add_column(c.header, justify=c.justify, no_wrap=not c.wrap, overflow="fold", width=w)
    for r in rows:
        t.add_row(*(Text(r[i]) for i in shown))
    t.full = ([c.header for c in cols], [list(r) for r in rows])
    if wide and table_width(widths) > width:
        t.width = table_width(widths)  # wider than the terminal: the caller prints it uncropped
    return t


def _widths(
    cols: Sequence[Col], columns: Sequence[Sequence[str]], width: int, wide: bool
) -> list[int]:
    """Each column's exact width: ids and numbers at their widest cell; wrap columns share the rest.

    Widths are set explicitly so that rich never shrinks a column below its widest word.
    """
    natural = [_natural(c, cells) for c, cells in zip(cols, columns, strict=True)]
    if wide:
        return natural
    widths = [_minimum(c, cells) for c, cells in zip(cols, columns, strict=True)]
    spare = width - table_width(widths)
    grow = [i for i, c in enumerate(cols) if c.wrap]
    while spare > 0 and grow:
        grow = [i for i in grow if widths[i] < natural[i]]
        for i in grow[:spare]:
            widths[i] += 1
            spare -= 1
    return widths


# ---------------------------------------------------------------- --format csv|md


def _plain(cell: Any) -> str:
    """A cell as plain text: rich markup and styles dropped, line breaks joined with spaces."""
    if isinstance(cell, Text):
        text = cell.plain
    elif isinstance(cell, str):
        text = Text.from_markup(cell).plain
    else:
        text = str(cell)
    return " ".join(text.split())


def _tables(obj: Any) -> Iterator[Table]:
    """Every rich Table in a renderable, depth first (a Group, Panel, Padding or list of them)."""
    if isinstance(obj, Table):
        yield obj
        return
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tables(o)
        return
    for attr in ("renderables", "renderable"):  # rich Group/Columns; Panel/Padding/Align
        inner = getattr(obj, attr, None)
        if inner is not None:
            yield from _tables(list(inner) if attr == "renderables" else inner)
            return


def table_data(obj: Any) -> list[tuple[str | None, list[str], list[list[str]]]]:
    """Title, headers and rows (plain text, every column, none left out) of each table in `obj`."""
    out = []
    for t in _tables(obj):
        if isinstance(t, FitTable) and t.full is not None:
            headers = [_plain(h) for h in t.full[0]]
            rows = [[_plain(c) for c in r] for r in t.full[1]]
        else:
            headers = [_plain(c.header) for c in t.columns]
            cells = [[_plain(x) for x in c.cells] for c in t.columns]
            rows = [list(r) for r in zip(*cells, strict=True)] if cells else []
        out.append((_plain(t.title) if t.title else None, headers, rows))
    return out


def render_tables(obj: Any, fmt: Literal["csv", "md"]) -> str:
    """The tables in `obj` as CSV (one block per table, a blank line after each) or Markdown (a heading per
    titled table). Text outside tables is not included: it goes to stderr (`cli.common.emit`)."""
    blocks = []
    for title, headers, rows in table_data(obj):
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(headers)
            w.writerows(rows)
            blocks.append(buf.getvalue())
            continue
        esc = [[c.replace("|", "\\|") for c in r] for r in [headers, *rows]]
        lines = [f"### {title}", ""] if title else []
        lines.append("| " + " | ".join(esc[0]) + " |")
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
        blocks.append("\n".join(lines) + "\n")
    return "".join(b + "\n" for b in blocks)  # a blank line after each table
