"""The `rctsim run` summary on a terminal of 60-120 columns: every number whole (no `…`, no
line wider than the terminal), as few tables as fit; off a terminal one whole table."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.console import Console

import rctsim
from rctsim.cli.output import PIPE_WIDTH
from rctsim.cli.run_summary import Col, Group, layouts, print_summary, table_width
from rctsim.units import duration

FOUR = ["qat", "qat-fp16", "mixed-bf16", "fp32"]


@pytest.fixture(scope="module")
def results():
    return {1: rctsim.simulate("edge_npu", "resnet", baseline="qat"),
            4: rctsim.simulate("edge_npu", "resnet", baseline=FOUR)}


def _render(result, width: int) -> list[str]:
    con = Console(width=width, force_terminal=True, color_system=None, highlight=False)
    with con.capture() as cap:
        print_summary(result, con)
    return cap.get().splitlines()


def _table_lines(lines: list[str]) -> list[str]:
    """The tables' lines (the header sentences above them are printed unwrapped, as prose)."""
    return [line for line in lines if line[:1] in "┏┃┡│└" or line.strip().startswith(
        ("Savings", "totals"))]


def _rows(lines: list[str], label: str) -> list[list[str]]:
    """The cells of every table row whose metric is `label`, one list per table."""
    return [[c.strip() for c in line.split("│")[2:-1]] for line in lines
            if line.startswith("│") and line.split("│")[1].strip() == label]


@pytest.mark.parametrize("width", [100, 120])
@pytest.mark.parametrize("n", [1, 4])
def test_no_value_is_cut(results, width, n):
    result = results[n]
    lines = _render(result, width)
    assert "…" not in "\n".join(lines)
    assert all(cell_len(line) <= width for line in _table_lines(lines))
    # every policy's time appears whole (formatted independently of the table code)
    times = [c for row in _rows(lines, "Time") for c in row]
    for pr in result.policies.values():
        assert duration(pr.seconds) in times
    # and the headers name every policy on one line each
    header_text = "\n".join(line for line in lines if line.startswith("┃"))
    for name in result.policies:
        assert f" {name} " in header_text


def test_one_baseline_keeps_per_iteration_at_100(results):
    lines = _render(results[1], 100)
    assert sum(line.startswith("┃ metric") for line in lines) == 1
    rct, qat = results[1].policies["rct"], results[1].policies["qat"]
    (time_row,) = _rows(lines, "Time")
    assert time_row == [duration(rct.seconds), duration(rct.seconds / rct.iterations),
                        duration(qat.seconds), duration(qat.seconds / qat.iterations)]


def test_four_baselines_one_table_of_totals_at_100_and_120(results):
    for width in (100, 120):
        lines = _render(results[4], width)
        assert sum(line.startswith("┃ metric") for line in lines) == 1
        assert not any("iteration" in line for line in lines if line.startswith("┃"))
        assert any(f"totals over {results[4].policies['rct'].iterations:,}" in line
                   for line in lines)
        (time_row,) = _rows(lines, "Time")
        assert time_row == [duration(pr.seconds) for pr in results[4].policies.values()]


def test_narrow_terminal_splits_into_tables_each_with_the_trace_policy(results):
    lines = _render(results[4], 60)
    assert "…" not in "\n".join(lines)
    assert all(cell_len(line) <= 60 for line in _table_lines(lines))
    time_rows = _rows(lines, "Time")
    assert len(time_rows) >= 2  # split
    rct = duration(results[4].policies["rct"].seconds)
    assert all(row[0] == rct for row in time_rows)
    shown = {c for row in time_rows for c in row}
    assert all(duration(pr.seconds) in shown for pr in results[4].policies.values())


def test_off_a_terminal_one_whole_table_with_per_iteration(results):
    lines = _render(results[4], PIPE_WIDTH)
    assert sum(line.startswith("┃ metric") for line in lines) == 1
    (time_row,) = _rows(lines, "Time")
    assert len(time_row) == 2 * len(results[4].policies)


def test_layouts_by_hand():
    """Widths counted by hand: a column takes its widest cell or header line + 3, plus 1."""
    label = Col("m", ["abcd"])  # 4 wide
    groups = [Group([Col("a", ["12345"]), Col("p", ["1"])]) for _ in range(3)]
    assert table_width(label, [c for g in groups for c in g.cols]) == 1 + 7 + 3 * (8 + 4)
    assert len(layouts(44, label, groups, keep_first=True, optional=1)[0]) == 6  # all fit
    assert layouts(43, label, groups, keep_first=True, optional=1) == [
        [g.cols[0] for g in groups]]  # totals only: 1 + 7 + 3 * 8 = 32
    # 24 columns: the totals of the first beside one other (1 + 7 + 8 + 8 = 24)
    tables = layouts(24, label, groups, keep_first=True, optional=1)
    assert [len(t) for t in tables] == [2, 2] and all(t[0] is groups[0].cols[0] for t in tables)
    # five groups at 40 columns: totals of the first + 3 others fit (1 + 7 + 4 * 8 = 40), so two
    # tables, the four others shared 2 + 2 rather than 3 + 1
    five = [Group([Col("a", ["12345"]), Col("p", ["1"])]) for _ in range(5)]
    tables = layouts(40, label, five, keep_first=True, optional=1)
    assert [len(t) for t in tables] == [3, 3]
    assert [t[1:] for t in tables] == [[five[1].cols[0], five[2].cols[0]],
                                       [five[3].cols[0], five[4].cols[0]]]
