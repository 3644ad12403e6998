"""The step engine's event loop without SimPy: the model of `engine._run_simpy`, with the same
floating-point operations in the same order, so every output is bit-identical to it.

SimPy keeps one heap of (time, priority, id, event) and runs an event's callbacks when it is
popped; `engine._run_simpy` drives two processes (the DMA loader and the array) with timeouts,
two one-consumer queues (free tile buffers, chunks ready) and an `all_of` for a RAW wait. Here
the two processes are plain generators over shared local state, and the same events are kept in
the same order in two queues:

- a heap of (time, id, resume, argument) for the events that lie in the future: a transfer's
  end (the loader resumes), a chunk's compute end (the array resumes), a write-back leaving the
  channel (`release`: its buffer is free again; for an op's last write-back also the op's
  `done`);
- a FIFO of (resume, argument) for the events due now: a queue handing an item to its waiting
  process, a `done` the loader's RAW wait listens to, that wait's end, and a timeout whose delay
  adds nothing to the clock. SimPy gives them the current time and the next id, so they run
  after every heap event due at the same time (all made earlier, with smaller ids) and in the
  order they were made: the FIFO's order.

The processes' first steps (SimPy's `Initialize` events, urgent, at time 0) run first, loader
then array. Event times are computed as SimPy computes them (`now + delay`, with
`delay = end - now` where the model states an end). Left out, as no-ops: the event of the loader
process ending, a `done` event nobody waits for, and the `done` timeout of an op whose last
chunk writes back (it falls at the same time as that chunk's release with the next id, so it
runs as the end of the release). A step takes about a third of the SimPy engine's time
(bench/bench_engine.py); tests/test_engine_fast.py checks the identity.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from itertools import count

# the loader's state at a wait (the only time the array sees it), as `_run_simpy`'s `ld_mode`
# strings (only equality matters); `_run_simpy`'s passing modes "slot" and "put" are overwritten
# before any wait
_RAW, _SLOT, _XFER, _NEXT = 1, 2, 3, 5


def run(work: list, eff: list[float], bw: float, latency: float, keep: bool, merge: bool,
        buffers: int, max_period: int) -> tuple[float, list[float], float, list[tuple], int]:
    """One pass over the step (`engine._run_simpy`'s model and arguments; `buffers` tile
    buffers, steady runs looked for up to `max_period` chunks). Returns total cycles, idle
    cycles per op, DRAM busy cycles, the timeline as (lane, label, start, end) tuples (when
    `keep`) and the number of chunks replayed."""
    n_ops = len(work)
    unloaded = [max(1, w.chunks) for w in work]
    uncomputed = list(unloaded)
    per = [(w.dram_read_bytes / n / bw, e / n, w.dram_write_bytes / n / bw)
           for w, e, n in zip(work, eff, unloaded, strict=True)]
    raw = [w.after if (w.after and w.dram_read_bytes > 0) else () for w in work]
    labels = [w.label for w in work]
    if any(min(p) < 0 for p in per):
        raise ValueError("Negative delay: an op's cycles or bytes are negative")
    triggered = [False] * n_ops  # an op's `done` event has been triggered
    listen = [0] * n_ops  # how often the loader's pending RAW wait lists the op
    idle = [0.0] * n_ops
    log: list[tuple] = []
    heap: list[tuple] = []
    nowq: deque = deque()
    ready_items: deque[int] = deque()
    releases: deque[float] = deque()
    nslots = buffers
    slot_waiter = ready_waiter = False
    now = free = busy = skipped = ld_until = last_end = 0.0
    ld_op, ld_mode, simulated = 0, 0, 0
    next_id = count(1).__next__  # SimPy's event ids: the tie-break of events due at one time
    cond_need = cond_count = 0

    def loader():
        """The DMA engine: loads every op's chunks in order, each into a free buffer."""
        nonlocal nslots, slot_waiter, ready_waiter, free, busy, ld_until, ld_op, ld_mode
        nonlocal cond_need, cond_count
        for j in range(n_ops):
            ld_op = j
            deps = raw[j]
            if deps:
                waits = [i for i in deps if not triggered[i]]
                if waits:
                    ld_mode = _RAW
                    cond_need, cond_count = len(waits), 0
                    for i in waits:
                        listen[i] += 1
                    yield
            read = per[j][0]
            label = labels[j]
            while unloaded[j] > 0:
                unloaded[j] -= 1
                if nslots:
                    nslots -= 1
                else:
                    ld_mode, slot_waiter = _SLOT, True
                    yield
                if read > 0:
                    t0 = now
                    a = t0 + latency
                    start = free if free > a else a
                    end = start + read
                    free = end
                    busy += read
                    ld_mode, ld_until = _XFER, end
                    if keep:
                        log.append(("dma", label, start + skipped, end + skipped))
                    t = t0 + (end - t0)
                    if t == t0:
                        nowq.append((lsend, None))
                    else:
                        heappush(heap, (t, next_id(), lsend, None))
                    yield
                if ready_waiter:
                    ready_waiter = False
                    nowq.append((csend, j))
                else:
                    ready_items.append(j)
        ld_op, ld_mode = n_ops, _NEXT
        while True:  # done: never resumed again (SimPy's process-end event is a no-op)
            yield

    def compute():
        """The array: computes the loaded chunks in order and issues their write-backs; a
        steady run of an op's chunks is accounted in closed form (`engine._run_simpy`)."""
        nonlocal nslots, slot_waiter, ready_waiter, free, busy, skipped, last_end, simulated
        hist: deque[tuple] = deque(maxlen=max_period)
        cur = -1
        while True:
            if ready_items:
                j = ready_items.popleft()
            else:
                ready_waiter = True
                j = yield
            start = now
            if start > last_end:
                idle[j] += start - last_end
            read, cycles, write = per[j]
            if j != cur:
                cur = j
                hist.clear()
            left = unloaded[j]
            if merge and left > 0:
                d = free - start
                u = ld_until - start
                nrel = len(releases)
                if nrel == 0:
                    rel = ()
                elif nrel == 1:
                    rel = (releases[0] - start,)
                else:
                    rel = tuple([t - start for t in releases])
                key = (ld_op, ld_mode, nslots, len(ready_items), nrel)
                sig = (d if d > 0.0 else 0.0, u if u > 0.0 else 0.0, *rel)
                tol = 1e-9 * (start if start > 1.0 else 1.0)
                for p in range(1, len(hist) + 1):
                    t_p, key_p, sig_p, left_p = hist[-p]
                    if (left_p == left + p and key_p == key
                            and (sig_p == sig or _close(sig, sig_p, tol))):
                        span = start - t_p
                        m = left // p * p
                        unloaded[j] -= m
                        uncomputed[j] -= m
                        skip = m // p * span
                        skipped += skip
                        busy += m * (read + write)
                        gap = skip - m * cycles
                        idle[j] += gap if gap > 0.0 else 0.0
                        if keep:
                            t0 = start + skipped - skip
                            log.append(("compute", labels[j], t0, t0 + m * cycles))
                            log.append(("dma", labels[j], t0, t0 + m * (read + write)))
                        hist.clear()
                        break
                else:
                    hist.append((start, key, sig, left))
            simulated += 1
            t = start + cycles
            if t == start:
                nowq.append((csend, None))
            else:
                heappush(heap, (t, next_id(), csend, None))
            yield
            t = last_end = now
            if keep and cycles > 0:
                log.append(("compute", labels[j], start + skipped, t + skipped))
            uncomputed[j] -= 1
            if write > 0:
                wstart = t if t > free else free
                end = wstart + write
                free = end
                busy += write
                if keep:
                    log.append(("dma", labels[j], wstart + skipped, end + skipped))
                releases.append(end)
                last = j if (uncomputed[j] == 0 and end > t) else -1
                tr = t + (end - t)
                if tr == t:
                    nowq.append((release, last))
                else:
                    heappush(heap, (tr, next_id(), release, last))
            else:
                end = t
                if slot_waiter:
                    slot_waiter = False
                    nowq.append((lsend, None))
                else:
                    nslots += 1
            if uncomputed[j] == 0 and not end > t:
                triggered[j] = True
                if listen[j]:
                    nowq.append((done_event, j))

    def release(op):
        """A write-back has left the channel: its buffer is free (and the op done)."""
        nonlocal nslots, slot_waiter
        releases.popleft()
        if slot_waiter:
            slot_waiter = False
            nowq.append((lsend, None))
        else:
            nslots += 1
        if op >= 0:
            triggered[op] = True
            if listen[op]:
                nowq.append((done_event, op))

    def done_event(op):
        """An op's `done` event the loader's RAW wait listens to."""
        nonlocal cond_count
        cond_count += listen[op]
        listen[op] = 0
        if cond_count == cond_need:
            nowq.append((lsend, None))

    ld = loader()
    cp = compute()
    lsend, csend = ld.send, cp.send
    next(ld)
    next(cp)
    while True:
        if nowq:
            if heap and heap[0][0] == now:
                now, _, fn, arg = heappop(heap)
            else:
                fn, arg = nowq.popleft()
        elif heap:
            now, _, fn, arg = heappop(heap)
        else:
            break
        fn(arg)
    ld.close()
    cp.close()
    total = now + skipped
    if n_ops:
        gap = now - last_end
        idle[-1] += gap if gap > 0.0 else 0.0
    return total, idle, busy, log, simulated


def _close(a: tuple, b: tuple, tol: float) -> bool:
    """The times of two pipeline signatures alike (`engine._same` past the counts)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if abs(x - y) > tol:
            return False
    return True
