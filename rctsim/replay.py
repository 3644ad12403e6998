"""Replay a trace on a hardware description: the pipeline from inputs to a Result.

trace + hardware -> per phase: formats -> placement -> ops -> counts -> priced ledger rows and a
SimPy step timing -> multiplied by the phase's iterations -> PolicyResult. Each distinct phase
(bits of every layer) is simulated once and each distinct op once (concepts §4: never iterate
iteration by iteration).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hwmodels.components import CostModels, build_cost_models, component_name
from hwmodels.compute import chip_area_mm2, compute_leakage_w
from hwmodels.load import hardware_digest, load_hardware
from hwmodels.registry import DEFAULT_COMPONENTS, default_registry
from hwmodels.schema import HardwareSpec
from rctsim.baselines import Baseline, is_baseline_name, parse_baseline, split_baselines
from rctsim.counting import OpCounts, StepContext, count_op
from rctsim.dependencies import dram_producers
from rctsim.engine import OpWork, StepWork, chunk_count, simulate_step
from rctsim.errors import InputError
from rctsim.footprint import Footprint, step_footprint
from rctsim.ledger import Ledger
from rctsim.nongemm import DEFAULT_INTERVAL
from rctsim.ops import GEMM_KINDS, NONGEMM_OPS, Op, layer_ops, step_schedule
from rctsim.placement import persistent_sizes, place, transient_homes
from rctsim.pricing import PJ_PER_J, price_leakage, price_op
from rctsim.result import PolicyResult, Result, summarise, summary_state
from rctsim.reuse import MachineWork, PolicyWork, ReplayCache, machine_keys
from rctsim.storage import layer_formats
from rctsim.trace import load_trace, trace_digest
from rctsim.trace.model import Trace

STALL_CAUSES: tuple[str, ...] = ("stall_dram_bandwidth", "stall_sram_bandwidth",
                                 "stall_dram_latency")
"""Stall cycles by cause, as `cycles` keys of a policy result (docs/model.md §4)."""

MAX_PHASE_ENERGY_POINTS = 2000
"""Most entries of a policy's `phase_energy` series in the run JSON (more phases are merged)."""


class SimOptions(BaseModel):
    """Modelling choices a user may change (docs/model.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    workspace_fraction: float = Field(0.25, gt=0, lt=1)
    """Share of the global buffer kept for GEMM tiles and tensors passed between ops; the rest
    holds resident tensors (weights, master copy, optimiser state, kept activations)."""
    keep_timeline: bool = True
    """Record the DMA/compute timeline of one step (for reports)."""
    qat_dgrad_weights: Literal["quantised", "master"] = "quantised"
    """Which weight copy QAT's fp32 dgrad reads: the quantised copy the forward pass used
    (dequantised into fp32 MACs; the straight-through estimator) or the fp32 master copy."""
    opt_state: Literal["fp32", "bf16", "int16", "int8", "weights"] | None = None
    """Optimiser-state format of every policy in the run (`--opt-state`); None: what each trace
    records (`opt_state_bits`), else fp32 (docs/model.md, "Optimiser state")."""
    split_stalls: bool = True
    """Split stall cycles between DRAM bandwidth and DRAM latency (a second engine run of each
    phase that has stalls, with zero DRAM latency). False skips that run: the latency share is
    counted under DRAM bandwidth; total, compute and stall cycles are unchanged (sweeps, which
    store only those, use False)."""
    first_layer_dgrad: bool = True
    """Count the dgrad GEMM of the first layer (table order) when it has one: the gradient of
    the input data, which no layer uses. Counted by default, as the papers' 3 x forward MAC
    counts do (docs/model.md §1); False drops that op."""


@dataclass
class Machine:
    """A hardware description with its cost models and array model, built once per run."""

    spec: HardwareSpec
    costs: CostModels
    array: object
    source: str
    units: dict = field(default_factory=dict, repr=False, compare=False)
    """The unit each element-wise format runs on, worked out on first use (StepContext.units)."""


def build_machine(hw: HardwareSpec | str | Path) -> Machine:
    """Load (if named) and assemble a hardware's components."""
    spec = hw if isinstance(hw, HardwareSpec) else load_hardware(hw)
    source = spec.name if isinstance(hw, HardwareSpec) else str(hw)
    registry = default_registry()
    costs = build_cost_models(spec, registry=registry)
    name = spec.components.get("array", "systolic")
    array = registry.get_component("array", name)(spec.array, source=source)
    return Machine(spec, costs, array, source)


