"""The modelling assumptions `rctsim sensitivity` varies: name, range, why, source, and how a
setting changes the inputs of a run (hardware, options, baseline).

Each assumption is one knob of an existing input: a hardware field (packing, DRAM technology,
SRAM energies), a `SimOptions` field (workspace fraction, optimiser state, first-layer dgrad,
QAT's dgrad weights) or the baseline's name and parameters (its backward precision). Nothing here
prices or counts: a setting yields a `Variant` that `rctsim.sensitivity` simulates. The table
with defaults, ranges and reasons is docs/model.md, "Assumptions".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hwmodels.dram import dram_technologies
from hwmodels.schema import HardwareSpec
from rctsim.baselines import BASELINES, PARAMS, Baseline, parse_baseline
from rctsim.errors import InputError
from rctsim.replay import SimOptions
from rctsim.storage import OPT_STATES, PACKINGS


@dataclass(frozen=True)
class Variant:
    """The inputs of one run: the hardware, the options and the baseline (its label)."""

    hw: HardwareSpec
    options: SimOptions
    baseline: str


@dataclass(frozen=True)
class Context:
    """What an assumption's default and range depend on: the run's own inputs, and the
    per-byte energies, bandwidth and latency the hardware's models derive."""

    hw: HardwareSpec
    options: SimOptions
    baseline: Baseline
    sram_pj_per_byte: dict[str, tuple[float, float]]
    """Read and write pJ per byte of each memory, as derived (before any override here)."""
    dram_bandwidth_bytes_per_s: float
    dram_latency_s: float


@dataclass(frozen=True)
class Assumption:
    """One modelling assumption and its documented range."""

    name: str
    why: str
    """Why the default is what it is and why the range is what it is."""
    source: str
    """Publication, table or docs page the default and range come from."""
    default: Callable[[Context], str]
    """The run's own setting (the label of the default row)."""
    settings: Callable[[Context], tuple[str, ...]]
    """The range (default included)."""
    apply: Callable[[Context, str], Variant]
    """The run's inputs at one setting; InputError for a setting outside what it accepts."""
    allowed: str
    """What a setting may be (for error messages)."""


def _same(ctx: Context) -> Variant:
    return Variant(ctx.hw, ctx.options, ctx.baseline.label)


def _with_options(ctx: Context, **changes) -> Variant:
    return Variant(ctx.hw, ctx.options.model_copy(update=changes), ctx.baseline.label)


def _with_hw(ctx: Context, spec: HardwareSpec) -> Variant:
    return Variant(spec, ctx.options, ctx.baseline.label)


def _bad(name: str, setting: str, allowed: str) -> InputError:
    return InputError("sensitivity", "assumption", f"{name}={setting}", allowed)


# --- the baseline's backward precision ------------------------------------------------------

QAT_FAMILY = ("qat", "qat-fp16", "qat-bf16", "qat-int8g")
"""Baselines with a QAT forward pass, by backward precision: fp32, fp16, bf16, int8."""
FLOAT_FAMILY = ("fp32", "mixed-fp16", "mixed-bf16")
"""Float-forward baselines, by training precision."""


def _family(b: Baseline) -> tuple[str, ...]:
    return QAT_FAMILY if b.name in QAT_FAMILY else FLOAT_FAMILY


def _variant_label(b: Baseline, name: str) -> str:
    """`name` with the parameters of `b` that `name` accepts (w_q, a_q, dgrad_weights ...)."""
    params = {k: getattr(b, k) for k in PARAMS[name]
              if getattr(b, k) != getattr(BASELINES[b.name], k) and k in PARAMS[b.name]}
    return name + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _backward_settings(ctx: Context) -> tuple[str, ...]:
    return tuple(_variant_label(ctx.baseline, n) for n in _family(ctx.baseline))


def _backward_apply(ctx: Context, setting: str) -> Variant:
    if setting not in _backward_settings(ctx):
        raise _bad("qat_backward", setting, ", ".join(_backward_settings(ctx)))
    return Variant(ctx.hw, ctx.options, setting)


# --- optimiser state ------------------------------------------------------------------------

RECORDED = "recorded"
"""The optimiser-state setting that leaves each trace's record (else fp32) in force."""


