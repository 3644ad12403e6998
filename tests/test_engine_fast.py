"""The step engines against the SimPy engine they replace, their reference
(`simulate_step(..., engine="simpy")`): the Python event loop (rctsim/engine_fast.py,
`engine="fast"`) and the same loop in C (rctsim/_engine.c, `engine="c"`; its checks are skipped,
saying why, where the library was not built). Bit-identical results, field by field (total,
stalls by cause per op, DRAM busy cycles, chunks replayed, the timeline), on random workloads
(tie-heavy small integers, where a load request and a write-back often fall on the same cycle,
and real-valued ones) and on the OpWork lists every bundled trace x preset hands the engine."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmodels.load import list_presets
from rctsim import engine, engine_c, replay
from rctsim.engine import Interval, OpTiming, OpTimings, OpWork, StepWork, simulate_step
from rctsim.errors import InputError
from rctsim.trace import load_trace
from rctsim.trace.model import Trace

TRACES = sorted((Path(__file__).resolve().parents[1] / "workloads" / "traces").glob("*.trace"))

NOT_BUILT = ("the compiled step engine (rctsim/_engine.c) was not built: no C compiler at "
             "install (pip install -e . builds it)")
needs_c = pytest.mark.skipif(not engine_c.available(), reason=NOT_BUILT)


@pytest.fixture(scope="module", params=["fast", pytest.param("c", marks=needs_c)])
def eng(request) -> str:
    """The engine checked against the SimPy reference."""
    return request.param


def _bits(value):
    """Every number of a result exactly (float.hex tells -0.0 from 0.0 and compares NaN)."""
    if dataclasses.is_dataclass(value):
        return (type(value).__name__,
                tuple((f.name, _bits(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, tuple | list | OpTimings):  # OpTimings: the C engine's per-op tuple
        return tuple(_bits(v) for v in value)
    if isinstance(value, float):
        return ("f", value.hex())
    return (type(value).__name__, value)


def _assert_identical(eng: str, work: list[OpWork], **kw) -> None:
    got = simulate_step(work, engine=eng, **kw)
    ref = simulate_step(work, engine="simpy", **kw)
    assert _bits(got) == _bits(ref), (eng, kw)


def _integer_work(rng: np.random.Generator, n_ops: int, max_chunks: int) -> list[OpWork]:
    """Small integer cycles per chunk (bandwidth 1 byte/cycle): loads, computes and
    write-backs end on the same cycles again and again. Zero reads, writes, compute; one chunk
    and many; RAW dependencies on earlier ops."""
    work = []
    for i in range(n_ops):
        n = int(rng.choice([1, 2, 3, int(rng.integers(1, max_chunks + 1))]))
        c, r, w = (int(x) for x in rng.integers(0, 5, 3))
        r *= int(rng.random() < 0.75)
        w *= int(rng.random() < 0.6)
        after = tuple(sorted({int(x) for x in rng.integers(0, i, rng.integers(0, 3))})) if i else ()
        work.append(OpWork(f"op{i}", float(c * n), float(r * n), float(w * n), n,
                           float(rng.integers(0, 3) * n), after))
    return work


def _real_work(rng: np.random.Generator, n_ops: int, max_chunks: int) -> list[OpWork]:
    """Real-valued cycles and bytes of every size, as tests/test_speed_identity.py draws."""
    work = []
    for i in range(n_ops):
        kind = rng.integers(4)
        after = tuple(sorted({int(x) for x in rng.integers(0, i, rng.integers(0, 3))})) if i else ()
        work.append(OpWork(
            label=f"op{i}", compute_cycles=float(rng.choice([0.0, rng.uniform(1, 5e4)])),
            dram_read_bytes=float(rng.uniform(1, 4e5)) if kind in (1, 3) else 0.0,
            dram_write_bytes=float(rng.uniform(1, 4e5)) if kind in (2, 3) else 0.0,
            chunks=int(rng.choice([1, 2, 3, int(rng.integers(4, max_chunks + 1))])),
            sram_bytes=float(rng.uniform(0, 1e6)), after=after))
    return work


@pytest.mark.parametrize("seed", range(60))
def test_tie_heavy_integer_steps_are_bit_identical(eng, seed):
    rng = np.random.default_rng(seed)
    work = _integer_work(rng, int(rng.integers(1, 12)), max_chunks=30)
    for merge in (True, False):
        _assert_identical(eng, work, dram_bytes_per_cycle=1.0,
                          sram_bytes_per_cycle=float(rng.choice([math.inf, 1.0, 2.0])),
                          latency_cycles=float(rng.choice([0, 1, 2, 3])), merge=merge,
                          keep_timeline=True, split_latency=bool(rng.random() < 0.8))


@pytest.mark.parametrize("seed", range(30))
def test_real_valued_steps_are_bit_identical(eng, seed):
    rng = np.random.default_rng(1000 + seed)
    kw = {"dram_bytes_per_cycle": float(rng.uniform(2, 64)),
          "sram_bytes_per_cycle": float(rng.choice([math.inf, rng.uniform(8, 512)])),
          "latency_cycles": float(rng.choice([0.0, rng.uniform(1, 300)]))}
    _assert_identical(eng, _real_work(rng, int(rng.integers(1, 40)), 5000), keep_timeline=True,
                      **kw)
    _assert_identical(eng, _real_work(rng, int(rng.integers(1, 10)), 60), merge=False, **kw)


_int_op = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
                    st.integers(1, 12), st.integers(0, 2))


@settings(max_examples=150, deadline=None)
@given(st.lists(_int_op, min_size=1, max_size=7), st.sampled_from([0.0, 1.0, 2.0, 5.0]),
       st.sampled_from([1.0, 2.0]), st.booleans(), st.data())
def test_any_small_integer_step_is_bit_identical(eng, ops, lat, bw, merge, data):
    """Hypothesis: any short step of small integer chunks (per chunk: compute, read and write
    cycles at 1 byte/cycle, SRAM bytes), any RAW dependencies on earlier ops."""
    work = [OpWork(str(i), float(c * n), float(r * n), float(w * n), n, float(s * n),
                   tuple(sorted(data.draw(st.sets(st.integers(0, i - 1), max_size=2)))) if i
                   else ())
            for i, (c, r, w, n, s) in enumerate(ops)]
    _assert_identical(eng, work, dram_bytes_per_cycle=bw, sram_bytes_per_cycle=2.0,
                      latency_cycles=lat, merge=merge, keep_timeline=True)


def test_edge_cases_are_bit_identical(eng):
    """No ops; an op waiting for itself (the loader never starts it: the run ends where SimPy's
    ends); zero everything; an op with no compute between two that write back."""
    kw = {"dram_bytes_per_cycle": 1.0, "latency_cycles": 1.0, "keep_timeline": True}
    _assert_identical(eng, [], **kw)
    _assert_identical(eng, [OpWork("a", 2, 2, 2, 2), OpWork("b", 2, 2, 2, 2, 0.0, (1,))], **kw)
    _assert_identical(eng, [OpWork("z", 0, 0, 0, 5)], **kw)
    _assert_identical(eng, [OpWork("a", 4, 2, 2, 2), OpWork("b", 0, 2, 0, 3, 0.0, (0,)),
                            OpWork("c", 4, 0, 2, 2, 0.0, (0, 0, 1))], **kw)


@pytest.mark.parametrize("latency", [0.0, 0.5, 1.0])
def test_delays_lost_to_rounding_are_bit_identical(eng, latency):
    """After 2^53 cycles a half-cycle transfer adds nothing to the clock: SimPy then schedules
    the timeout at the current time (behind what is already due), and so must the fast loop."""
    big = float(2**53)
    for work in ([OpWork("a", big, 1, 1.0, 2), OpWork("b", 2.0, 1.0, 1.0, 4, 0.0, (0,)),
                  OpWork("c", 0.0, 0.0, 1.0, 3, 0.0, (1,))],
                 [OpWork("a", big, 4, 1.0, 2), OpWork("b", 0.0, 1.0, 1.0, 4, 0.0, (0,)),
                  OpWork("c", 0.0, 1.0, 1.0, 3, 0.0, (1,))]):
        for merge in (True, False):
            _assert_identical(eng, work, dram_bytes_per_cycle=1.0, latency_cycles=latency,
                              merge=merge, keep_timeline=True)


@pytest.fixture(scope="module")
def captured_steps() -> list[tuple[list[OpWork], dict]]:
    """The OpWork list and rates of every step the replays of every bundled trace (first and
    a middle phase) x every preset hand the engine."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return _captured_steps(monkeypatch)


