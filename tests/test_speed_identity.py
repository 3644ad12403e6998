"""The replay's speed-ups (op counts and priced rows cached per distinct op and per layer, the
ledger's running energy total and one-pass summary, the engine's leaner event loop, the memoised
mapping search and energy lookups, dependencies derived once per schedule shape, the sweep
worker's ReplayCache shared between points) give the same results, to 1e-12 relative, as the
straightforward path: every op counted and priced afresh in every phase, every total a scan over
all ledger rows, every energy computed from the table, the engine loop of main c0e2661
(tests/engine_reference.py), a fresh simulate per sweep point.

Every bundled trace x every bundled preset, cut to two phases (fast, not timed).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from hwmodels.components import TableMac
from hwmodels.elementwise import ElementwiseEnergy, op_energy_pj, rng_op_pj
from hwmodels.load import list_presets
from rctsim import engine, replay
from rctsim.counting import count_op
from rctsim.errors import InputError
from rctsim.ledger import KEY_FIELDS, Ledger, Query, _match
from rctsim.pricing import price_op
from rctsim.trace import load_trace
from rctsim.trace.model import Trace
from tests import engine_reference

TRACES = sorted((Path(__file__).resolve().parents[1] / "workloads" / "traces").glob("*.trace"))
REL = 1e-12


def _reference_total(self: Ledger, field: str = "energy_pj", **where) -> float:
    """The plain definition: scan every row."""
    idx = 0 if field == "quantity" else 1
    out = 0.0
    for key, cell in self._rows.items():
        if all(_match(key[KEY_FIELDS.index(f)], v) for f, v in where.items()):
            out += cell[idx]
    return out


def _reference_breakdown(self: Ledger, by: str, field: str = "energy_pj", **where):
    """The plain definition: scan every row."""
    idx, pos = (0 if field == "quantity" else 1), KEY_FIELDS.index(by)
    out: dict[str, float] = {}
    for key, cell in self._rows.items():
        if all(_match(key[KEY_FIELDS.index(f)], v) for f, v in where.items()):
            out[key[pos]] = out.get(key[pos], 0.0) + cell[idx]
    return out


def _reference_query(self: Query, ledger: Ledger, start=None):
    """Every total and breakdown of a Query as its own scan of all rows (the reference path
    never goes on from a state: summary_state gives none)."""
    assert start is None
    def name(idx: int) -> str:
        return "quantity" if idx == 0 else "energy_pj"

    totals = [_reference_total(ledger, name(idx), **where) for idx, where in self._totals]
    groups = [_reference_breakdown(ledger, KEY_FIELDS[pos], name(idx), **where)
              for pos, idx, where in self._breakdowns]
    return totals, groups


def _reference_producers(layers, schedule, counts, memo=None, traffic=None):
    """The dependencies as main c0e2661 derived them: every op's sources afresh."""
    pos = {(op.layer, op.kind): idx for idx, op in enumerate(schedule)}
    index = {layer.name: i for i, layer in enumerate(layers)}
    preds = [[index[p] for p in layer.preds] for layer in layers]
    gemm_consumers: dict[int, list[int]] = {i: [] for i in range(len(layers))}
    for j, layer in enumerate(layers):
        if layer.preds and layer.has_gemm:
            gemm_consumers[index[layer.preds[0]]].append(j)

    def forward_of(i, seen=frozenset()):
        if (i, "fwd") in pos:
            return [(i, "fwd")]
        if i in seen:
            return []
        return [f for p in preds[i] for f in forward_of(p, seen | {i})]

    out = []
    for idx, (op, c) in enumerate(zip(schedule, counts, strict=True)):
        if c.dram_read_bytes <= 0:
            out.append(())
            continue
        i = op.layer
        x_in = [f for p in preds[i] for f in forward_of(p)]
        dy = [(j, "dgrad") for j in gemm_consumers[i][:1]]
        if op.kind == "fwd":
            sources = x_in
        elif op.kind == "dgrad":
            sources = dy + ([] if layers[i].has_weights else [(i, "fwd"), *x_in])
        elif op.kind == "wgrad":
            sources = [(i, "fwd"), *x_in, *dy]
        else:
            sources = [(i, "wgrad")]
        deps = {pos[s] for s in sources if s in pos}
        out.append(tuple(sorted(d for d in deps if d < idx and counts[d].dram_write_bytes > 0)))
    return out