def simulate(hw: HardwareSpec | str | Path, trace: Trace | str | Path, *,
             baseline: str | Trace | Path | Sequence[str | Trace | Path] | None = "qat",
             options: SimOptions | None = None,
             progress: Callable[[str, int, int], None] | None = None,
             cache: ReplayCache | None = None) -> Result:
    """Simulate a trace on a hardware and compare it with a baseline.

    `baseline`: a named baseline (`qat`, `qat-fp16`, `mixed-bf16`, `qat:dgrad_weights=master`,
    ...: a counterfactual, the trace's layers at that policy's formats; rctsim.baselines), a
    trace (a real run of another policy), a list of those or a comma-separated string of names
    (one comparison each; `comparison` is the first), or None. `progress(label, done, total)` is
    called after each distinct phase (bit pattern) is simulated. `cache`: work kept from
    earlier calls (rctsim.reuse; a sweep worker passes one to the points of a job); None: this
    call's own.
    """
    options = options or SimOptions()
    machine = build_machine(hw)
    cache = cache if cache is not None else ReplayCache(max_machines=1)
    dump = machine.spec.model_dump(mode="json")  # one dump: the keys, digest and result
    key, less_dataflow = machine_keys(machine.spec, machine.costs.dram, dump)
    work = cache.machine(key, less_dataflow if _default_components(machine.spec) else None,
                         machine.spec.packing)
    tr = trace if isinstance(trace, Trace) else load_trace(trace)
    trace_name = tr.header.model if isinstance(trace, Trace) else str(trace)
    own = tr.header.policy.name
    runs = {own: simulate_policy(machine, tr, role="trace", options=options, progress=progress,
                                 source=trace_name, cache=work)}
    labels: list[str] = []
    infos: dict[str, dict | None] = {}
    for one in baseline_list(baseline):
        label, base, role, info, spec = _resolve_baseline(one, tr)
        label = f"{label}_baseline" if label == own else label
        if label in runs and role == "baseline (trace)":  # a real qat run beside `qat`
            label = f"{label}_trace"
        if label in runs:
            raise InputError(*BASELINE_ARG, f"{label} is named twice",
                             "each baseline once")
        try:
            runs[label] = simulate_policy(
                machine, base, role=role, options=options, progress=progress,
                source=str(one if not isinstance(one, Trace) else base.header.model),
                baseline=spec, label=label, cache=work)
        except InputError as err:
            raise InputError(err.source, err.field, f"the {label} baseline: {err.problem}",
                             f"{err.allowed}; or another baseline (--baseline none)") from None
        labels.append(label)
        infos[label] = info
    return Result.build(hardware=machine.spec, hardware_sha256=hardware_digest(machine.spec, dump),
                        hardware_dump=dump,
                        trace=tr, trace_name=trace_name, trace_sha256=trace_digest(tr),
                        policies=runs, trace_policy=own, baseline=labels[0] if labels else None,
                        baseline_trace=infos.get(labels[0]) if labels else None,
                        options=options.model_dump(),
                        area_mm2=chip_area_mm2(machine.spec, dict(machine.costs.sram)),
                        baselines=labels, baseline_traces=infos)


def _default_components(spec: HardwareSpec) -> bool:
    """Whether the component models are the defaults: they price element-wise work without
    reading the array's dataflow (a plug-in model might), so machines that differ only in it
    share those ops (ReplayCache.machine's `elementwise_key`)."""
    return all(component_name(spec, slot) == name for slot, name in DEFAULT_COMPONENTS.items())


BASELINE_ARG = ("simulate()", "baseline")
"""Where `simulate`'s errors about its `baseline` argument say the problem is (the command line
names its own flag: rctsim.cli.run_cmd)."""


