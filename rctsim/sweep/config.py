"""The sweep configuration file (docs/sweeps.md): its schema and loading.

Every problem in the file becomes one `InputError` line naming the file and the field. Axis values
are kept raw here (a list, one value, or a range mapping); `rctsim.sweep.axes` reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hwmodels.validation import parse_mapping, validate_model
from rctsim.baselines import parse_baseline
from rctsim.errors import InputError
from rctsim.fileread import read_text_limited
from rctsim.sweep.values import MAX_POINTS

CACTI_MM2_PER_KB = 0.108577 / 16
"""mm² per KB of SRAM: CACTI at 45 nm (itrs-hp cells, 360 K, one read-write port), a 16 KB bank
of 0.108577 mm², from the CACTI sweep shipped with the Bit Fusion simulator
(github.com/hsharma35/bitfusion, bitfusion/sram/cacti_sweep.csv, the 16384-byte row, column
`area_mm^2`); the same file the presets' leakage figures come from."""

CACTI_AREA_SOURCE = (
    "CACTI 45 nm, itrs-hp, 360 K: 16 KB bank = 0.108577 mm² (github.com/hsharma35/bitfusion, "
    "bitfusion/sram/cacti_sweep.csv) -> 6.786e-3 mm²/KB")
"""Citation of the default SRAM area figure."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)


class HardwareSpace(_Strict):
    """The hardware side of the sweep: a base description and the axes that vary it."""

    base: str = "edge_npu"
    """Hardware preset name or YAML file (relative to the sweep file) every point starts from."""
    axes: dict[str, Any] = Field(default_factory=dict)
    """Axis name -> a list of values, one value, or a range mapping (`rctsim sweep --list-axes`)."""
    sample: int | None = Field(None, ge=1, le=MAX_POINTS)
    """Draw this many points at random (seeded) instead of the full grid."""
    scale_leakage: bool = True
    """Accepted for old sweep files and ignored: SRAM leakage (and energy, area) now follows
    from each point's description in the banked SRAM model (docs/hardware.md), exactly as for
    `rctsim run`; a leakage written in the base description is an override at every point."""


class PolicySpace(_Strict):
    """The policy side of the sweep: traces used as they are, and traces the trainer makes."""

    traces: list[str] = Field(default_factory=list)
    """Trace files (relative to the sweep file) or bundled trace names, used as they are."""
    train: dict[str, Any] = Field(default_factory=dict)
    """Trainer settings shared by every trained point (`rctsim train` options: model, epochs,
    max_iterations, seed, policy, policy_params, ...)."""
    axes: dict[str, Any] = Field(default_factory=dict)
    """Axis name -> values: `policy`, trainer settings (`seed`, `lr`, ...) and policy
    parameters (`t_low`, `t_high`, `tradeoff`, `b_min`, `b_max`, `interval`, `w_q`, ...)."""
    sample: int | None = Field(None, ge=1, le=MAX_POINTS)
    """Draw this many trained points at random (seeded) instead of the full grid."""


class SimulationSpace(_Strict):
    """How each point is simulated (`rctsim run` options)."""

    baseline: str = "none"
    """Counterfactual baseline simulated beside each point (fills the `saving_*` columns):
    `none` or one named baseline with optional parameters, as `rctsim run --baseline` reads it
    (`qat`, `mixed-bf16`, `qat:w_q=4`; docs/policies.md, "Baselines")."""
    workspace_fraction: float = Field(0.25, gt=0, lt=1)
    """Share of the global buffer kept for tiles and transients (docs/model.md §3)."""

    @field_validator("baseline")
    @classmethod
    def _one_baseline(cls, value: str) -> str:
        try:
            return baseline_label(value)
        except InputError as err:  # pydantic names the file and simulation.baseline
            raise ValueError(f"{err.problem} (allowed: {err.allowed})") from None


SWEEP_BASELINES = ("none, or one baseline: qat, qat-fp16, qat-bf16, qat-int8g, fp32, mixed-fp16, "
                   "mixed-bf16, with parameters as name:key=value (e.g. qat:w_q=4)")
"""What a sweep's baseline may be (error messages)."""