def _reference_patches(m) -> list:
    """Every cache and shortcut of the replay replaced by the plain computation; returns a list
    that gains an item per reference engine run (so a test can see the reference ran)."""
    m.setattr(replay, "_count_cached", _reference_count)
    m.setattr(replay, "_layer_entries", lambda pw, key: {})
    m.setattr(replay, "_price_step", _reference_price)
    m.setattr(replay, "dram_producers", _reference_producers)
    m.setattr(replay, "summary_state", lambda ledger: None)  # every summary a whole pass
    m.setattr(Ledger, "total", _reference_total)
    m.setattr(Ledger, "breakdown", _reference_breakdown)
    m.setattr(Query, "run", _reference_query)
    m.setattr(TableMac, "mac_energy_pj",
              lambda self, *, a_bits, b_bits, is_float=False, acc_bits=32:
              self._mac_energy_pj(a_bits, b_bits, is_float, acc_bits))
    m.setattr(ElementwiseEnergy, "op_pj",
              lambda self, op, bits, is_float: op_energy_pj(self.table, op, bits, is_float))
    m.setattr(ElementwiseEnergy, "rng_pj", lambda self: rng_op_pj(self.table))
    # the engine of main c0e2661 (SimPy), whichever engine the default would pick (the compiled
    # one where it was built)
    m.setattr(engine, "default_engine", lambda: "fast")
    runs: list = []

    def reference_run(*args):
        runs.append(1)
        return engine_reference._run(*args)

    m.setattr(engine, "_run", reference_run)
    return runs


def _reference_count(op, ctx, cache, chip):
    """No cache: every op of every phase counted afresh."""
    return replay.new_entry(count_op(op, ctx))


def _reference_price(entries, tr, costs) -> float:
    """Every op of the step priced afresh; the step's energy a scan of its own rows."""
    ledger = Ledger()
    for entry in entries:
        entry[1] = Ledger()
        price_op(entry[0], tr.layers[entry[0].op.layer].name, costs, entry[1])
        price_op(entry[0], tr.layers[entry[0].op.layer].name, costs, ledger)
    return _reference_total(ledger)


