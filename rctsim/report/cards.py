"""Headline cards of a run report: the trace's policy against its baseline, metric by metric."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from rctsim.result import saving
from rctsim.units import percent, quantity

HEADLINES: tuple[tuple[str, str, str | None, str], ...] = (
    ("GEMM energy", "energy_pj", "gemm", "pJ"),
    ("Parameter movement energy", "energy_pj", "param_movement", "pJ"),
    ("DRAM traffic", "traffic_bytes", "dram_total", "B"),
    ("Parameter memory", "memory_bytes", "param_total", "B"),
    ("Peak memory", "memory_bytes", "peak_total", "B"),
    ("Latency", "seconds", None, "s"),
    ("Total energy", "energy_pj", "total", "pJ"),
)
"""(title, policy-summary field, key or None, unit) of each card, in page order."""


@dataclass(frozen=True)
class Card:
    """One headline number: the trace's policy, the baseline and the saving."""

    title: str
    unit: str
    ours: float
    base: float | None
    saving: float | None
    """1 - ours/base (0.86 = 86 % less), None without a baseline or when it is 0."""


def _read(summary: dict, field: str, key: str | None) -> float:
    value = summary[field]
    return float(value[key] if key is not None else value)


def headline_cards(run: dict) -> list[Card]:
    """The cards of a run JSON, in page order."""
    ours_summary = run["policies"][run["trace"]["policy"]]
    base_label = run["comparison"].get("baseline")
    base_summary = run["policies"][base_label] if base_label else None
    cards = []
    for title, field, key, unit in HEADLINES:
        ours = _read(ours_summary, field, key)
        base = _read(base_summary, field, key) if base_summary else None
        cards.append(Card(title=title, unit=unit, ours=ours, base=base,
                          saving=None if base is None else saving(ours, base)))
    return cards


def cards_html(cards: list[Card], *, ours_label: str, base_label: str | None) -> str:
    """The cards as an HTML grid; each card carries its raw numbers as data attributes."""
    items = []
    for c in cards:
        cls = "" if c.saving is None else (" better" if c.saving > 0 else " worse")
        base = "" if c.base is None else (
            f'<div class="vs">{escape(base_label or "")}: {quantity(c.base, c.unit)}</div>'
            f'<div class="saving{cls}">{_saving_text(c.saving)}</div>')
        items.append(
            f'<div class="card" data-metric="{escape(c.title)}" data-ours="{c.ours!r}" '
            f'data-base="{"" if c.base is None else repr(c.base)}">'
            f'<div class="title">{escape(c.title)}</div>'
            f'<div class="value">{quantity(c.ours, c.unit)}</div>'
            f'<div class="who">{escape(ours_label)}</div>{base}</div>')
    return f'<div class="cards">{"".join(items)}</div>'


def _saving_text(value: float | None) -> str:
    if value is None:
        return "saving n/a"
    return f"{percent(value)} less" if value >= 0 else f"{percent(-value)} more"