def baseline_list(baseline) -> list:
    """Normalise `simulate`'s `baseline` to a list: None -> [], a string of comma-separated
    baselines (rctsim.baselines.split_baselines) -> its items, a list -> itself."""
    if baseline is None:
        return []
    if isinstance(baseline, str):
        items = split_baselines(baseline, BASELINE_ARG[1], file=BASELINE_ARG[0])
        if not items:
            raise InputError(*BASELINE_ARG, "empty", "a baseline name or none")
        return [None if i == "none" else i for i in items if i != "none"]
    if isinstance(baseline, Trace | Path):
        return [baseline]
    items = list(baseline)
    out = []
    for i in items:
        out.extend(baseline_list(i) if isinstance(i, str) else [i])
    return out


def _resolve_baseline(baseline: str | Trace | Path, tr: Trace):
    """(label, trace to simulate, role, {name, sha256} of a real baseline trace or None,
    the parsed Baseline of a counterfactual or None)."""
    if isinstance(baseline, str) and (is_baseline_name(baseline) or _looks_like_name(baseline)):
        spec = parse_baseline(baseline, BASELINE_ARG[1], file=BASELINE_ARG[0])
        return (spec.label, counterfactual(tr, spec), "baseline (counterfactual)", None, spec)
    base = baseline if isinstance(baseline, Trace) else load_trace(baseline)
    if [(la.m, la.n, la.k) for la in base.layers] != [(la.m, la.n, la.k) for la in tr.layers]:
        raise InputError(str(baseline), "layers",
                         "the baseline trace's layer shapes differ from the trace's",
                         "a trace of the same model (same layer table)")
    if base.iterations != tr.iterations:
        raise InputError(str(baseline), "iterations",
                         f"{base.iterations} iterations against the trace's {tr.iterations}: "
                         "totals would compare runs of different lengths",
                         f"a baseline trace of {tr.iterations} iterations, or qat / fp32")
    name = base.header.model if isinstance(baseline, Trace) else str(baseline)
    return (base.header.policy.name, base, "baseline (trace)",
            {"name": name, "sha256": trace_digest(base)}, None)


def _looks_like_name(text: str) -> bool:
    """A baseline argument that is no path and no bundled trace: read as a (wrong) name."""
    if "/" in text or "." in text or Path(text).exists():
        return False
    from rctsim.trace import list_bundled_traces
    return text not in list_bundled_traces()


def counterfactual(tr: Trace, policy: str | Baseline) -> Trace:
    """The same layers and iterations at a baseline's bits, in one phase (its formats come from
    the Baseline given to simulate_policy)."""
    spec = parse_baseline(policy) if isinstance(policy, str) else policy
    policy = spec.policy
    bits = np.tile(np.array(spec.bits, dtype=np.uint8), (tr.n_layers, 1))
    params = {"w_q": spec.w_q, "a_q": spec.a_q} if policy == "qat" else {}
    keep = {k: v for k, v in tr.header.policy.params.items()
            if k in ("optimizer", "momentum", "opt_state_per_param", "lr")}
    header = tr.header.model_copy(update={
        "policy": tr.header.policy.model_copy(update={"name": policy, "params": params | keep}),
        "schedule_source": f"counterfactual: {spec.label} on the layers of "
                           f"{tr.header.model}"})
    return Trace.build(header=header, layers=tr.layers, phase_start=np.array([0]),
                       phase_bits=bits[None])


MAX_OPT_STATE_PER_PARAM = 8
"""Most optimiser state values per parameter a trace may declare (SGD momentum 1, Adam 2)."""

OPERAND_OF_TENSOR = {"weights": "w", "master_copy": "w", "activations": "a", "gradients": "g"}
"""The trace's operand column (`w`, `a`, `g`) a GEMM operand of each tensor class comes from."""


