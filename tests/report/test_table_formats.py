"""`--format csv|md`: every table a command prints, every column, as CSV or Markdown."""

from __future__ import annotations

import csv
import io

from rich.console import Group
from rich.table import Table

from wanka.report.table import Col, fit_table, render_tables, table_data


def _wide_table():
    cols = [Col("id", justify="left"), Col("HBM\nGiB"), Col("notes", keep=1)]
    rows = [["a|b", "80", "x, with a comma " * 3], ["c", "141", "short"]]
    return fit_table(cols, rows, width=30, title="[bold]chips[/]")


def test_csv_keeps_every_column_even_those_left_out_to_fit():
    t = _wide_table()
    assert len(t.columns) < 3  # the terminal table left `notes` out at 30 columns
    got = [r for r in csv.reader(io.StringIO(render_tables(t, "csv"))) if r]
    assert got[0] == ["id", "HBM GiB", "notes"]
    assert got[1][0] == "a|b" and got[1][2].startswith("x, with a comma")
    assert len(got) == 3


def test_markdown_escapes_pipes_and_titles_each_table():
    plain = Table("k", "v", title="second")
    plain.add_row("[red]x[/]", "1")
    md = render_tables(Group("some text", _wide_table(), plain), "md")
    assert "### chips" in md and "### second" in md
    assert "| a\\|b | 80 |" in md
    assert "| x | 1 |" in md  # markup dropped
    assert "some text" not in md  # lines outside tables are not part of the table output


def test_table_data_of_a_rich_table():
    t = Table("a", "b")
    t.add_row("1", "2")
    assert table_data(t) == [(None, ["a", "b"], [["1", "2"]])]