def _two_phases(tr: Trace) -> Trace:
    """The trace's first phase, then its last bits from the middle of the run on (the pair most
    likely to differ in placement, so the op cache meets the same op under other homes)."""
    if len(tr.phase_start) == 1:
        return tr
    return Trace.build(header=tr.header, layers=tr.layers,
                       phase_start=np.array([0, tr.iterations // 2]),
                       phase_bits=tr.phase_bits[[0, -1]])


def _run(preset: str, tr: Trace):
    """The result with the QAT baseline, or without one where the baseline does not run here
    (None when the trace itself does not run on this preset)."""
    for baseline in ("qat", None):
        try:
            return replay.simulate(preset, tr, baseline=baseline)
        except InputError:
            continue
    return None


def _assert_same(fast, ref, where: str) -> None:
    if isinstance(ref, dict):
        assert set(fast) == set(ref), where
        for key in ref:
            _assert_same(fast[key], ref[key], f"{where}.{key}")
    elif isinstance(ref, list | tuple):
        assert len(fast) == len(ref), where
        for i, (a, b) in enumerate(zip(fast, ref, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(ref, float | int) and not isinstance(ref, bool):
        assert math.isclose(fast, ref, rel_tol=REL, abs_tol=0.0), (where, fast, ref)
    else:
        assert fast == ref, where


@pytest.mark.parametrize("trace_path", TRACES, ids=[p.stem for p in TRACES])
def test_fast_replay_equals_the_straightforward_one(trace_path, monkeypatch):
    tr = _two_phases(load_trace(trace_path))
    ran = 0
    for preset in list_presets():
        fast = _run(preset, tr)
        with monkeypatch.context() as m:
            engine_runs = _reference_patches(m)
            ref = _run(preset, tr)
        assert (fast is None) == (ref is None), preset
        if ref is None:
            continue
        assert engine_runs, "the reference replay did not run the reference engine"
        ran += 1
        assert fast.baseline == ref.baseline
        for label, pr in ref.policies.items():
            got = fast.policies[label].to_dict()
            _assert_same(got, pr.to_dict(), f"{trace_path.stem}/{preset}/{label}")
            assert [(r.layer, r.op, r.component, r.action, r.tensor, r.bits)
                    for r in fast.policies[label].rows] == \
                   [(r.layer, r.op, r.component, r.action, r.tensor, r.bits) for r in pr.rows]
    assert ran >= 1, "the trace runs on no preset"


def test_running_total_is_the_sum_of_the_rows():
    rng = np.random.default_rng(3)
    ledger, other = Ledger(), Ledger()
    for target in (ledger, other) * 200:
        target.add(layer=f"l{rng.integers(5)}", op="fwd", component="dram", action="read",
                   tensor="weights", bits="-", quantity=float(rng.random()),
                   energy_pj=float(rng.random() * 10 ** rng.integers(0, 6)))
    ledger.extend(other, times=37)
    plain = math.fsum(r.energy_pj for r in ledger.rows())
    assert ledger.total() == pytest.approx(plain, rel=REL)
    assert ledger.total(layer="l1") == _reference_total(ledger, layer="l1")


def test_filtered_totals_equal_a_scan_of_the_rows():
    rng = np.random.default_rng(5)
    ledger = Ledger()
    choice = {"layer": ["conv1", "conv2", "fc", "*"], "op": ["fwd", "dgrad", "wgrad", "*"],
              "component": ["array", "vector", "sram:gb", "sram:pe", "dram"],
              "action": ["mac", "read", "write", "leak"], "tensor": ["weights", "grads", "-"],
              "bits": ["int8xint8", "fp32", "-"]}
    for _ in range(500):
        ledger.add(**{f: str(rng.choice(v)) for f, v in choice.items()},
                   quantity=float(rng.random()), energy_pj=float(rng.random()))
    filters = [{}, {"component": "sram:*"}, {"component": ("dram", "sram:*"), "op": "fwd"},
               {"action": ("read", "write"), "bits": "-", "layer": "conv*"},
               {"tensor": "nothing"}, {"op": ("fwd", "dgrad", "wgrad"), "action": "mac"}]
    for where in filters:
        for field in ("quantity", "energy_pj"):
            want = _reference_total(ledger, field, **where)
            assert ledger.total(field, **where) == pytest.approx(want, rel=REL)
            assert ledger.breakdown("layer", field, **where) == \
                   pytest.approx(_reference_breakdown(ledger, "layer", field, **where), rel=REL)


def _random_work(rng: np.random.Generator, n_ops: int) -> list:
    """Ops of every kind the engine meets: no DRAM, reads only, writes only, both; one chunk
    or many; RAW dependencies on earlier ops."""
    work = []
    for i in range(n_ops):
        kind = rng.integers(4)
        after = tuple(sorted({int(x) for x in rng.integers(0, i, rng.integers(0, 3))})) if i else ()
        work.append(engine.OpWork(
            label=f"op{i}", compute_cycles=float(rng.choice([0.0, rng.uniform(1, 5e4)])),
            dram_read_bytes=float(rng.uniform(1, 4e5)) if kind in (1, 3) else 0.0,
            dram_write_bytes=float(rng.uniform(1, 4e5)) if kind in (2, 3) else 0.0,
            chunks=int(rng.choice([1, 2, 3, int(rng.integers(4, 5000))])),
            sram_bytes=float(rng.uniform(0, 1e6)), after=after))
    return work


@pytest.mark.parametrize("seed", range(8))
def test_engine_loop_equals_the_reference_loop(seed, monkeypatch):
    """The lean event loop gives the reference loop's timing, op by op and on the timeline."""
    rng = np.random.default_rng(seed)
    work = _random_work(rng, int(rng.integers(1, 40)))
    kw = {"dram_bytes_per_cycle": float(rng.uniform(2, 64)),
          "sram_bytes_per_cycle": float(rng.choice([math.inf, rng.uniform(8, 512)])),
          "latency_cycles": float(rng.choice([0.0, rng.uniform(1, 300)]))}
    for merge in (True, False):
        fast = engine.simulate_step(work, keep_timeline=True, merge=merge, **kw)
        with monkeypatch.context() as m:
            m.setattr(engine, "_run", engine_reference._run)
            ref = engine.simulate_step(work, keep_timeline=True, merge=merge, engine="fast",
                                       **kw)
        assert fast.simulated_chunks == ref.simulated_chunks
        _assert_same(fast.__dict__, ref.__dict__, f"seed {seed} merge {merge}")


def test_cached_rows_follow_every_change():
    """rows() is kept between changes: a later add or extend shows, and changing the list a
    caller got changes nothing."""
    ledger, other = Ledger(), Ledger()
    row = {"op": "fwd", "component": "dram", "action": "read", "tensor": "weights", "bits": "-"}
    ledger.add(layer="b", **row, quantity=1.0, energy_pj=2.0)
    first = ledger.rows()
    first.clear()
    assert [(r.layer, r.quantity) for r in ledger.rows()] == [("b", 1.0)]
    ledger.add(layer="a", **row, quantity=3.0, energy_pj=4.0)
    assert [(r.layer, r.quantity) for r in ledger.rows()] == [("a", 3.0), ("b", 1.0)]
    other.add(layer="b", **row, quantity=5.0, energy_pj=6.0)
    ledger.extend(other, times=2.0)
    assert [(r.layer, r.quantity) for r in ledger.rows()] == [("a", 3.0), ("b", 11.0)]
    assert ledger.total(layer="b") == 2.0 + 12.0


@pytest.mark.parametrize("preset", ["edge_npu", "mcu_npu"])
def test_unsplit_stalls_keep_every_total(preset):
    """`split_stalls=False` (sweeps) skips the zero-latency run: total, compute and stall cycles,
    energies and traffic are exactly those of the split run; the stall it does not split is the
    split run's DRAM bandwidth + DRAM latency shares, reported under DRAM bandwidth."""
    trace = load_trace(TRACES[0])
    split = replay.simulate(preset, trace, baseline="qat")
    whole = replay.simulate(preset, trace, baseline="qat",
                            options=replay.SimOptions(split_stalls=False))
    assert any(p.cycles["stall_dram_latency"] > 0 for p in split.policies.values())
    for label, a in split.policies.items():
        b = whole.policies[label]
        for key in ("compute", "stall", "total", "non_gemm", "stall_sram_bandwidth"):
            assert b.cycles[key] == a.cycles[key], (label, key)
        assert b.cycles["stall_dram_latency"] == 0
        assert b.cycles["stall_dram_bandwidth"] == pytest.approx(
            a.cycles["stall_dram_bandwidth"] + a.cycles["stall_dram_latency"], rel=REL)
        assert b.energy_pj == a.energy_pj and b.traffic_bytes == a.traffic_bytes


def test_summary_query_equals_scans_of_the_rows():
    """Query.run (summarise's one pass) gives each filter's scan, bit for bit, over ledgers
    that share keys (its per-key memo is reused) and ledgers that do not."""
    rng = np.random.default_rng(11)
    choice = {"layer": ["conv1", "conv2", "fc", "*"], "op": ["fwd", "dgrad", "wgrad", "*"],
              "component": ["array", "vector", "sram:gb", "sram:pe", "dram", "unit:fpu"],
              "action": ["mac", "read", "write", "leak"], "tensor": ["weights", "grads", "-"],
              "bits": ["int8xint8", "fp32", "-"]}
    totals = [("quantity", {}), ("energy_pj", {"component": ("dram", "sram:*")}),
              ("energy_pj", {"action": ("read", "write"), "bits": "-", "layer": "conv*"}),
              ("quantity", {"op": ("fwd", "dgrad"), "action": "mac", "tensor": "-"})]
    groups = [("layer", "energy_pj", {}), ("action", "quantity", {"component": "vector"})]
    query = Query(totals, groups)
    for _ in range(4):
        ledger = Ledger()
        for _ in range(300):
            ledger.add(**{f: str(rng.choice(v)) for f, v in choice.items()},
                       quantity=float(rng.random()), energy_pj=float(rng.random() * 1e6))
        got_totals, got_groups = query.run(ledger)
        for (field, where), got in zip(totals, got_totals, strict=True):
            assert got == _reference_total(ledger, field, **where)
        for (by, field, where), got in zip(groups, got_groups, strict=True):
            assert got == _reference_breakdown(ledger, by, field, **where)


def test_energy_memos_equal_the_table_rules():
    """The per-machine memo of MAC and elementwise energies answers what the rules compute."""
    machine = replay.build_machine("edge_npu")
    mac, table = machine.costs.mac, machine.costs.table
    for _ in range(2):  # the second round answers from the memo
        for a in (2, 4, 8):
            for b in (4, 8):
                assert mac.mac_energy_pj(a_bits=a, b_bits=b, acc_bits=32) == \
                    mac._mac_energy_pj(a, b, False, 32)
        assert mac.mac_energy_pj(a_bits=16, b_bits=16, is_float=True, acc_bits=32) == \
            mac._mac_energy_pj(16, 16, True, 32)
        for op in ("add", "mul", "cmp"):
            for bits, is_float in ((8, False), (32, False), (16, True), (32, True)):
                assert machine.costs.elementwise.op_pj(op, bits, is_float) == \
                    op_energy_pj(table, op, bits, is_float)
        assert machine.costs.elementwise.rng_pj() == rng_op_pj(table)


def _hardware_points(axes: dict):
    from rctsim.sweep.config import parse_sweep_config
    from rctsim.sweep.plan import plan_sweep

    config = parse_sweep_config("test", {"hardware": {"base": "edge_npu", "axes": axes},
                                         "policies": {"traces": [str(TRACES[0])]}})
    return plan_sweep(config, source="test", base_dir=Path.cwd()).hardware


def test_machine_key_leaves_out_only_dram_timing():
    """Points that differ in DRAM bandwidth or latency share a machine key; SRAM size, array
    shape, dataflow and DRAM energy each make another."""
    from rctsim.reuse import machine_key

    def key(spec):
        machine = replay.build_machine(spec)
        return machine_key(machine.spec, machine.costs.dram)

    pts = _hardware_points({"sram_kb": [64, 128], "array": ["8x8", "16x16"],
                            "dataflow": ["ws", "os"], "dram_gb_per_s": [3.2, 25.6],
                            "dram.latency_ns": [0, 120]})
    groups: dict[str, set] = {}
    for hp in pts:
        rest = tuple(v for k, v in hp.params.items() if not k.startswith("dram"))
        groups.setdefault(key(hp.spec), set()).add(rest)
    assert len(groups) == 8 and all(len(v) == 1 for v in groups.values())
    spec = pts[0].spec
    energy = spec.model_copy(update={"dram": spec.dram.model_copy(
        update={"energy_pj_per_bit": 99.0})})
    assert key(energy) != key(spec)


def test_replay_cache_bounds():
    """At most max_machines machine keys (least recently used dropped first) and max_phases
    prepared phases per policy key."""
    from rctsim.reuse import ReplayCache

    cache = ReplayCache(max_machines=2, max_phases=1)
    a, b = cache.machine("a"), cache.machine("b")
    assert cache.machine("a") is a  # a is now the most recently used
    cache.machine("c")
    assert len(cache) == 2 and cache.machine("a") is a and cache.machine("b") is not b
    work = a.policy(("p",), ())
    a.keep_phase(work, b"1", "first")
    a.keep_phase(work, b"2", "second")
    assert work.phases == {b"1": "first"}
    with pytest.raises(ValueError):
        ReplayCache(max_machines=0)


SWEEP_AXES = {"sram_kb": [64, 256], "array": ["8x8", "16x16"], "dataflow": ["ws", "os"],
              "dram_gb_per_s": [3.2, 25.6], "dram.latency_ns": [0, 150]}
"""32 points: groups of 4 that differ only in DRAM timing (they share everything before the
engine), pairs of groups that differ only in dataflow (they share the element-wise ops), groups
that differ in SRAM or array."""


@pytest.mark.parametrize("trace_path", [p for p in TRACES if p.stem in ("resnet", "charlm_qat")],
                         ids=lambda p: p.stem)
@pytest.mark.parametrize("sweep_options", [True, False], ids=["sweep-options", "defaults"])
def test_shared_cache_equals_a_fresh_simulate_per_point(trace_path, sweep_options, monkeypatch,
                                                        tmp_path):
    """A sweep job's points share one ReplayCache; every point's result (every summary number,
    every ledger row, the sweep metrics) equals a fresh simulate of that point alone, and the
    shared cache does skip work (fewer phases prepared than points x phases)."""
    from rctsim.sweep.metrics import result_metrics
    from rctsim.sweep.work import SimJob, simulate_job

    options = (replay.SimOptions(keep_timeline=False, split_stalls=False) if sweep_options
               else replay.SimOptions())
    tr = _two_phases(load_trace(trace_path))
    pts = _hardware_points(SWEEP_AXES)
    prepared = []
    prepare = replay._prepare_phase
    monkeypatch.setattr(replay, "_prepare_phase",
                        lambda *a, **k: prepared.append(1) or prepare(*a, **k))
    cache = replay.ReplayCache()
    shared = [replay.simulate(hp.spec, tr, baseline="qat", options=options, cache=cache)
              for hp in pts]
    phases = len(replay.distinct_phases(tr)[0]) + 1  # the trace's and the baseline's
    assert len(prepared) == 8 * phases  # once per SRAM x array x dataflow group
    fresh = [replay.simulate(hp.spec, tr, baseline="qat", options=options) for hp in pts]
    assert len(prepared) == 8 * phases + len(pts) * phases
    counted = []
    monkeypatch.setattr(replay, "count_op", lambda *a: counted.append(1) or count_op(*a))
    assert pts[4].params["dataflow"] != pts[0].params["dataflow"]
    for cache in (None, replay.ReplayCache()):  # two dataflows: apart, then sharing a cache
        for hp in (pts[0], pts[4]):
            replay.simulate(hp.spec, tr, baseline="qat", options=options, cache=cache)
        counted.append(None)
    apart = counted.index(None)
    assert len(counted) - apart - 2 < apart  # the second dataflow counted its GEMMs only
    for hp, got, want in zip(pts, shared, fresh, strict=True):
        where = f"{trace_path.stem}/{hp.params}"
        _assert_same(got.to_dict(), want.to_dict(), where)
        for label, pr in want.policies.items():
            assert got.policies[label].rows == pr.rows, (where, label)
        _assert_same(result_metrics(got), result_metrics(want), where)
    if sweep_options:  # the worker task itself, against the fresh results
        from rctsim.trace import write_trace

        write_trace(tr, tmp_path / "two.trace")
        job = SimJob(tuple((str(i), hp.spec) for i, hp in enumerate(pts)), options, "qat")
        for outcome, want in zip(simulate_job(tmp_path / "two.trace", job), fresh, strict=True):
            assert outcome.status == "ok"
            _assert_same(outcome.metrics, result_metrics(want), f"job {outcome.key}")


def test_layer_ops_shared_by_packing_equal_fresh_runs(monkeypatch):
    """Machines that differ in SRAM size share each layer's formats and ops (by its bits) when
    their storage packing is the same, and only then: every result equals a fresh simulate, and
    the layer ops are derived once per packing, not once per machine."""
    from rctsim import ops as ops_module

    tr = _two_phases(load_trace(TRACES[0]))
    base = _hardware_points({"sram_kb": [64, 256]})
    specs = [hp.spec.model_copy(update={"packing": packing})
             for packing in ("packed", "byte") for hp in base]
    made = []
    layer_ops = ops_module.layer_ops
    monkeypatch.setattr(replay, "layer_ops", lambda *a, **k: made.append(a[0]) or
                        layer_ops(*a, **k))
    replay.simulate(specs[0], tr, baseline=None)
    one = len(made)  # a machine alone: once per distinct (layer, bits)
    made.clear()
    cache = replay.ReplayCache()
    shared = [replay.simulate(spec, tr, baseline=None, cache=cache) for spec in specs]
    assert one >= tr.n_layers
    assert len(made) == 2 * one  # once per packing, not once per machine (4)
    for spec, got in zip(specs, shared, strict=True):
        want = replay.simulate(spec, tr, baseline=None)
        where = f"{spec.packing}/{spec.global_buffer.size_bytes}"
        _assert_same(got.to_dict(), want.to_dict(), where)
        for label, pr in want.policies.items():
            assert got.policies[label].rows == pr.rows


def test_summary_query_goes_on_from_a_state():
    """run(start=state of the first rows) over a ledger with rows added under new keys gives
    the sums of a whole pass (summarise goes on from a replay's ledger before leakage)."""
    rng = np.random.default_rng(13)
    query = Query([("energy_pj", {"action": "leak"}), ("quantity", {"component": "sram:*"})],
                  [("component", "energy_pj", {}), ("action", "quantity", {})])
    ledger = Ledger()
    for i in range(200):
        ledger.add(layer=f"l{i % 7}", op="fwd", component=str(rng.choice(["sram:gb", "dram"])),
                   action=str(rng.choice(["read", "write"])), tensor="-", bits="-",
                   quantity=float(rng.random()), energy_pj=float(rng.random()))
    state = query.state(ledger)
    before = copy.deepcopy(state)
    for name in ("sram:gb", "array"):
        ledger.add(layer="*", op="*", component=name, action="leak", tensor="-", bits="-",
                   quantity=2.0, energy_pj=float(rng.random()))
    assert query.run(ledger, start=state) == query.run(ledger)
    assert state == before  # the state is not changed by going on from it


def test_clear_process_memos_empties_every_memo_a_run_fills():
    """A replay fills each process-wide memo (what benchmarks and studies empty to time a run as
    a fresh process would); clear_process_memos empties them all, and a run after it gives the
    same result."""
    import importlib

    from rctsim.reuse import PROCESS_MEMOS, clear_process_memos

    tr = load_trace(TRACES[0])
    first = replay.simulate("edge_npu", tr).to_dict()
    memos = [getattr(importlib.import_module(m), n) for m, n in PROCESS_MEMOS]
    assert all(memo.cache_info().currsize > 0 for memo in memos)
    clear_process_memos()
    assert all(memo.cache_info().currsize == 0 for memo in memos)
    _assert_same(replay.simulate("edge_npu", tr).to_dict(), first, "after clearing")