def _whole_param(tr: Trace, name: str, default: int | None, low: int, high: int,
                 source: str) -> int | None:
    """An integer policy parameter of the trace header in [low, high] (InputError otherwise)."""
    value = tr.header.policy.params.get(name, default)
    if value is None:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, int | float)
          and math.isfinite(value) and float(value).is_integer() and low <= value <= high)
    if not ok:
        raise InputError(source, f"header.policy.params.{name}", f"{str(value)[:40]!r}",
                         f"an integer {low}..{high}")
    return int(value)


def _opt_facts(tr: Trace, source: str = "<trace>") -> tuple[int, int | None]:
    per_param = _whole_param(tr, "opt_state_per_param", 1, 0, MAX_OPT_STATE_PER_PARAM, source)
    bits = _whole_param(tr, "opt_state_bits", None, 1, 32, source)
    return int(per_param or 0), bits


def _check_accumulators(schedule: list[Op], tr: Trace, start: int, source: str) -> None:
    """An integer GEMM's accumulator holds at least one product: acc >= min(a + b, 32) bits."""
    for op in schedule:
        if op.kind == "update" or op.acc.is_float or op.a.is_float or op.b.is_float:
            continue
        need = min(op.a.bits + op.b.bits, 32)
        if op.acc.bits < need:
            layer = tr.layers[op.layer]
            a = OPERAND_OF_TENSOR.get(op.a_tensor, op.a_tensor)
            b = OPERAND_OF_TENSOR.get(op.b_tensor, op.b_tensor)
            raise InputError(source, f"layers[{op.layer}] ({layer.name}).bits.acc",
                             f"{op.acc.bits} accumulator bits at iteration {start} cannot hold "
                             f"one {op.kind} product ({a} {op.a.bits} x {b} {op.b.bits} bits)",
                             f"{need}..32 bits")


def _operand_error(err: InputError, op: Op, tr: Trace, start: int,
                   source: str) -> InputError:
    """A hardware refusal of an op's operand width, named by trace, layer and operand."""
    if not err.field.startswith("array."):
        return err
    widest = None
    if err.field == "array.int_bits" and "wider than" in err.problem:
        widest = max((f for f in ("a", "b") if not getattr(op, f).is_float),
                     key=lambda f: getattr(op, f).bits, default=None)
    layer = tr.layers[op.layer]
    if widest is None:
        where = f"layers[{op.layer}] ({layer.name}).{op.kind}"
        return InputError(source, where, f"at iteration {start}, hardware {err.source}: "
                          f"{err.field}: {err.problem}", err.allowed)
    tensor = getattr(op, f"{widest}_tensor")
    operand = OPERAND_OF_TENSOR.get(tensor, tensor)
    bits = getattr(op, widest).bits
    return InputError(source, f"layers[{op.layer}] ({layer.name}).bits.{operand}",
                      f"{bits} bits ({tensor} in the {op.kind} GEMM, iteration {start}) are "
                      f"wider than the widest integer MAC of hardware {err.source} "
                      f"({err.field})", err.allowed)


def distinct_phases(tr: Trace) -> tuple[np.ndarray, np.ndarray]:
    """(first phase index of each distinct bit pattern in order of first appearance, and for
    every phase the position of its pattern in that order): one vectorised pass."""
    n_phases = len(tr.phase_start)
    rows = np.ascontiguousarray(tr.phase_bits.reshape(n_phases, -1))
    keys = rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()]


