"""Human-readable numbers for terminal and report text: SI prefixes, joules for pJ energies."""

from __future__ import annotations

PJ_TO_J = 1e-12
"""Joules per picojoule: report figures plot energies in J."""

_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
             (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def si(value: float, unit: str, spec: str = ".3g") -> str:
    """`value` with an SI prefix, formatted by `spec` (three significant digits: `1.23 MB`)."""
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:{spec}} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def quantity(value: float, unit: str, spec: str = ".3g") -> str:
    """Like `si`, but energies in `pJ` are shown in joules."""
    return si(value * PJ_TO_J, "J", spec) if unit == "pJ" else si(value, unit, spec)


def percent(fraction: float | None) -> str:
    """A saving as a percentage, `n/a` when undefined."""
    return "n/a" if fraction is None else f"{100 * fraction:.1f} %"


def duration(seconds: float) -> str:
    """A time in the unit a person reads: `850 µs`, `2.66 s`, `4.2 min`, `1.6 h`, `3.1 d`."""
    if seconds < 60:
        return si(seconds, "s")
    for scale, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return si(seconds, "s")  # pragma: no cover


def count(value: float) -> str:
    """A count (MACs, cycles) with an SI prefix and no unit: `46.3 G`, `531 M`, `624`."""
    return si(value, "").rstrip() if abs(value) >= 1000 else f"{value:,.0f}"
