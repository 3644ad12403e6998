"""DRAM technologies: the committed table `memory/dram_technologies.yaml`, one entry per standard.

A hardware description names its technology (`dram: {technology: lpddr4}`) and gets the entry's
energies per bit, channel bandwidth (times `channels`) and access latency; a number written in
the description overrides the entry's (docs/hardware.md §3).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field

DramTechnologyName = Literal["ddr3", "ddr4", "lpddr4", "lpddr4x", "lpddr5", "hbm2", "hbm2e",
                             "horowitz_45nm"]
"""Technologies the table holds (a test checks the table has exactly these)."""

TECHNOLOGIES: tuple[str, ...] = get_args(DramTechnologyName)
"""Every technology name, in table order."""

TABLE_NAME = "dram_technologies.yaml"
"""The committed table, in `hwmodels/memory/`."""


class DramTechnology(BaseModel):
    """One DRAM standard's costs."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)

    read_pj_per_bit: Annotated[float, Field(gt=0)]
    """Energy of a column read per data bit, I/O included where the source gives it."""
    write_pj_per_bit: Annotated[float, Field(gt=0)]
    """Energy of a column write per data bit."""
    activation_pj_per_bit: Annotated[float, Field(ge=0)]
    """Row activation + precharge per data bit moved (streaming whole rows; see the source)."""
    channel_bytes_per_s: Annotated[float, Field(gt=0)] | None = None
    """Peak bandwidth of one channel (JEDEC data rate x channel width); None: not given."""
    latency_ns: Annotated[float, Field(ge=0)] | None = None
    """Access latency, activate to first data (tRCD + RL); None: not given."""
    source: str
    """Where the numbers come from and how they were derived."""


@lru_cache(maxsize=1)
def dram_technologies() -> dict[str, DramTechnology]:
    """The technology table, parsed once per process (package data, never edited)."""
    text = (resources.files("hwmodels") / "memory" / TABLE_NAME).read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    return {name: DramTechnology.model_validate(entry) for name, entry in raw.items()}


def dram_technology(name: str) -> DramTechnology:
    """One technology by name (KeyError for an unknown one; the schema rejects those first)."""
    return dram_technologies()[name]
