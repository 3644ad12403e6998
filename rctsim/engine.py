"""Discrete-event timing of one training step (SimPy).

Three actors share one clock (in array cycles): a DMA engine that owns the DRAM channel, the
compute array, and a pair of tile buffers between them (double buffering). Each op is cut into
at most `MAX_CHUNKS` pipeline chunks (its mapping tiles, grouped): the DMA engine loads chunk i+1
while the array computes chunk i; a chunk's results are written back over the same channel, and
its buffer is free again only once they are out. The array stalls whenever its next chunk's
inputs have not arrived. Output: compute, stall and total cycles, and a per-op timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

MAX_CHUNKS = 4
"""Pipeline chunks per op: enough to expose intra-op overlap, few enough to stay fast."""

BUFFERS = 2
"""Tile buffers between DMA and compute (double buffering)."""


@dataclass(frozen=True)
class OpWork:
    """What the engine needs of one op."""

    label: str
    compute_cycles: float
    dram_read_bytes: float
    dram_write_bytes: float
    chunks: int


@dataclass(frozen=True)
class Interval:
    """One busy interval on a lane of the timeline."""

    lane: str
    """`dma` or `compute`."""
    label: str
    start: float
    end: float


@dataclass(frozen=True)
class StepTiming:
    """Cycles of one simulated step."""

    compute_cycles: float
    stall_cycles: float
    total_cycles: float
    dram_busy_cycles: float
    timeline: tuple[Interval, ...]


def simulate_step(work: list[OpWork], *, dram_bytes_per_cycle: float,
                  keep_timeline: bool = False) -> StepTiming:
    """Run the step's ops through DMA and compute; return its timing."""
    env = simpy.Environment()
    channel = simpy.Resource(env, capacity=1)
    slots = simpy.Container(env, capacity=BUFFERS, init=BUFFERS)
    ready = simpy.Store(env)
    log: list[Interval] = []
    busy = {"dram": 0.0}
    chunks = [(w.label, w.compute_cycles / n, w.dram_read_bytes / n, w.dram_write_bytes / n)
              for w in work for n in [max(1, w.chunks)] for _ in range(n)]

    def transfer(label: str, nbytes: float):
        if nbytes <= 0:
            return
        with channel.request() as req:
            yield req
            start = env.now
            yield env.timeout(nbytes / dram_bytes_per_cycle)
            busy["dram"] += env.now - start
            if keep_timeline:
                log.append(Interval("dma", label, start, env.now))

    def loader():
        for chunk in chunks:
            yield slots.get(1)
            yield env.process(transfer(chunk[0], chunk[2]))
            yield ready.put(chunk)

    def writer(label: str, nbytes: float):
        yield env.process(transfer(label, nbytes))
        yield slots.put(1)

    def compute():
        for _ in chunks:
            label, cycles, _, write = yield ready.get()
            start = env.now
            yield env.timeout(cycles)
            if keep_timeline:
                log.append(Interval("compute", label, start, env.now))
            env.process(writer(label, write))

    env.process(loader())
    env.process(compute())
    env.run()
    compute_total = float(sum(w.compute_cycles for w in work))
    total = float(env.now)
    return StepTiming(compute_cycles=compute_total, stall_cycles=max(0.0, total - compute_total),
                      total_cycles=total, dram_busy_cycles=busy["dram"],
                      timeline=tuple(_merge(log)) if keep_timeline else ())


def _merge(log: list[Interval]) -> list[Interval]:
    """Join back-to-back intervals of the same op on the same lane."""
    out: list[Interval] = []
    for iv in sorted(log, key=lambda x: (x.lane, x.start)):
        last = out[-1] if out else None
        if last and last.lane == iv.lane and last.label == iv.label and iv.start - last.end < 1e-9:
            out[-1] = Interval(iv.lane, iv.label, last.start, iv.end)
        else:
            out.append(iv)
    return out