def simulate_policy(machine: Machine, tr: Trace, *, role: str, options: SimOptions,
                    progress: Callable[[str, int, int], None] | None = None,
                    source: str | None = None, baseline: Baseline | None = None,
                    label: str | None = None, cache: MachineWork | None = None) -> PolicyResult:
    """Simulate every distinct phase of a trace once; scale by its iterations over the run.

    Cost: one simulation per distinct bit pattern plus vectorised passes over the phases, so a
    trace whose bits toggle every iteration costs as much as one with two phases. `baseline`:
    the counterfactual baseline whose formats apply (None: the trace's policy); `label`: the
    name the result carries (default the trace's policy). `cache`: work of this machine key
    kept from earlier replays (rctsim.reuse; None: this replay's own).
    """
    if baseline is not None and baseline.dgrad_weights is not None:
        options = options.model_copy(update={"qat_dgrad_weights": baseline.dgrad_weights})
    total = Ledger()
    uses: dict[int, list] = {}  # id(cache entry) -> [entry, iterations it runs in, all phases]
    source = source or tr.header.model
    mw = cache if cache is not None else MachineWork()
    per_param, state_bits = _opt_facts(tr, source)
    pw = mw.policy((id(tr.layers), tr.header.policy.name, per_param, state_bits,
                    _stats_interval(tr), baseline, options.model_copy(
                        update={"keep_timeline": False, "split_stalls": False})), tr.layers)
    cycles = {"compute": 0.0, "stall": 0.0, "total": 0.0, "non_gemm": 0.0,
              **dict.fromkeys(STALL_CAUSES, 0.0)}
    cycle_parts: list[tuple] = []
    peak = None
    timeline = ()
    compute_w = compute_leakage_w(machine.spec)
    leak_w = sum(m.leakage_w for m in machine.costs.sram.values()) + sum(compute_w.values())
    clock = machine.spec.array.clock_hz
    first, which = distinct_phases(tr)
    lengths = tr.phase_lengths()
    iterations = np.bincount(which, weights=lengths, minlength=len(first))
    step_pj = np.empty(len(first))
    run_key = (tuple(tr.phase_bits[i].tobytes() for i in first), tuple(iterations.tolist()))
    dynamic = pw.dynamic if pw.dynamic is not None and pw.dynamic[0] == run_key \
        and all(k in pw.phases for k in run_key[0]) else None
    for d, phase_index in enumerate(first):
        if progress is not None:
            progress(f"{label or tr.header.policy.name} ({role})", d + 1, len(first))
        entries, step_dynamic_pj, timing, fp, ng_cycles, cycle_keys = _simulate_phase(
            machine, tr, tr.phase_bits[phase_index], mw, pw, options, (per_param, state_bits),
            start=int(tr.phase_start[phase_index]), source=source,
            baseline=baseline, keep_timeline=options.keep_timeline and not timeline)
        times = int(iterations[d])
        for entry in entries if dynamic is None else ():
            use = uses.get(id(entry))
            if use is None:
                uses[id(entry)] = [entry, times]
            else:
                use[1] += times
        cycles["non_gemm"] += ng_cycles * times
        cycles["compute"] += timing.compute_cycles * times
        cycles["stall"] += timing.stall_cycles * times
        cycles["total"] += timing.total_cycles * times
        for cause in STALL_CAUSES:
            cycles[cause] += getattr(timing, cause) * times
        cycle_parts.append((cycle_keys, timing.ops, times))  # summed when asked for
        peak = fp if peak is None else _max_fp(peak, fp)
        timeline = timeline or timing.timeline
        step_pj[d] = step_dynamic_pj + leak_w * timing.total_cycles / clock * PJ_PER_J
    if dynamic is not None:  # the same prepared phases, the same iterations: the same rows
        total, summed = dynamic[1], dynamic[2]
    else:
        for entry, times in uses.values():  # each distinct op's rows once, x its iterations
            total.extend(entry[1], times=times)
        summed = None
        if all(k in pw.phases for k in run_key[0]) and not any(
                key[0] == "*" for key in total._rows):  # leakage rows (layer *) come after
            # kept (never changed again) for a replay of the same phases on other DRAM timing
            summed = summary_state(total)
            if summed is not None:
                pw.dynamic = (run_key, total, summed)
    seconds = cycles["total"] / clock
    leak = total if summed is None else Ledger()
    price_leakage(seconds, machine.costs, leak, compute_w)
    return summarise(ledger=total, policy=label or tr.header.policy.name, role=role,
                     added=None if summed is None else leak,
                     summed=summed,
                     cycles=cycles,
                     seconds=seconds, footprint=peak, iterations=tr.iterations,
                     phases=len(tr.phase_start), distinct_phases=len(first),
                     timeline=timeline,
                     phase_energy=phase_energy_series(tr.phase_start, tr.phase_stop,
                                                      step_pj[which]),
                     nongemm_recorded=tr.nongemm_recorded, cycle_parts=tuple(cycle_parts))


