"""The engine's event loop as it stood before issue 15's second step (main c0e2661), kept
verbatim so tests/test_speed_identity.py can compare the faster loop with it in one process."""

from __future__ import annotations

from collections import deque

import simpy

from rctsim.engine import BUFFERS, MAX_PERIOD, Interval, OpWork, _Run


def _run(work: list[OpWork], eff: list[float], bw: float, latency: float, keep: bool,
         merge: bool) -> _Run:
    """One event-driven pass. Times inside SimPy exclude the cycles of merged steady runs;
    `skipped` adds them back (every event after a merge is shifted by the same amount)."""
    env = simpy.Environment()
    slots = _Queue(env, [None] * BUFFERS)
    ready = _Queue(env)
    n_ops = len(work)
    unloaded = [max(1, w.chunks) for w in work]
    uncomputed = list(unloaded)
    per = [(w.dram_read_bytes / n / bw, e / n, w.dram_write_bytes / n / bw)
           for w, e, n in zip(work, eff, unloaded, strict=True)]
    done = [env.event() for _ in work]
    idle = [0.0] * n_ops
    log: list[Interval] = []
    st = {"free": 0.0, "busy": 0.0, "skipped": 0.0, "sim": 0, "ld_op": 0, "ld_mode": "",
          "ld_until": 0.0}
    releases: deque[float] = deque()

    def transfer(cycles: float, wait: float) -> tuple[float, float]:
        """Commit one transfer (FIFO by request time); its (start, end) of data."""
        start = max(env.now + wait, st["free"])
        end = start + cycles
        st["free"] = end
        st["busy"] += cycles
        return start, end

    def release(_event) -> None:
        releases.popleft()
        slots.put(None)

    def loader():
        for j, w in enumerate(work):
            st["ld_op"] = j
            if w.after and w.dram_read_bytes > 0:
                waits = [done[i] for i in w.after if not done[i].triggered]
                if waits:
                    st["ld_mode"] = "raw"
                    yield env.all_of(waits)
            read = per[j][0]
            while unloaded[j] > 0:
                unloaded[j] -= 1
                st["ld_mode"] = "slot"
                if slots.items:
                    slots.items.popleft()
                else:
                    yield slots.get()
                if read > 0:
                    start, end = transfer(read, latency)
                    st["ld_mode"], st["ld_until"] = "xfer", end
                    if keep:
                        log.append(Interval("dma", w.label, start + st["skipped"],
                                            end + st["skipped"]))
                    yield env.timeout(end - env.now)
                st["ld_mode"] = "put"
                ready.put(j)
            st["ld_mode"] = "next"
        st["ld_op"] = n_ops

    def signature() -> tuple:
        now = env.now
        return (st["ld_op"], st["ld_mode"], len(slots.items), len(ready.items), len(releases),
                max(0.0, st["free"] - now), max(0.0, st["ld_until"] - now),
                *(t - now for t in releases))

    def same(a: tuple, b: tuple, tol: float) -> bool:
        return (len(a) == len(b) and a[:5] == b[:5]
                and all(abs(x - y) <= tol for x, y in zip(a[5:], b[5:], strict=True)))

    def compute():
        last_end = 0.0
        hist: deque[tuple] = deque(maxlen=MAX_PERIOD)  # (start, signature, unloaded) of op `cur`
        cur = -1
        while True:
            j = ready.items.popleft() if ready.items else (yield ready.get())
            start = env.now
            idle[j] += max(0.0, start - last_end)
            read, cycles, write = per[j]
            if j != cur:
                cur = j
                hist.clear()
            if merge and unloaded[j] > 0:
                sig = signature()
                tol = 1e-9 * max(1.0, start)
                for p in range(1, len(hist) + 1):
                    t_p, sig_p, left_p = hist[-p]
                    if left_p == unloaded[j] + p and same(sig, sig_p, tol):
                        span = start - t_p  # p chunks take `span` cycles, over and over
                        m = unloaded[j] // p * p
                        unloaded[j] -= m
                        uncomputed[j] -= m
                        skip = m // p * span
                        st["skipped"] += skip
                        st["busy"] += m * (read + write)
                        idle[j] += max(0.0, skip - m * cycles)
                        if keep:
                            t0 = start + st["skipped"] - skip
                            log.append(Interval("compute", work[j].label, t0, t0 + m * cycles))
                            log.append(Interval("dma", work[j].label, t0,
                                                t0 + m * (read + write)))
                        hist.clear()
                        break
                else:
                    hist.append((start, sig, unloaded[j]))
            st["sim"] += 1
            yield env.timeout(cycles)
            last_end = st["last_end"] = env.now
            if keep and cycles > 0:
                log.append(Interval("compute", work[j].label, start + st["skipped"],
                                    last_end + st["skipped"]))
            uncomputed[j] -= 1
            if write > 0:
                wstart, end = transfer(write, 0.0)
                if keep:
                    log.append(Interval("dma", work[j].label, wstart + st["skipped"],
                                        end + st["skipped"]))
                releases.append(end)
                ev = env.timeout(end - env.now)
                ev.callbacks.append(release)
            else:
                end = env.now
                slots.put(None)
            if uncomputed[j] == 0:
                if end > env.now:
                    env.timeout(end - env.now).callbacks.append(
                        lambda _e, d=done[j]: d.succeed())
                else:
                    done[j].succeed()

    env.process(loader())
    env.process(compute())
    env.run()
    total = env.now + st["skipped"]
    if n_ops:  # the final write-back after the last compute is the last op's drain
        idle[-1] += max(0.0, env.now - st.get("last_end", 0.0))
    return _Run(total=total, idle=idle, dram_busy=st["busy"], timeline=log, simulated=st["sim"])


class _Queue:
    """A FIFO with at most one waiting consumer: the tile buffers (free slots) and the chunks
    ready for the array (a lighter simpy.Store for the one process that takes from it)."""

    def __init__(self, env: simpy.Environment, items: list | None = None) -> None:
        self.env = env
        self.items: deque = deque(items or ())
        self.waiter: simpy.Event | None = None

    def put(self, item) -> None:
        """Add an item, or hand it straight to the waiting consumer."""
        if self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.succeed(item)
        else:
            self.items.append(item)

    def get(self) -> simpy.Event:
        """An event that fires with the next item."""
        event = self.env.event()
        if self.items:
            event.succeed(self.items.popleft())
        else:
            self.waiter = event
        return event