def _opt_apply(ctx: Context, setting: str) -> Variant:
    if setting == RECORDED:
        return _with_options(ctx, opt_state=None)
    if setting not in OPT_STATES:
        raise _bad("opt_state", setting, ", ".join((RECORDED, *OPT_STATES)))
    return _with_options(ctx, opt_state=setting)


# --- DRAM -----------------------------------------------------------------------------------

NO_TECHNOLOGY = "energy_table"
"""The DRAM setting of a hardware that names no technology (energy from its energy table)."""


def _dram_default(ctx: Context) -> str:
    d = ctx.hw.dram
    if d.energy_pj_per_bit is not None:
        return f"{d.energy_pj_per_bit:g}_pj_per_bit"
    return d.technology or NO_TECHNOLOGY


def _technology_settings(ctx: Context, *, energy_only: bool) -> tuple[str, ...]:
    """The table's technologies: for energy, every one whose energies differ (hbm2e repeats
    hbm2's); for the whole technology, every one that gives a channel bandwidth."""
    seen, names = set(), []
    for name, tech in dram_technologies().items():
        if energy_only:
            key = (tech.read_pj_per_bit, tech.write_pj_per_bit, tech.activation_pj_per_bit)
        elif tech.channel_bytes_per_s is None:
            continue
        else:
            key = name
        if key not in seen:
            seen.add(key)
            names.append(name)
    default = _dram_default(ctx)
    return tuple(names) if default in names else (default, *names)


def _dram_apply(ctx: Context, setting: str, *, energy_only: bool) -> Variant:
    name = "dram_energy" if energy_only else "dram_technology"
    if setting == _dram_default(ctx):
        return _same(ctx)
    if setting not in _technology_settings(ctx, energy_only=energy_only):
        raise _bad(name, setting, ", ".join(_technology_settings(ctx, energy_only=energy_only)))
    changes: dict = {"technology": setting, "energy_pj_per_bit": None}
    if energy_only:  # keep the channel: bandwidth and latency as the hardware derives them
        changes |= {"bandwidth_bytes_per_s": ctx.dram_bandwidth_bytes_per_s,
                    "latency_ns": ctx.dram_latency_s * 1e9}
    else:
        changes |= {"bandwidth_bytes_per_s": None, "latency_ns": None}
    dram = ctx.hw.dram.model_copy(update=changes)
    return _with_hw(ctx, ctx.hw.model_copy(update={"dram": dram}))


# --- SRAM energy ----------------------------------------------------------------------------

SRAM_SCALES = ("0.5", "0.75", "1", "1.5", "2")
"""Factors on every on-chip memory's read and write energy."""


def _factor(name: str, setting: str, top: float) -> float:
    """A setting read as a factor in (0, top]; InputError naming the assumption otherwise."""
    try:
        scale = float(setting)
    except ValueError:
        scale = -1.0
    if not 0 < scale <= top:
        raise _bad(name, setting, f"a factor in (0, {top:g}], e.g. 0.5, 1, 2")
    return scale


def _sram_apply(ctx: Context, setting: str) -> Variant:
    scale = _factor("sram_energy_scale", setting, 100)
    if scale == 1:
        return _same(ctx)
    memories = []
    for m in ctx.hw.memories:
        read, write = ctx.sram_pj_per_byte[m.name]
        word = m.word_bits / 8
        memories.append(m.model_copy(update={"read_energy_pj": scale * read * word,
                                             "write_energy_pj": scale * write * word}))
    return _with_hw(ctx, ctx.hw.model_copy(update={"memories": memories}))


# --- packing, workspace, counting -----------------------------------------------------------

def _packing_apply(ctx: Context, setting: str) -> Variant:
    if setting not in PACKINGS:
        raise _bad("packing", setting, ", ".join(PACKINGS))
    return _with_hw(ctx, ctx.hw.model_copy(update={"packing": setting}))


WORKSPACE_FRACTIONS = ("0.125", "0.25", "0.375", "0.5")
"""Shares of the global buffer kept for tiles and transients."""


