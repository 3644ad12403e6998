"""The step engine's constraints against closed forms: chunks follow tiles, a steady run merged
in closed form equals replaying every chunk, global-buffer bandwidth, DRAM latency, RAW order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rctsim.engine import OpWork, chunk_count, simulate_step
from rctsim.replay import build_machine, engine_rates, simulate
from tests.helpers import hardware, make_trace, mlp_layers


def test_chunk_count_follows_tiles_and_the_buffer():
    """One chunk per tile while a tile's share of the traffic fits a buffer; more when not."""
    assert chunk_count(2304, 2304 * 1000, 2304 * 500, buffer_bytes=1000) == 2304
    assert chunk_count(1, 10_000, 0, buffer_bytes=1000) == 10
    assert chunk_count(3, 0, 10_001, buffer_bytes=1000) == 11
    assert chunk_count(7, 0, 0, buffer_bytes=1000) == 7


def test_a_compute_bound_op_exposes_one_chunk_not_a_quarter():
    """2,304 tiles, compute-bound: only the first load and the last write-back are exposed,
    r/n + c + w/n (the old 4-chunk engine exposed a quarter of the DRAM time)."""
    n, c, r, w, bw = 2304, 2304 * 100.0, 2304 * 400.0, 2304 * 200.0, 8.0
    t = simulate_step([OpWork("gemm", c, r, w, n)], dram_bytes_per_cycle=bw)
    assert t.total_cycles == pytest.approx(r / n / bw + c + w / n / bw, rel=1e-12)
    assert t.simulated_chunks < 20  # the steady run was merged, not replayed


def test_a_dram_bound_op_takes_its_transfers():
    """DRAM-bound, one op (per chunk: load 100, compute 30, write-back 2 cycles): the channel is
    busy without a gap until the last load ends; a chunk's write-back queues behind the load
    already requested, so the second-to-last write-back hides under the last compute, then the
    last one follows it: total = (r + w)/bw - w/(n bw) + c/n."""
    n, c, r, w, bw = 1000, 1000 * 30.0, 1000 * 800.0, 1000 * 16.0, 8.0
    t = simulate_step([OpWork("gemm", c, r, w, n)], dram_bytes_per_cycle=bw)
    assert t.total_cycles == pytest.approx((r + w) / bw - w / n / bw + c / n, rel=1e-12)
    assert t.dram_busy_cycles == pytest.approx((r + w) / bw, rel=1e-12)


_op = st.tuples(st.floats(0, 5000), st.floats(0, 20000), st.floats(0, 20000),
                st.integers(1, 80), st.floats(0, 90000))


@settings(max_examples=80, deadline=None)
@given(st.lists(_op, min_size=1, max_size=6), st.sampled_from([1.0, 4.0, 16.0]),
       st.sampled_from([0.0, 5.0, 40.0, 300.0]), st.sampled_from([math.inf, 16.0, 128.0]),
       st.data())
def test_merged_steady_runs_equal_replaying_every_chunk(ops, bw, lat, sram_bw, data):
    """The closed form for steady runs is exact: the same totals, stalls and DRAM busy time as
    simulating every chunk (a second computation of the same model)."""
    work = [OpWork(str(i), c, r, w, n, s,
                   tuple(sorted(data.draw(st.sets(st.integers(0, i - 1), max_size=2)))) if i
                   else ())
            for i, (c, r, w, n, s) in enumerate(ops)]
    kw = {"dram_bytes_per_cycle": bw, "latency_cycles": lat, "sram_bytes_per_cycle": sram_bw}
    merged, full = simulate_step(work, **kw), simulate_step(work, merge=False, **kw)
    scale = max(1.0, full.total_cycles)
    assert abs(merged.total_cycles - full.total_cycles) <= 1e-9 * scale
    assert abs(merged.dram_busy_cycles - full.dram_busy_cycles) <= 1e-9 * scale
    for a, b in zip(merged.ops, full.ops, strict=True):
        assert abs(a.dram_bandwidth - b.dram_bandwidth) <= 1e-9 * scale
        assert abs(a.dram_latency - b.dram_latency) <= 1e-9 * scale


