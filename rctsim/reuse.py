"""Work a replay computes once and reuses wherever its inputs are the same.

A `ReplayCache` is an explicit object handed to `rctsim.replay.simulate` (`cache=`); without one,
each call makes its own, so nothing outlives a run. What it keeps, by what it depends on:

per *machine key* (the hardware description less its name, description and DRAM, plus the
DRAM's energy per byte read and written: everything counting and pricing read; DRAM bandwidth
and latency reach only the engine) and *policy key* (the trace's layer table, the policy and
its parameters, the baseline, the options):

- every distinct op's counts, priced ledger rows and engine work (`rctsim.replay.
  _count_cached`), so the phases of a replay, and hardware points that differ only in DRAM
  timing, share them (the update and non-GEMM ops also between points that differ only in the
  array's dataflow, which only the GEMMs' timing reads, where the default component models
  price them);
- each layer's formats and ops by its bits (a phase that changes one layer's bits re-derives
  that layer only; shared by the machine keys with the same storage packing);
- prepared phases (placement, counted and priced ops, footprint, the engine's work list) by
  the phase's bits, so a replay of the same trace on such a hardware point runs only the engine
  and the summary;
- the last replay's ledger before leakage and its summary sums, so such a replay adds and sums
  only the leakage rows (rows are added in the same order: the sums are the same to the bit).

Memory is bounded: at most `max_machines` machine keys (least recently used dropped first), and
per policy key one replay's ledger and at most `max_phases` prepared phases (later ones are not
kept: a trace with thousands of distinct phases meets each once per replay). The ops of one
machine key grow with the distinct ops met, as within one replay.
"""

from __future__ import annotations

import importlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from rctsim.placement import LayerGraph, layer_graph

MAX_MACHINES = 4
"""Machine keys a `ReplayCache` keeps by default (a sweep job's points share one at a time)."""

MAX_PHASES = 64
"""Prepared phases kept per policy key by default."""


@dataclass
class PolicyWork:
    """What one policy's replay on one machine key reuses."""

    layers: tuple
    """The trace's layer table (held so that the `id` in the policy key stays its own)."""
    graph: LayerGraph
    """Its shape (rctsim.placement.layer_graph)."""
    ops: dict[tuple, list] = field(default_factory=dict)
    """Op key -> [counts, priced rows, engine work by dependencies] (rctsim.replay) of the
    GEMMs."""
    elementwise_ops: dict[tuple, list] = field(default_factory=dict)
    """The same of the other ops (update, non-GEMM work), shared with the machine keys that
    differ only in the array's dataflow (`ReplayCache.machine`)."""
    layer_ops: dict[tuple, tuple] = field(default_factory=dict)
    """(layer index, its bits) -> (LayerFormats, ops by kind)."""
    checked: set[tuple] = field(default_factory=set)
    """(layer index, its bits) whose ops passed the accumulator check."""
    layer_entries: dict[tuple, dict] = field(default_factory=dict)
    """((layer index, its bits), workspace, the layer's transient homes and on-chip tensors)
    -> its ops' entries of `ops` by kind."""
    deps: dict[tuple, list] = field(default_factory=dict)
    """Schedule shape -> candidate DRAM producers of each op (rctsim.dependencies)."""
    dynamic: tuple | None = None
    """The last replay's (phases' bits and iterations, its ledger before leakage, the summary
    sums over that ledger, rctsim.result.summary_state): the next replay of the same phases
    (other DRAM timing) starts from them. One only."""
    phases: dict[bytes, Any] = field(default_factory=dict)
    """A phase's bits -> its prepared phase (rctsim.replay.PhasePrep)."""


@dataclass
class MachineWork:
    """What replays on one machine key reuse."""

    policies: dict[tuple, PolicyWork] = field(default_factory=dict)
    """Policy key -> its reusable work."""
    max_phases: int = MAX_PHASES
    elementwise: dict[tuple, tuple] = field(default_factory=dict)
    """Policy key -> (its layer table, PolicyWork.elementwise_ops): one dict for every machine
    key that differs from this one only in the array's dataflow."""
    layer_ops: dict[tuple, tuple] = field(default_factory=dict)
    """Policy key -> (its layer table, PolicyWork.layer_ops): one dict for every machine key
    with the same storage packing (the only thing of the machine a layer's formats read)."""

    def policy(self, key: tuple, layers: tuple) -> PolicyWork:
        """The work of a policy key (made on first use)."""
        work = self.policies.get(key)
        if work is None:
            shared = self.elementwise.get(key)
            if shared is None or shared[0] is not layers:  # (an id in the key may be reused)
                shared = self.elementwise[key] = (layers, {})
            formats = self.layer_ops.get(key)
            if formats is None or formats[0] is not layers:
                formats = self.layer_ops[key] = (layers, {})
            work = self.policies[key] = PolicyWork(layers, layer_graph(layers),
                                                   elementwise_ops=shared[1],
                                                   layer_ops=formats[1])
        return work

    def keep_phase(self, work: PolicyWork, bits: bytes, prep: Any) -> None:
        """Keep a prepared phase while the policy's share is not full."""
        if len(work.phases) < self.max_phases:
            work.phases[bits] = prep


