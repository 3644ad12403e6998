"""The `rctsim run` summary on a terminal: laid out to the console's width, no number cut.

Each policy is a group of columns (its total and, where the width allows, per iteration). The
layout is the first of these that fits the console: every policy with both columns; every
policy, totals only; tables of the trace's policy beside as many baselines as fit. Value cells
never wrap or shorten; a table too wide even for one baseline folds its cells rather than cut
them. Off a terminal the console is wide (rctsim.cli.output.PIPE_WIDTH): the first layout, whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from rctsim.display import shown
from rctsim.result import Result
from rctsim.summary import (
    SAVING_NAMES,
    role_tag,
    shown_savings,
    summary_header,
    summary_rows,
)
from rctsim.units import percent


@dataclass
class Col:
    """One table column: its header (lines split at newlines) and its cells."""

    header: str
    cells: list[str]
    justify: str = "right"
    style: str | None = None

    def width(self) -> int:
        """Cells and header lines at full length (a no_wrap column wraps its header only at
        its newlines)."""
        lines = self.header.splitlines()
        return max([cell_len(c) for c in self.cells] + [cell_len(w) for w in lines] + [1])


@dataclass
class Group:
    """The columns of one policy (or one baseline's savings): kept together in one table."""

    cols: list[Col] = field(default_factory=list)


def table_width(label: Col, cols: list[Col]) -> int:
    """Characters a rich table of these columns takes (default box, padding 1 either side)."""
    return 1 + sum(c.width() + 3 for c in [label, *cols])


def layouts(width: int, label: Col, groups: list[Group], *, keep_first: bool,
            optional: int = 0) -> list[list[Col]]:
    """The column sets of the tables to print: all groups in one table when they fit (first
    with every column, then without each group's `optional` last columns), else the fewest
    tables of the first group (`keep_first`) beside as many others as fit; the narrowest form
    when not even one fits."""
    trimmed = [Group(g.cols[:len(g.cols) - optional] or g.cols[:1]) for g in groups]
    for form in (groups, trimmed) if optional else (groups,):
        cols = [c for g in form for c in g.cols]
        if table_width(label, cols) <= width:
            return [cols]
    head, rest = (groups[:1], groups[1:]) if keep_first else ([], groups)
    fitting = []
    for form_head, form_rest in ((head, rest), (trimmed[:len(head)], trimmed[len(head):])):
        fixed = [c for g in form_head for c in g.cols]
        tables: list[list[Col]] = []
        current: list[Col] = []
        for g in form_rest:
            if current and table_width(label, fixed + current + g.cols) > width:
                tables.append(fixed + current)
                current = []
            current += g.cols
        tables.append(fixed + current)
        # as many tables, the others shared out evenly (3 + 1 baselines become 2 + 2)
        n, k = len(form_rest), len(tables)
        even = [fixed + [c for g in form_rest[i * n // k:(i + 1) * n // k] for c in g.cols]
                for i in range(k)]
        for option in (even, tables):
            if all(table_width(label, t) <= width for t in option):
                fitting.append(option)
                break
    if fitting:  # the fewest tables; at equal count, the one with every column
        return min(fitting, key=len)
    # not even one group fits beside the labels: one narrowest group a table, cells fold
    fixed = [c for g in trimmed[:len(head)] for c in g.cols]
    return [fixed + g.cols for g in trimmed[len(head):]] or [fixed]


def render(label: Col, cols: list[Col], width: int, title: str | None = None,
           caption: str | None = None) -> Table:
    """A rich table of these columns; values never cut: no_wrap at full width where the
    table fits, folded where it cannot."""
    fits = table_width(label, cols) <= width
    table = Table(title=title, caption=caption)
    for col in [label, *cols]:
        table.add_column(col.header, justify=col.justify, style=col.style,
                         no_wrap=fits, overflow="fold",
                         min_width=col.width() if fits else None)
    for i in range(len(label.cells)):
        table.add_row(*(c.cells[i] for c in [label, *cols]))
    return table


def summary_tables(result: Result, width: int) -> list[Table]:
    """Every policy side by side in as few tables as the width allows (see module doc)."""
    rows = summary_rows(result)
    label = Col("metric", ["  " * depth + shown(text) for depth, text, _ in rows],
                justify="left")
    groups = []
    for i, (name, pr) in enumerate(result.policies.items()):
        groups.append(Group([
            Col(f"{shown(name)}\n({role_tag(pr.role)})", [cells[i][0] for *_, cells in rows]),
            Col("per\niteration", [cells[i][1] for *_, cells in rows], style="dim"),
        ]))
    chosen = layouts(width, label, groups, keep_first=True, optional=1)
    iterations = next(iter(result.policies.values())).iterations
    caption = None
    if not any(c.header.startswith("per") for c in chosen[0]):
        caption = f"totals over {iterations:,} iterations (per iteration: divide by that count)"
    return [render(label, cols, width, caption=caption) for cols in chosen]


def savings_tables(result: Result, width: int) -> list[Table]:
    """The savings against each baseline, one column per baseline, split when too wide."""
    comparisons = [c for c in (result.comparisons or {"": result.comparison}).values() if c]
    if not comparisons:
        return []
    names = list(shown_savings(comparisons[0]["savings"]))
    label = Col("saving", [SAVING_NAMES.get(n, n.replace("_", " ")) for n in names],
                justify="left")
    groups = [Group([Col(f"vs {shown(c['baseline'])}",
                         [percent(c["savings"].get(n)) for n in names])]) for c in comparisons]
    policy = shown(comparisons[0]["policy"])
    tables = []
    for cols in layouts(width, label, groups, keep_first=False):
        against = ", ".join(c.header.removeprefix("vs ") for c in cols)
        tables.append(render(label, cols, width, title=f"Savings of {policy} against {against}"))
    return tables


def print_summary(result: Result, console: Console) -> None:
    """The terminal summary: what was simulated, every policy side by side, then the savings."""
    for i, line in enumerate(summary_header(result)):
        console.print(line, style="bold" if i == 0 else None, highlight=False, soft_wrap=True,
                      markup=False)
    for table in summary_tables(result, console.width) + savings_tables(result, console.width):
        console.print(table)