@settings(max_examples=60, deadline=None)
@given(st.lists(_op, min_size=1, max_size=6), st.sampled_from([1.0, 4.0, 16.0]),
       st.sampled_from([0.0, 40.0]), st.sampled_from([math.inf, 64.0]))
def test_step_with_every_constraint_is_between_its_bounds(ops, bw, lat, sram_bw):
    """max(array time, DRAM time) <= total <= array time + DRAM time + latency x reads,
    where array time = sum of max(compute, SRAM bytes / SRAM bandwidth); and the stall causes
    add up to total - compute."""
    work = [OpWork(str(i), c, r, w, n, s, (i - 1,) if i else ())
            for i, (c, r, w, n, s) in enumerate(ops)]
    t = simulate_step(work, dram_bytes_per_cycle=bw, latency_cycles=lat,
                      sram_bytes_per_cycle=sram_bw)
    array = sum(max(c, s / sram_bw) for c, _, _, _, s in ops)
    dram = sum(r + w for _, r, w, _, _ in ops) / bw
    reads = sum(n * (r > 0) for _, r, _, n, _ in ops)
    assert max(array, dram) - 1e-6 <= t.total_cycles <= array + dram + lat * reads + 1e-6
    causes = t.stall_dram_bandwidth + t.stall_sram_bandwidth + t.stall_dram_latency
    assert t.compute_cycles + causes == pytest.approx(t.total_cycles, rel=1e-9, abs=1e-6)
    assert min(t.stall_dram_bandwidth, t.stall_sram_bandwidth, t.stall_dram_latency) >= 0


def test_sram_bandwidth_bound_op_takes_bytes_over_bandwidth():
    """No DRAM traffic; 25,600 buffer bytes at 128 B/cycle = 200 cycles > 120 compute."""
    t = simulate_step([OpWork("update", 120, 0, 0, 5, sram_bytes=25_600)],
                      dram_bytes_per_cycle=8, sram_bytes_per_cycle=128)
    assert t.total_cycles == pytest.approx(25_600 / 128)
    assert t.stall_sram_bandwidth == pytest.approx(200 - 120)
    assert t.stall_dram_bandwidth == 0 and t.stall_dram_latency == 0
    fed = simulate_step([OpWork("gemm", 300, 0, 0, 5, sram_bytes=25_600)],
                        dram_bytes_per_cycle=8, sram_bytes_per_cycle=128)
    assert fed.total_cycles == 300 and fed.stall_sram_bandwidth == 0


def test_global_buffer_bandwidth_is_banks_ports_word():
    """edge_npu: 8 banks x 2 ports x 64-bit words = 128 B per cycle; LPDDR4-3200 latency
    tRCD + RL = (29 + 28) tCK x 0.625 ns = 35.625 ns (Micron memspec) at 200 MHz = 7.125 cycles;
    6.4 GB/s at 200 MHz = 32 B per cycle."""
    rates = engine_rates(build_machine("edge_npu"))
    assert rates["sram_bytes_per_cycle"] == 8 * 2 * 64 / 8
    assert rates["latency_cycles"] == pytest.approx((29 + 28) * 0.625e-9 * 200e6)
    assert rates["dram_bytes_per_cycle"] == pytest.approx(6.4e9 / 200e6)


@pytest.mark.parametrize("n_ops", [1, 3, 6])
def test_latency_adds_once_per_read_on_a_serial_chain(n_ops):
    """One chunk per op, each op reading what the previous one wrote: nothing overlaps, so the
    latency adds exactly latency x reads (write-backs are posted), all charged to latency."""
    work = [OpWork(str(i), 100, 800, 400, 1, 0.0, (i - 1,) if i else ()) for i in range(n_ops)]
    base = simulate_step(work, dram_bytes_per_cycle=8)
    assert base.total_cycles == pytest.approx(n_ops * (100 + 100 + 50))
    lat = simulate_step(work, dram_bytes_per_cycle=8, latency_cycles=13)
    assert lat.total_cycles - base.total_cycles == pytest.approx(13 * n_ops)
    assert lat.stall_dram_latency == pytest.approx(13 * n_ops)
    assert lat.stall_dram_bandwidth == pytest.approx(base.stall_cycles)