def phase_energy_series(start: np.ndarray, stop: np.ndarray, pj_per_iteration: np.ndarray,
                        limit: int = MAX_PHASE_ENERGY_POINTS) -> tuple[dict[str, float], ...]:
    """Per-phase energy per iteration; more than `limit` phases are merged into `limit` runs of
    consecutive phases, each with the mean energy per iteration over its iterations (so the
    total, sum of rate x iterations, stays exact) and the number of phases it merges."""
    n = len(start)
    if n <= limit:
        return tuple({"start": int(a), "stop": int(b), "energy_pj_per_iteration": float(e)}
                     for a, b, e in zip(start, stop, pj_per_iteration, strict=True))
    edges = np.linspace(0, n, limit + 1).astype(np.int64)[:-1]
    lengths = (stop - start).astype(np.float64)
    energy = np.add.reduceat(pj_per_iteration * lengths, edges)
    group_start = start[edges]
    group_stop = np.append(start[edges[1:]], stop[-1])
    counts = np.diff(np.append(edges, n))
    rate = energy / (group_stop - group_start)
    return tuple({"start": int(a), "stop": int(b), "energy_pj_per_iteration": float(e),
                  "phases": int(c)}
                 for a, b, e, c in zip(group_start, group_stop, rate, counts, strict=True))