class ReplayCache:
    """Reusable replay work by machine key, least recently used machine keys dropped first."""

    def __init__(self, max_machines: int = MAX_MACHINES, max_phases: int = MAX_PHASES) -> None:
        if max_machines < 1 or max_phases < 0:
            raise ValueError("max_machines >= 1 and max_phases >= 0")
        self.max_machines = max_machines
        self.max_phases = max_phases
        self._machines: OrderedDict[str, MachineWork] = OrderedDict()
        self._elementwise: OrderedDict[str, dict] = OrderedDict()
        self._layer_ops: OrderedDict[str, dict] = OrderedDict()

    def machine(self, key: str, elementwise_key: str | None = None,
                packing: str | None = None) -> MachineWork:
        """The work of a machine key (made on first use; marks it most recently used).
        `elementwise_key`: the key less the array's dataflow, where the element-wise ops'
        counts and prices do not depend on it (rctsim.replay: default component models);
        machine keys with the same one share those ops (at most `max_machines` such keys).
        `packing`: the machine's storage packing; machine keys with the same one share each
        layer's formats and ops by its bits."""
        work = self._machines.get(key)
        if work is None:
            work = self._machines[key] = MachineWork(max_phases=self.max_phases)
            if elementwise_key is not None:
                work.elementwise = _lru(self._elementwise, elementwise_key, dict,
                                        self.max_machines)
            if packing is not None:
                work.layer_ops = _lru(self._layer_ops, packing, dict, self.max_machines)
            while len(self._machines) > self.max_machines:
                self._machines.popitem(last=False)
        else:
            self._machines.move_to_end(key)
        return work

    def __len__(self) -> int:
        return len(self._machines)


def _lru(table: OrderedDict, key: str, make, most: int):
    """table[key] (made by `make()` on first use), marked most recently used; at most `most`."""
    value = table.get(key)
    if value is None:
        value = table[key] = make()
        while len(table) > most:
            table.popitem(last=False)
    else:
        table.move_to_end(key)
    return value


def machine_key(spec, dram_costs, dataflow: bool = True, dump: dict | None = None) -> str:
    """What counting and pricing read of a machine: its description less the name, description
    and DRAM, and the DRAM's energy per byte read and written (`dram_costs`: the DramModel);
    `dataflow=False` leaves out the array's dataflow too (what the element-wise ops read).
    `dump`: `spec.model_dump(mode="json")` where the caller has made it already (not changed)."""
    full, less_dataflow = machine_keys(spec, dram_costs, dump)
    return full if dataflow else less_dataflow


def machine_keys(spec, dram_costs, dump: dict | None = None) -> tuple[str, str]:
    """(`machine_key`, `machine_key` with dataflow=False), the JSON text made once: the key
    with the dataflow is the one without it and the dataflow's name."""
    if dump is None:
        data = spec.model_dump(mode="json", exclude={"name", "description", "dram"})
    else:
        data = {k: v for k, v in dump.items() if k not in ("name", "description", "dram")}
    data["array"] = {k: v for k, v in data["array"].items() if k != "dataflow"}
    data["dram_pj_per_byte"] = [float(dram_costs.read_pj_per_byte),
                                float(dram_costs.write_pj_per_byte)]
    less = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return f"{less}|dataflow={spec.array.dataflow}", less


PROCESS_MEMOS: tuple[tuple[str, str], ...] = (
    ("rctsim.mapping", "_choose_mapping"), ("rctsim.mapping", "_candidates_of"),
    ("rctsim.storage", "_layer_formats"), ("hwmodels.systolic", "cached_gemm_timing"))
"""(module, name) of the memos of pure functions a process keeps across runs: the mapping
search, its tile candidates, a layer's formats by its bits, GEMM timings of the array model.
(Parsed presets and energy tables are kept too, as loading, not as work of a run.)"""


def clear_process_memos() -> None:
    """Empty PROCESS_MEMOS, so the next run costs what it costs in a fresh process (benchmarks
    and studies time that; results never depend on it)."""
    for module, name in PROCESS_MEMOS:
        getattr(importlib.import_module(module), name).cache_clear()