def _workspace_apply(ctx: Context, setting: str) -> Variant:
    try:
        value = float(setting)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise _bad("workspace_fraction", setting, "a number strictly between 0 and 1")
    return _with_options(ctx, workspace_fraction=value)


def _first_dgrad_apply(ctx: Context, setting: str) -> Variant:
    if setting not in ("counted", "skipped"):
        raise _bad("first_layer_dgrad", setting, "counted, skipped")
    return _with_options(ctx, first_layer_dgrad=setting == "counted")


def _dgrad_weights_default(ctx: Context) -> str:
    return ctx.baseline.dgrad_weights or ctx.options.qat_dgrad_weights


def _dgrad_weights_apply(ctx: Context, setting: str) -> Variant:
    if setting not in ("quantised", "master"):
        raise _bad("qat_dgrad_weights", setting, "quantised, master")
    b = ctx.baseline
    options = ctx.options.model_copy(update={"qat_dgrad_weights": setting})
    if "dgrad_weights" not in PARAMS[b.name]:  # no QAT dgrad in this baseline: the option only
        return Variant(ctx.hw, options, b.label)
    label = _variant_label(replace(b, dgrad_weights=None), b.name)
    label += ("," if ":" in label else ":") + f"dgrad_weights={setting}"
    parse_baseline(label)
    return Variant(ctx.hw, options, label)


VECTOR_SCALES = ("0.25", "0.5", "1", "2", "4")
"""Factors on the lanes of every vector compute unit."""


def _vector_apply(ctx: Context, setting: str) -> Variant:
    scale = _factor("vector_lanes", setting, 64)
    if scale == 1:
        return _same(ctx)
    units = []
    for u in ctx.hw.compute_units:
        if u.placement == "vector":
            lanes = max(1, round((u.lanes or 1) * scale))
            u = u.model_copy(update={"lanes": lanes})
        units.append(u)
    return _with_hw(ctx, ctx.hw.model_copy(update={"compute_units": units}))


