"""`wanka platform` tables: one row per record, columns in order, floats to 4 digits, None empty."""

from rich.console import Console

from wanka.report.platform import records_table


def _text(table: object) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_a_list_of_records_gives_one_row_each_in_column_order() -> None:
    rows = [
        {"id": "j1", "state": "running", "cost": 12.3456789, "reason": None},
        {"id": "j2", "state": "queued", "cost": 0.5, "reason": "quota"},
    ]
    text = _text(records_table(rows, ["id", "state", "cost", "reason"], "jobs"))
    lines = [ln for ln in text.splitlines() if "j1" in ln or "j2" in ln]
    assert len(lines) == 2
    assert lines[0].index("j1") < lines[0].index("running") < lines[0].index("12.35")
    assert "None" not in text and "12.3456789" not in text
    assert "quota" in lines[1]


def test_one_record_is_one_row() -> None:
    text = _text(records_table({"id": "t1", "name": "team"}, ["id", "name"], "tenant"))
    assert "tenant" in text and sum("t1" in ln for ln in text.splitlines()) == 1