def baseline_label(text: str, field: str = "--baseline", file: str = "command line") -> str:
    """A sweep's baseline (`none`, `qat`, `qat:w_q=4`, ...) read by the parser `rctsim run`
    uses (rctsim.baselines.parse_baseline), as results label it; InputError naming `file` and
    `field` otherwise (the `rctsim sweep --baseline` check before the flag is written over a
    config, so a bad value is not blamed on the file)."""
    text = text.strip()
    if text == "none":
        return text
    try:
        return parse_baseline(text, field, file=file).label
    except InputError as err:
        if err.problem.startswith("unknown baseline"):
            raise InputError(file, field, err.problem, SWEEP_BASELINES) from None
        raise


class AreaModel(_Strict):
    """SRAM area for the `sram_area_mm2` column and the `sram_area` objective: by default the
    memories' area from the hardware's own cost model (banked CACTI 45 nm, the `sram:` parts of
    the run JSON's `area_mm2`), so a sweep and `rctsim run` report one area; a written
    `mm2_per_kb` replaces it with a flat area per KB (for example another node's figure)."""

    mm2_per_kb: float | None = Field(None, gt=0)
    """mm² per KB (1 KB = 1024 bytes) of on-chip SRAM; None: the hardware's cost model
    (the earlier flat default was CACTI_MM2_PER_KB)."""
    source: str | None = None
    """Where a written `mm2_per_kb` comes from."""


class SweepConfig(_Strict):
    """A whole sweep: hardware space x policy space, how to simulate, what to optimise."""

    version: Literal[1, 2] = 1
    """Config format: 1 (every older file) or 2, which adds conditional axes (`when:`),
    `values:` mappings and `log: true` ranges (docs/sweeps.md, "Axis types"). Both are read."""
    name: str = "sweep"
    """Label shown in the summary."""
    seed: int = Field(0, ge=0)
    """Seed of the random samples."""
    hardware: HardwareSpace = Field(default_factory=HardwareSpace)
    """Hardware points."""
    policies: PolicySpace = Field(default_factory=PolicySpace)
    """Policy points (each needs a trace)."""
    simulation: SimulationSpace = Field(default_factory=SimulationSpace)
    """Simulation options."""
    objectives: list[str] = Field(default_factory=lambda: ["energy", "latency", "sram"])
    """Pareto objectives: `NAME` or `NAME:min` / `NAME:max` (docs/sweeps.md lists the names)."""
    area: AreaModel = Field(default_factory=AreaModel)
    """SRAM area model."""


def parse_sweep_config(source: str, data: dict[str, Any]) -> SweepConfig:
    """Validate a sweep mapping; problems become one InputError line."""
    return validate_model(source, data, SweepConfig)


def read_sweep_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a sweep YAML file (InputError if unreadable or not a mapping)."""
    path = Path(path)
    text = read_text_limited(path, allowed="an existing sweep YAML file")
    return parse_mapping(str(path), text, SweepConfig)


def sweep_settings(config: str | Path | dict[str, Any] | SweepConfig
                   ) -> tuple[SweepConfig, str, Path]:
    """(settings, source named in errors, folder relative paths start from) of a sweep given as
    a YAML path, a mapping or a validated SweepConfig (the Python API's three forms)."""
    if isinstance(config, SweepConfig):
        return config, "config", Path(".")
    if isinstance(config, dict):
        return parse_sweep_config("config", config), "config", Path(".")
    return parse_sweep_config(str(config), read_sweep_file(config)), str(config), \
        Path(config).parent


def load_sweep_config(path: str | Path) -> SweepConfig:
    """A validated sweep configuration from a YAML file."""
    return parse_sweep_config(str(path), read_sweep_file(path))