def _captured_steps(monkeypatch) -> list[tuple[list[OpWork], dict]]:
    steps: list[tuple[list[OpWork], dict]] = []
    real = replay.simulate_step

    def record(work, **kw):
        steps.append((list(work), dict(kw)))
        return real(work, **kw)

    monkeypatch.setattr(replay, "simulate_step", record)  # the name replay calls
    for path in TRACES:
        tr = load_trace(path)
        if len(tr.phase_start) > 1:
            tr = Trace.build(header=tr.header, layers=tr.layers,
                             phase_start=np.array([0, tr.iterations // 2]),
                             phase_bits=tr.phase_bits[[0, -1]])
        for preset in list_presets():
            for baseline in ("qat", None):
                try:
                    replay.simulate(preset, tr, baseline=baseline)
                    break
                except InputError:
                    continue
    return steps


def test_every_bundled_trace_and_preset_is_bit_identical(eng, captured_steps):
    steps = captured_steps
    assert len(steps) >= 2 * len(TRACES)  # two phases of each trace, at least one preset
    assert len({kw["dram_bytes_per_cycle"] for _, kw in steps}) >= 3
    for work, kw in steps:
        kw = {**kw, "keep_timeline": True, "split_latency": True}
        _assert_identical(eng, work, **kw)


def _chunks(work: list[OpWork]) -> int:
    return sum(max(1, w.chunks) for w in work)


def test_every_bundled_trace_and_preset_chunk_by_chunk_is_bit_identical(eng, captured_steps):
    """The same real steps with every chunk replayed (merge=False: the longest raw timelines,
    many intervals joined back); against SimPy where a step has at most 1,500 chunks (SimPy
    replays about 4 events a chunk)."""
    small = [(work, kw) for work, kw in captured_steps if _chunks(work) <= 1500]
    assert len(small) >= 10
    for work, kw in small:
        _assert_identical(eng, work, **{**kw, "keep_timeline": True, "merge": False})


@needs_c
def test_every_bundled_trace_and_preset_chunk_by_chunk_c_equals_python(captured_steps):
    """merge=False on the real steps of up to 3,400 chunks: the C engine against the Python
    one (itself checked against SimPy above); timelines of up to 10,000 intervals."""
    steps = [(work, kw) for work, kw in captured_steps if _chunks(work) <= 3400]
    assert len(steps) >= 20
    for work, kw in steps:
        kw = {**kw, "keep_timeline": True, "merge": False}
        got = simulate_step(work, engine="c", **kw)
        assert _bits(got) == _bits(simulate_step(work, engine="fast", **kw))


def _labelled_work(rng: np.random.Generator, n_ops: int) -> list[OpWork]:
    """Tie-heavy integer steps whose ops share labels ("a", "b"): the timeline joins
    back-to-back intervals of equal labels, not only of one op."""
    work = _integer_work(rng, n_ops, max_chunks=12)
    return [dataclasses.replace(w, label=str(rng.choice(["a", "b"]))) for w in work]


@pytest.mark.parametrize("seed", range(40))
def test_timeline_joins_ops_of_one_label_as_the_reference(eng, seed):
    rng = np.random.default_rng(7000 + seed)
    work = _labelled_work(rng, int(rng.integers(1, 10)))
    for merge in (True, False):
        _assert_identical(eng, work, dram_bytes_per_cycle=float(rng.choice([1.0, 2.0])),
                          latency_cycles=float(rng.choice([0, 1, 2])), merge=merge,
                          keep_timeline=True)


def test_a_timeline_with_nan_times_is_joined_as_python_joins_it(eng, monkeypatch):
    """A NaN DRAM latency makes NaN start times, which Python's sort orders in its own way:
    the compiled engine leaves such a log to `engine._merge` (the result is still SimPy's);
    any other timeline it sorts and joins itself (`engine._merge` never runs)."""
    work = [OpWork("a", 4, 2, 2, 2), OpWork("b", 3, 2, 0, 3, 0.0, (0,)),
            OpWork("c", 4, 0, 2, 2, 0.0, (0, 1))]
    _assert_identical(eng, work, dram_bytes_per_cycle=1.0, latency_cycles=math.nan,
                      keep_timeline=True)
    if eng == "c":
        monkeypatch.setattr(engine, "_merge", _refuse("Python timeline merge"))
        t = simulate_step(work, engine="c", dram_bytes_per_cycle=1.0, latency_cycles=1.0,
                          keep_timeline=True)
        assert len(t.timeline) >= 3


@pytest.mark.parametrize("seed", range(12))
def test_a_kept_step_gives_what_a_fresh_list_gives(eng, seed):
    """One StepWork simulated again and again (DRAM bandwidth and latency, global-buffer
    bandwidths met before and new ones, timeline and stall split on and off, more global-buffer
    bandwidths than it keeps) returns each time what SimPy returns for a fresh list."""
    rng = np.random.default_rng(9000 + seed)
    work = (_integer_work(rng, int(rng.integers(1, 10)), 20) if seed % 2
            else _real_work(rng, int(rng.integers(1, 20)), 300))
    step = StepWork(work)
    assert list(step) == work and len(step) == len(work) and step[-1] == work[-1]
    srams = [math.inf, 1.0, 2.0, 64.0] + [float(x) for x in range(3, 5 + StepWork.MAX_RATES)]
    for k in range(8 + len(srams)):
        kw = {"dram_bytes_per_cycle": float(rng.choice([1.0, 2.0, 7.5, 32.0])),
              "sram_bytes_per_cycle": srams[k - 8] if k >= 8 else float(rng.choice(srams[:4])),
              "latency_cycles": float(rng.choice([0.0, 1.0, 3.0, 37.5])),
              "keep_timeline": bool(rng.random() < 0.5),
              "split_latency": bool(rng.random() < 0.7), "merge": bool(rng.random() < 0.8)}
        got = simulate_step(step, engine=eng, **kw)
        assert _bits(got) == _bits(simulate_step(list(work), engine="simpy", **kw)), (k, kw)


def test_a_kept_step_pickles_and_copies_as_its_ops(eng):
    """A used StepWork pickled or copied carries its ops only (its conversions hold memory
    addresses) and gives the same results again."""
    import copy
    import pickle

    work = _integer_work(np.random.default_rng(3), 6, 10)
    kw = {"dram_bytes_per_cycle": 2.0, "latency_cycles": 3.0, "keep_timeline": True}
    step = StepWork(work)
    ref = _bits(simulate_step(step, engine=eng, **kw))
    for again in (pickle.loads(pickle.dumps(step)), copy.copy(step), copy.deepcopy(step)):
        assert again.ops == step.ops and again._c_ops is None and not again._by_sram
        assert _bits(simulate_step(again, engine=eng, **kw)) == ref
    if engine_c.available():
        with pytest.raises(TypeError, match="not picklable"):
            pickle.dumps(engine_c.Ops(work))


def test_a_kept_real_step_at_other_dram_timing_gives_what_a_fresh_list_gives(eng,
                                                                          captured_steps):
    """Real steps kept as a replay keeps a phase, simulated at the DRAM rates of other steps
    (as the sweep varies them), against the fresh list on SimPy."""
    rates = sorted({(kw["dram_bytes_per_cycle"], kw["latency_cycles"])
                    for _, kw in captured_steps})
    for work, kw in captured_steps[::6]:
        step = StepWork(work)
        for bw, latency in rates[::2]:
            for split in (True, False):
                kw2 = {**kw, "dram_bytes_per_cycle": bw, "latency_cycles": latency,
                       "split_latency": split}
                assert _bits(simulate_step(step, engine=eng, **kw2)) == _bits(
                    simulate_step(work, engine="simpy", **kw2))


def test_objects_made_bare_are_the_dataclass_objects():
    """`engine._bare` (how the compiled path makes the timeline's Interval and the per-op
    OpTiming objects) against the dataclasses' own constructor."""
    import pickle

    pairs = [("dma", "l1.fwd"), ("compute", "l1.fwd"), ("dma", "l2.wgrad")]
    starts, ends = [0.0, -0.0, 1e300], [1.5, math.inf, math.nan]
    got = engine._intervals(pairs, starts, ends)
    ref = tuple(Interval(a, b, c, d) for (a, b), c, d in zip(pairs, starts, ends, strict=True))
    assert type(got) is tuple and all(type(x) is Interval for x in got)
    assert got[:2] == ref[:2] and _bits(got) == _bits(ref) and repr(got) == repr(ref)
    assert [hash(x) for x in got[:2]] == [hash(x) for x in ref[:2]]
    assert [list(vars(x).items()) for x in got[:2]] == [list(vars(x).items()) for x in ref[:2]]
    assert _bits(pickle.loads(pickle.dumps(got))) == _bits(ref)
    assert dataclasses.replace(got[0], end=2.0) == Interval("dma", "l1.fwd", 0.0, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got[0].start = 1.0
    fields = {"compute": 3.0, "sram_bandwidth": 0.5, "dram_bandwidth": 0.25,
              "dram_latency": 0.125}
    (op,) = engine._bare(OpTiming, [dict(fields)])
    assert op == OpTiming(3.0, 0.5, 0.25, 0.125) and op.stall == 0.875
    assert repr(op) == repr(OpTiming(3.0, 0.5, 0.25, 0.125)) and vars(op) == fields


@needs_c
def test_c_engine_per_op_timings_are_the_tuple_they_stand_for():
    """The compiled engine's per-op timings (made when first read) equal, hash, print, index
    and pickle as the tuple of OpTiming objects the Python engine returns."""
    import pickle

    rng = np.random.default_rng(5)
    work = _real_work(rng, 12, 6)
    got = simulate_step(work, dram_bytes_per_cycle=3.0, latency_cycles=4.0, engine="c").ops
    want = simulate_step(work, dram_bytes_per_cycle=3.0, latency_cycles=4.0, engine="fast").ops
    assert isinstance(got, OpTimings) and isinstance(want, tuple)
    assert len(got) == len(want) == 12
    assert got == want and want == tuple(got) and hash(got) == hash(want)
    assert repr(got) == repr(want) and got[3] == want[3] and list(got) == list(want)
    assert pickle.loads(pickle.dumps(got)) == want
    assert type(pickle.loads(pickle.dumps(got))) is tuple


def _refuse(name: str):
    def refuse(*_args):
        raise AssertionError(f"the {name} engine ran")
    return refuse


@needs_c
def test_the_c_engine_is_the_default_when_built(monkeypatch):
    assert engine.default_engine() == "c"
    monkeypatch.setattr(engine, "_run_simpy", _refuse("SimPy"))
    monkeypatch.setattr(engine, "_run", _refuse("Python fast"))
    t = simulate_step([OpWork("a", 100, 800, 400, 1)], dram_bytes_per_cycle=8)
    assert t.total_cycles == 800 / 8 + 100 + 400 / 8  # load, compute, write-back in series


def test_without_the_library_the_python_engine_is_the_default(monkeypatch):
    monkeypatch.setattr(engine_c, "available", lambda: False)
    monkeypatch.setattr(engine, "_run_simpy", _refuse("SimPy"))
    monkeypatch.setattr(engine, "_simulate_c", _refuse("C"))
    assert engine.default_engine() == "fast"
    for name in ("auto", "fast", "python"):
        t = simulate_step([OpWork("a", 100, 800, 400, 1)], dram_bytes_per_cycle=8, engine=name)
        assert t.total_cycles == 800 / 8 + 100 + 400 / 8
    with pytest.raises(ValueError, match="engine='c': the compiled step engine was not built"):
        simulate_step([], dram_bytes_per_cycle=8, engine="c")


def test_engines_are_named():
    with pytest.raises(ValueError, match="engine must be one of auto, c, fast, python, simpy"):
        simulate_step([], dram_bytes_per_cycle=8, engine="numpy")


@needs_c
def test_c_engine_asks_again_for_a_longer_timeline(monkeypatch):
    """A timeline longer than the room first made for it (`engine_c.LOG_ROOM`) comes back
    whole: the loader calls again at the size the first call reports."""
    monkeypatch.setattr(engine_c, "LOG_ROOM", 3)
    rng = np.random.default_rng(7)
    work = _integer_work(rng, 8, max_chunks=12)
    for merge in (True, False):
        _assert_identical("c", work, dram_bytes_per_cycle=1.0, latency_cycles=1.0, merge=merge,
                          keep_timeline=True)
        assert len(simulate_step(work, engine="c", dram_bytes_per_cycle=1.0, merge=merge,
                                 keep_timeline=True).timeline) > 3


@needs_c
def test_c_engine_rejects_what_the_python_one_rejects():
    """Negative delays, a RAW wait on an op that is not there, no DRAM bandwidth: the same
    exception types as the Python engine."""
    cases = [([OpWork("a", 1, -8.0, 0, 1)], 1.0, ValueError),
             ([OpWork("a", 1, 1, 0, 1), OpWork("b", 1, 1, 0, 1, 0.0, (5,))], 1.0, IndexError),
             ([OpWork("a", 1, 1, 0, 1)], 0.0, ZeroDivisionError)]
    for work, bw, exc in cases:
        for name in ("fast", "c"):
            with pytest.raises(exc):
                simulate_step(work, dram_bytes_per_cycle=bw, engine=name)


@needs_c
@pytest.mark.parametrize("seed", range(20))
def test_c_run_returns_what_the_python_run_returns(seed):
    """`engine_c.run` against `engine_fast.run` before `simulate_step` touches the results:
    total, idle per op, DRAM busy cycles, the raw timeline (every interval in the order made,
    with the ops' labels) and the chunks replayed, bit for bit."""
    from rctsim import engine_fast

    rng = np.random.default_rng(5000 + seed)
    work = (_integer_work(rng, int(rng.integers(1, 12)), 30) if seed % 2
            else _real_work(rng, int(rng.integers(1, 30)), 400))
    bw = 1.0 if seed % 2 else float(rng.uniform(2, 64))
    eff = [w.compute_cycles for w in work]
    for latency in (0.0, float(rng.choice([1.0, 2.0, 37.5]))):
        for merge in (True, False):
            args = (work, eff, bw, latency, True, merge, engine.BUFFERS, engine.MAX_PERIOD)
            assert _bits(engine_c.run(*args)) == _bits(engine_fast.run(*args))


@pytest.mark.skipif(not engine_c.available(), reason="the compiled engine was not built here")
def test_a_library_built_from_another_source_is_not_used(tmp_path):
    """The library carries the sha256 of the _engine.c it was built from: beside that source (or
    with no source, as installed from a wheel) it loads; beside an edited source it is refused
    with a warning naming it, so an updated checkout never runs old compiled code."""
    import shutil
    from pathlib import Path

    here = Path(engine_c.__file__).resolve().parent
    built = next(p for p in here.iterdir() if p.name.startswith("_engine") and p.suffix != ".c")
    shutil.copy(built, tmp_path / built.name)
    assert engine_c.load(tmp_path) is not None  # no source beside it
    source = (here / "_engine.c").read_text()
    (tmp_path / "_engine.c").write_text(source)
    assert engine_c.load(tmp_path) is not None
    (tmp_path / "_engine.c").write_text(source + "\n/* edited */\n")
    with pytest.warns(RuntimeWarning, match=f"not using the compiled step engine {built.name} "
                      r"\(built from an older _engine.c\)"):
        assert engine_c.load(tmp_path) is None