def test_a_read_waits_for_the_write_it_depends_on():
    """Op 1 reads what op 0 writes: its load starts after op 0's write-back (400 cycles);
    without the dependency the load overlaps op 0's compute (200 cycles)."""
    free = [OpWork("a", 100, 0, 800, 1), OpWork("b", 100, 800, 0, 1)]
    raw = [OpWork("a", 100, 0, 800, 1), OpWork("b", 100, 800, 0, 1, 0.0, (0,))]
    assert simulate_step(free, dram_bytes_per_cycle=8).total_cycles == pytest.approx(200)
    t = simulate_step(raw, dram_bytes_per_cycle=8, keep_timeline=True)
    assert t.total_cycles == pytest.approx(100 + 100 + 100 + 100)
    dma = [iv for iv in t.timeline if iv.lane == "dma"]
    write_a = next(iv for iv in dma if iv.label == "a")
    read_b = next(iv for iv in dma if iv.label == "b")
    assert read_b.start >= write_a.end


def test_replay_reports_stalls_by_cause_per_layer_and_op():
    """A small buffer (DRAM traffic) on edge_npu: per-layer and per-op cycles add up to the
    totals, and the causes add up to the stall."""
    layers = mlp_layers(batch=64, dims=(512, 512, 512, 10))
    result = simulate(hardware(global_size=16384), make_trace(layers, iterations=3),
                      baseline=None)
    pr = result.policies["rct"]
    c = pr.cycles
    causes = c["stall_dram_bandwidth"] + c["stall_sram_bandwidth"] + c["stall_dram_latency"]
    assert causes == pytest.approx(c["stall"], rel=1e-9)
    assert c["stall_dram_bandwidth"] > 0 and c["stall_dram_latency"] > 0
    for by in ("layer", "op"):
        groups = pr.breakdown_cycles[by].values()
        assert sum(v["compute"] for v in groups) == pytest.approx(c["compute"], rel=1e-9)
        for cause in ("stall_dram_bandwidth", "stall_sram_bandwidth", "stall_dram_latency"):
            assert sum(v[cause] for v in groups) == pytest.approx(c[cause], rel=1e-9, abs=1e-9)
    rows = [r for r in result.to_csv().splitlines() if ",timing," in r]
    assert len(rows) == 4 * len(pr.op_cycles)


def test_dram_producers_of_a_layer_chain():
    """fc0 -> fc1 -> fc2, every op reading and writing DRAM: each op waits for the ops that
    wrote what it reads (hand-derived from the tensors' homes, docs/model.md §4)."""
    from rctsim.counting import OpCounts
    from rctsim.dependencies import dram_producers
    from rctsim.ops import layer_ops, step_schedule
    from rctsim.storage import layer_formats

    layers = tuple(mlp_layers())
    fmt = layer_formats("rct", (8, 8, 8, 32))
    schedule = step_schedule([layer_ops(i, la, fmt) for i, la in enumerate(layers)])
    assert [(op.layer, op.kind) for op in schedule] == [
        (0, "fwd"), (1, "fwd"), (2, "fwd"), (2, "dgrad"), (2, "wgrad"), (2, "update"),
        (1, "dgrad"), (1, "wgrad"), (1, "update"), (0, "dgrad"), (0, "wgrad"), (0, "update")]
    counts = []
    for op in schedule:
        c = OpCounts(op=op)
        c.dram_read["x"] = c.dram_write["x"] = 1.0
        counts.append(c)
    assert dram_producers(layers, schedule, counts) == [
        (), (0,), (1,), (), (1, 2), (4,), (3,), (0, 1, 3), (7,), (6,), (0, 6), (10,)]
    counts[3].dram_write.clear()  # fc2's dgrad keeps dX on chip: fc1's backward waits for nothing
    counts[9].dram_read.clear()  # fc0's dgrad reads nothing from DRAM
    deps = dram_producers(layers, schedule, counts)
    assert deps[6] == () and deps[7] == (0, 1) and deps[9] == ()