def _max_fp(a: Footprint, b: Footprint) -> Footprint:
    return Footprint(**{f: max(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__})


@dataclass
class PhasePrep:
    """A distinct phase up to the engine: what does not depend on DRAM timing (rctsim.reuse)."""

    entries: list[list]
    """Its ops' cache entries (counts, priced rows, engine work), in schedule order."""
    dynamic_pj: float
    """The step's energy before leakage."""
    work: StepWork
    """What the engine runs (kept with what the engine derives of it: the phase runs again at
    other DRAM timings)."""
    footprint: Footprint
    ng_cycles: float
    """Cycles of the step's non-GEMM work."""
    cycle_keys: list[tuple[str, str]]
    """(layer name, op kind) of each op, for the per-op cycle sums."""


def _simulate_phase(machine: Machine, tr: Trace, bits: np.ndarray, mw: MachineWork,
                    pw: PolicyWork, options: SimOptions, opt_facts: tuple[int, int | None],
                    start: int = 0, source: str = "<trace>", baseline: Baseline | None = None,
                    keep_timeline: bool | None = None):
    """One distinct phase: its ops counted (cached by `pw.ops`), priced and timed; the work
    before the engine is reused from `pw.phases` when this phase was prepared before. Returns
    (cache entries, energy before leakage, timing, footprint, non-GEMM cycles, the (layer,
    kind) of each op of `timing.ops`). `opt_facts`: the trace's (_opt_facts).
    `keep_timeline`: record the step's timeline (default `options.keep_timeline`; the replay
    asks only until it has one, as a result keeps the first)."""
    if keep_timeline is None:
        keep_timeline = options.keep_timeline
    key = bits.tobytes()
    prep = pw.phases.get(key)
    if prep is None:
        prep = _prepare_phase(machine, tr, bits, pw, options, opt_facts, start, source,
                              baseline)
        mw.keep_phase(pw, key, prep)
    work = prep.work
    timing = simulate_step(work, keep_timeline=keep_timeline, split_latency=options.split_stalls,
                           **engine_rates(machine))
    return prep.entries, prep.dynamic_pj, timing, prep.footprint, prep.ng_cycles, prep.cycle_keys


def _layer_work(tr: Trace, rows: list, pw: PolicyWork, machine: Machine, options: SimOptions,
                state_bits: int | None, baseline: Baseline | None):
    """Each layer's formats, ops by kind and (layer, bits) key, derived once per key
    (`pw.layer_ops`)."""
    policy = tr.header.policy.name
    formats, by_layer, keys = [], [], []
    cache = pw.layer_ops
    for i, row in enumerate(rows):
        key = (i, *row)
        keys.append(key)
        got = cache.get(key)
        if got is None:
            f = layer_formats(policy, row, opt_state_bits=state_bits,
                              packing=machine.spec.packing, opt_state=options.opt_state,
                              baseline=baseline)
            got = cache[key] = (f, layer_ops(i, tr.layers[i], f,
                                             qat_dgrad_weights=options.qat_dgrad_weights,
                                             dgrad=options.first_layer_dgrad or i > 0))
        formats.append(got[0])
        by_layer.append(got[1])
    return formats, by_layer, keys


def _prepare_phase(machine: Machine, tr: Trace, bits: np.ndarray, pw: PolicyWork,
                   options: SimOptions, opt_facts: tuple[int, int | None], start: int,
                   source: str, baseline: Baseline | None) -> PhasePrep:
    """Formats, placement, ops counted and priced, footprint and the engine's work of a phase
    (`opt_facts`: the trace's parameters per weight and optimiser state bits, _opt_facts)."""
    per_param, state_bits = opt_facts
    formats, by_layer, layer_keys = _layer_work(tr, bits.tolist(), pw, machine, options,
                                                state_bits, baseline)
    gb = machine.spec.global_buffer
    placement = place(persistent_sizes(tr.layers, formats, per_param),
                      buffer_bytes=gb.size_bytes, workspace_fraction=options.workspace_fraction)
    homes = transient_homes(tr.layers, formats, placement, pw.graph)
    ctx = StepContext(layers=tr.layers, placement=placement, homes=homes, array=machine.array,
                      rows=machine.spec.array.rows, cols=machine.spec.array.cols,
                      source=machine.source, hw=machine.spec, units=machine.units,
                      stats_interval=_stats_interval(tr))
    schedule = step_schedule(by_layer)
    checked = pw.checked  # layers (by bits) whose ops passed: the same ops pass again
    _check_accumulators([op for op in schedule if layer_keys[op.layer] not in checked], tr,
                        start, source)
    checked.update(layer_keys)
    entries = []
    chip = _on_chip_by_layer(placement.on_chip)
    ws = placement.workspace_bytes
    by_kind = [_layer_entries(pw, (key, ws, homes.key(i), chip.get(i, ())))
               for i, key in enumerate(layer_keys)]
    for op in schedule:
        got = by_kind[op.layer]
        entry = got.get(op.kind)
        if entry is None:
            ops = pw.ops if op.kind in GEMM_KINDS else pw.elementwise_ops
            try:
                entry = got[op.kind] = _count_cached(op, ctx, ops, chip)
            except InputError as err:
                raise _operand_error(err, op, tr, start, source) from None
        entries.append(entry)
    counts = [entry[0] for entry in entries]
    dynamic_pj = _price_step(entries, tr, machine.costs)
    after = dram_producers(tr.layers, schedule, counts, memo=pw.deps,
                           traffic=[entry[3] for entry in entries])
    work = StepWork(_op_work_cached(entry, tr, placement.workspace_bytes, deps)
                    for entry, deps in zip(entries, after, strict=True))
    gemm_and_update = [c for c in counts if c.op.kind not in NONGEMM_OPS]  # same transients
    ng_cycles = float(sum(c.nongemm_compute_cycles for c in counts))
    footprint = step_footprint(tr.layers, formats, placement, homes, gemm_and_update,
                               pw.graph)
    names = [layer.name for layer in tr.layers]
    return PhasePrep(entries, dynamic_pj, work, footprint, ng_cycles,
                     [(names[c.op.layer], c.op.kind) for c in counts])


def _stats_interval(tr: Trace) -> int:
    """RCT/APT's decision interval as the trace records it (the documented default if not)."""
    value = tr.header.policy.params.get("interval", DEFAULT_INTERVAL)
    return int(value) if isinstance(value, int | float) and value >= 1 else DEFAULT_INTERVAL


def engine_rates(machine: Machine) -> dict[str, float]:
    """The engine's rates in array cycles: DRAM and global-buffer bytes per cycle, DRAM latency.

    Global buffer: banks x ports x word bytes per cycle (each bank serves one word per port per
    cycle, at the array's clock: docs/model.md §4)."""
    clock = machine.spec.array.clock_hz
    gb = machine.spec.global_buffer
    return {"dram_bytes_per_cycle": machine.costs.dram.bandwidth_bytes_per_s / clock,
            "sram_bytes_per_cycle": gb.banks * gb.ports * gb.word_bits / 8,
            "latency_cycles": getattr(machine.costs.dram, "latency_s", 0.0) * clock}


def op_work(c: OpCounts, label: str, workspace_bytes: float,
            after: tuple[int, ...] = ()) -> OpWork:
    """What the engine needs of one counted op: chunks follow its tiles, each at most one of the
    two tile buffers (a quarter of the workspace: half of it holds tiles, double-buffered)."""
    chunks = chunk_count(c.tiles, c.dram_read_bytes, c.dram_write_bytes, workspace_bytes / 4)
    sram = float(sum(c.sram_read.values()) + sum(c.sram_write.values()))
    return OpWork(label=label, compute_cycles=c.compute_cycles, dram_read_bytes=c.dram_read_bytes,
                  dram_write_bytes=c.dram_write_bytes, chunks=chunks, sram_bytes=sram,
                  after=after)


def _op_work_cached(entry: list, tr: Trace, workspace_bytes: float,
                    after: tuple[int, ...]) -> OpWork:
    """op_work of a cache entry's counts, kept in the entry by its RAW dependencies (the
    entry's key already holds the op and the workspace)."""
    work = entry[2].get(after)
    if work is None:
        c = entry[0]
        work = entry[2][after] = op_work(c, f"{tr.layers[c.op.layer].name}.{c.op.kind}",
                                         workspace_bytes, after)
    return work


def new_entry(c: OpCounts) -> list:
    """A cache entry of one counted op: [counts, its priced rows (filled by _price_step), its
    OpWork by RAW dependencies (_op_work_cached), (reads DRAM, writes DRAM)]."""
    return [c, None, {}, (c.dram_read_bytes > 0, c.dram_write_bytes > 0)]


def _on_chip_by_layer(on_chip) -> dict[int, tuple[str, ...]]:
    """The placement's on-chip persistent tensors of each layer, sorted (part of an op's key)."""
    out: dict[int, list[str]] = {}
    for layer, tensor in on_chip:
        out.setdefault(layer, []).append(tensor)
    return {layer: tuple(sorted(tensors)) for layer, tensors in out.items()}


def _layer_entries(pw: PolicyWork, key: tuple) -> dict[str, list]:
    """The cache entries of one layer's ops by kind, kept by the layer's (index, bits), the
    workspace, its transient homes and on-chip tensors: everything `_count_cached`'s key holds
    of the layer's ops (their formats follow from the layer's bits), so a layer whose bits and
    homes did not change skips the per-op lookups."""
    got = pw.layer_entries.get(key)
    if got is None:
        got = pw.layer_entries[key] = {}
    return got


def _count_cached(op: Op, ctx: StepContext, cache: dict[tuple, list],
                  chip: dict[int, tuple[str, ...]]) -> list:
    """The cache entry (`new_entry`) of one op, counted once per key: the op, the workspace,
    its layer's transient homes and on-chip persistent tensors."""
    key = (op, ctx.placement.workspace_bytes, ctx.homes.key(op.layer), chip.get(op.layer, ()))
    entry = cache.get(key)
    if entry is None:
        entry = cache[key] = new_entry(count_op(op, ctx))
    return entry


def _price_step(entries: list[list], tr: Trace, costs: CostModels) -> float:
    """Price a step's ops, each distinct op once (its rows, the ones price_op writes, kept in its
    cache entry for simulate_policy to add once per run); the step's energy before leakage."""
    pj = 0.0
    for entry in entries:
        if entry[1] is None:
            c = entry[0]
            entry[1] = Ledger()
            price_op(c, tr.layers[c.op.layer].name, costs, entry[1])
        pj += entry[1].total()  # the running total of the op's rows
    return pj