def _fmt(value: float) -> str:
    return f"{value:g}"


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        "qat_backward",
        "QAT's backward GEMMs in fp32 is the papers' reading (fake-quantised forward, float "
        "backward and master); mixed-precision training runs them in fp16/bf16 with fp32 "
        "accumulation, and 8-bit-gradient training in int8. The setting replaces the baseline "
        "by its variant (a float baseline: fp32, mixed-fp16, mixed-bf16); the trace's own "
        "policy is unchanged.",
        "Jacob et al., CVPR 2018 (qat); Micikevicius et al., ICLR 2018 (fp16); Kalamkar et "
        "al., arXiv 1905.12322 (bf16); Banner et al., NeurIPS 2018 (int8 gradients); "
        "docs/policies.md, Baselines",
        lambda ctx: ctx.baseline.label, _backward_settings, _backward_apply,
        "a baseline of the run's family: qat, qat-fp16, qat-bf16, qat-int8g (or fp32, "
        "mixed-fp16, mixed-bf16)"),
    Assumption(
        "opt_state",
        "Optimiser-state format of every policy. Default: what each trace records (the bundled "
        "trainer and trace synth record it), else fp32 for every policy; the range is every "
        "format --opt-state names, applied to all policies at once.",
        "docs/model.md, Optimiser state; PyTorch optimisers keep fp32 state for fp32 "
        "parameters; Micikevicius et al., ICLR 2018 (fp32 state beside the master)",
        lambda ctx: RECORDED if ctx.options.opt_state is None else ctx.options.opt_state,
        lambda ctx: (RECORDED, *OPT_STATES), _opt_apply,
        ", ".join((RECORDED, *OPT_STATES))),
    Assumption(
        "dram_energy",
        "DRAM energy per bit moved (read, write, activation) of each technology in the table, "
        "the hardware's channel bandwidth and latency kept: only the energy per bit changes.",
        "hwmodels/memory/dram_technologies.yaml (Micron datasheet currents via DRAMPower "
        "memspecs; O'Connor et al., MICRO 2017 for HBM2; Horowitz, ISSCC 2014), docs/hardware.md",
        _dram_default, lambda ctx: _technology_settings(ctx, energy_only=True),
        lambda ctx, s: _dram_apply(ctx, s, energy_only=True),
        "a DRAM technology of hwmodels/memory/dram_technologies.yaml"),
    Assumption(
        "dram_technology",
        "The whole DRAM technology: energy per bit, channel bandwidth and access latency of "
        "each technology in the table that gives one, at the hardware's number of channels.",
        "hwmodels/memory/dram_technologies.yaml, docs/hardware.md",
        _dram_default, lambda ctx: _technology_settings(ctx, energy_only=False),
        lambda ctx, s: _dram_apply(ctx, s, energy_only=False),
        "a DRAM technology of hwmodels/memory/dram_technologies.yaml"),
    Assumption(
        "sram_energy_scale",
        "Every on-chip memory's read and write energy (global buffer and PE registers) times "
        "a factor; leakage and area unchanged. Default 1: the CACTI 45 nm banked model. The "
        "range, half to twice, is an assumption: a factor 2 is the step between Horowitz's "
        "8 KB and 32 KB SRAM reads at 45 nm (10 and 20 pJ per 64-bit word).",
        "CACTI 45 nm (docs/hardware.md §3); Horowitz, ISSCC 2014, energy table",
        lambda ctx: "1", lambda ctx: SRAM_SCALES, _sram_apply,
        "a factor in (0, 100], e.g. 0.5, 1, 2"),
    Assumption(
        "vector_lanes",
        "Lanes of every vector compute unit (the floating-point datapaths beside an integer "
        "array, where QAT's fp32 backward and the mixed-precision baselines run) times a "
        "factor, rounded, at least 1; the operand path per cycle is kept, area and leakage "
        "follow the lanes. The presets' widths are assumptions (edge_npu: a 512-bit SIMD "
        "datapath); the range, a quarter to four times, spans 128-bit to 2048-bit datapaths.",
        "hwmodels/presets (each unit's source); docs/hardware.md, compute units",
        lambda ctx: "1", lambda ctx: VECTOR_SCALES, _vector_apply,
        "a factor in (0, 64], e.g. 0.5, 1, 2"),
    Assumption(
        "packing",
        "How elements are stored: bit-packed, whole bytes or 8/16/32-bit containers. The "
        "hardware's packing is the default; RCT's odd widths are where it matters.",
        "docs/model.md §1 (Storage packing); Bit Fusion, ISCA 2018 (packed)",
        lambda ctx: ctx.hw.packing, lambda ctx: PACKINGS, _packing_apply,
        ", ".join(PACKINGS)),
    Assumption(
        "workspace_fraction",
        "Share of the global buffer kept for GEMM tiles and transients; the rest holds "
        "resident tensors. Default 0.25 (assumption); the range is an eighth to a half.",
        "docs/model.md §3 (assumption)",
        lambda ctx: _fmt(ctx.options.workspace_fraction),
        lambda ctx: tuple(dict.fromkeys(
            sorted((*WORKSPACE_FRACTIONS, _fmt(ctx.options.workspace_fraction)), key=float))),
        _workspace_apply, "a number strictly between 0 and 1"),
    Assumption(
        "first_layer_dgrad",
        "The first layer's dgrad computes the gradient of the input data, which nothing uses; "
        "the papers' MAC counts (3 x forward) include it, a real implementation skips it.",
        "docs/model.md §1",
        lambda ctx: "counted" if ctx.options.first_layer_dgrad else "skipped",
        lambda ctx: ("counted", "skipped"), _first_dgrad_apply, "counted, skipped"),
    Assumption(
        "qat_dgrad_weights",
        "Which weight copy QAT's fp32 dgrad reads: the quantised copy the forward used "
        "(straight-through estimator; what the bundled trainer does) or the fp32 master. No "
        "effect on a baseline without a QAT dgrad (fp32, mixed-*, qat-int8g).",
        "docs/model.md §1; Bengio et al., arXiv 1308.3432 (straight-through estimator)",
        _dgrad_weights_default, lambda ctx: ("quantised", "master"), _dgrad_weights_apply,
        "quantised, master"),
)
"""Every assumption `rctsim sensitivity` varies, in report order."""

BY_NAME: dict[str, Assumption] = {a.name: a for a in ASSUMPTIONS}
