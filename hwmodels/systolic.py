"""Systolic-array GEMM timing: SCALE-Sim's stall-free compute model in closed form, plus precision.

A GEMM `Y[M,N] = X[M,K] · W[K,N]` (first operand `a` = X, second `b` = W) is folded onto a
rows x cols array the way SCALE-Sim 3.0.0 folds it (Samajdar et al., ISPASS 2020). In SCALE-Sim's
words the GEMM has spatial dims Sr (over array rows), Sc (over columns) and a temporal dim T:

    dataflow  stationary   Sr  Sc  T   fill/drain per fold F
    os        Y[M,N]       M   N   K   rows + cols - 2
    ws        W[K,N]       K   N   M   2*rows + cols - 2   (rows cycles preload W)
    is        X[M,K]       K   M   N   2*rows + cols - 2   (rows cycles preload X)

    folds = ceil(Sr / rows) * ceil(Sc / cols)
    cycles = folds * (F + S) - 1,  S = T at native precision

equal to SCALE-Sim's reported compute cycles on every case of tests/fixtures/scalesim_cycles.json
(SCALE-Sim reports the index of its last cycle, hence the -1). Two additions: the cycles are never
fewer than folds * S (binding only on a 1x1 os array, where SCALE-Sim reports more than 100%
utilisation), and precision modes scale the stream part S = ceil(T * stream_scale) while F is left
as it is (docs/array-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import ceil
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from hwmodels.schema import ArraySpec
from rctsim.errors import InputError

DATAFLOWS: tuple[str, ...] = ("ws", "os", "is")
"""Dataflows the model knows (SCALE-Sim's three)."""

IntArray = npt.NDArray[np.int64]
Ints = TypeVar("Ints", int, IntArray)
"""Python ints (one GEMM) or int64 arrays (many): every formula below takes either."""


def _ceil_div(num: Ints, den: Ints | int) -> Ints:
    """ceil(num / den) for non-negative integers, elementwise on arrays."""
    return -(-num // den)


def _check_dataflow(dataflow: str) -> None:
    """Raise InputError unless `dataflow` is one of DATAFLOWS."""
    if dataflow not in DATAFLOWS:
        raise InputError("hardware", "array.dataflow", f"unknown dataflow {dataflow!r}",
                         ", ".join(DATAFLOWS))


def fold_dims(m: Ints, n: Ints, k: Ints, dataflow: str) -> tuple[Ints, Ints, Ints]:
    """SCALE-Sim's (Sr, Sc, T) for our GEMM: os (M, N, K), ws (K, N, M), is (K, M, N)."""
    _check_dataflow(dataflow)
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]


def fill_drain_per_fold(rows: Ints, cols: Ints, dataflow: str) -> Ints:
    """Cycles of a fold that are not the operand stream: skew fill, drain, stationary preload."""
    _check_dataflow(dataflow)
    preload = 0 if dataflow == "os" else rows
    return preload + rows + cols - 2


def fold_count(m: Ints, n: Ints, k: Ints, rows: Ints, cols: Ints, dataflow: str) -> Ints:
    """Number of array-sized tiles the GEMM is cut into: ceil(Sr/rows) * ceil(Sc/cols)."""
    sr, sc, _ = fold_dims(m, n, k, dataflow)
    return _ceil_div(sr, rows) * _ceil_div(sc, cols)


def stream_and_fill_drain(m: Ints, n: Ints, k: Ints, rows: Ints, cols: Ints, dataflow: str,
                          scale_num: Ints | int = 1, scale_den: Ints | int = 1
                          ) -> tuple[Ints, Ints]:
    """Cycles streaming the temporal operand (ceil(T*scale) per fold) and of fill/drain, summed
    over folds; the total is max(fill_drain + stream - 1, stream)."""
    _, _, t = fold_dims(m, n, k, dataflow)
    folds = fold_count(m, n, k, rows, cols, dataflow)
    stream = folds * _ceil_div(t * scale_num, scale_den)
    return stream, folds * fill_drain_per_fold(rows, cols, dataflow)


def _as_int64(*values: npt.ArrayLike) -> list[IntArray]:
    """Inputs of a vectorised call as int64 arrays."""
    return [np.asarray(v, dtype=np.int64) for v in values]


def compute_cycles_np(m: npt.ArrayLike, n: npt.ArrayLike, k: npt.ArrayLike,
                      rows: npt.ArrayLike, cols: npt.ArrayLike, dataflow: str,
                      scale_num: npt.ArrayLike = 1, scale_den: npt.ArrayLike = 1) -> IntArray:
    """Vectorised stall-free cycles (numpy broadcasting); stream scaled by scale_num/scale_den."""
    stream, fill_drain = stream_and_fill_drain(*_as_int64(m, n, k, rows, cols), dataflow,
                                               *_as_int64(scale_num, scale_den))
    return np.maximum(fill_drain + stream - 1, stream)


def compute_cycles(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> int:
    """Stall-free cycles of an M x N x K GEMM at native precision: SCALE-Sim's compute cycles."""
    stream, fill_drain = stream_and_fill_drain(m, n, k, rows, cols, dataflow)
    return max(fill_drain + stream - 1, stream)


def operand_traffic(m: Ints, n: Ints, k: Ints, rows: Ints, cols: Ints,
                    dataflow: str) -> dict[str, Ints]:
    """SRAM<->array elements: a_reads, b_reads, out_writes, out_reads (partial sums read back)."""
    _check_dataflow(dataflow)
    out = m * n
    if dataflow == "os":
        a_reads, b_reads = m * k * _ceil_div(n, cols), k * n * _ceil_div(m, rows)
        out_writes = out
    else:
        a_reads = m * k * (_ceil_div(n, cols) if dataflow == "ws" else 1)
        b_reads = k * n * (1 if dataflow == "ws" else _ceil_div(m, cols))
        out_writes = out * _ceil_div(k, rows)
    return {"a_reads": a_reads, "b_reads": b_reads, "out_writes": out_writes,
            "out_reads": out_writes - out}


def mapping_efficiency(m: Ints, n: Ints, k: Ints, rows: Ints, cols: Ints,
                       dataflow: str) -> float | npt.NDArray[np.float64]:
    """Mean over folds of the fraction of PEs holding a stationary element (SCALE-Sim's)."""
    sr, sc, _ = fold_dims(m, n, k, dataflow)
    return (sr * sc) / (fold_count(m, n, k, rows, cols, dataflow) * rows * cols)


@dataclass(frozen=True)
class GemmTiming:
    """Stall-free timing and SRAM<->array operand traffic of one GEMM on one array."""

    compute_cycles: int
    """Stall-free cycles: max(folds * fill_drain + stream - 1, stream)."""
    macs: int
    """Multiply-accumulates: M * N * K."""
    utilization: float
    """Fraction of the array's peak MAC rate at this precision: macs * stream_scale /
    (cycles * rows * cols); equals macs / (cycles * rows * cols) at native speed."""
    mapping_efficiency: float
    """Mean over folds of the fraction of PEs holding a stationary element."""
    a_reads: int
    """Elements of the first operand X[M,K] read from SRAM into the array."""
    b_reads: int
    """Elements of the second operand W[K,N] read from SRAM into the array."""
    out_writes: int
    """Output elements Y[M,N] (final or partial sums) written from the array to SRAM."""
    out_reads: int
    """Partial sums read back from SRAM to accumulate when the reduction K is folded (ws, is)."""
    folds: int
    """Array-sized tiles the GEMM is cut into."""
    stream_cycles: int
    """Cycles spent streaming the temporal operand, over all folds (the part precision scales)."""
    fill_drain_cycles: int
    """Cycles of fill, drain and stationary preload, over all folds (never scaled)."""
    a_bits_run: int
    """Width the first operand ran at (next supported width; the float width on a float unit)."""
    b_bits_run: int
    """Width the second operand ran at (next supported width; the float width on a float unit)."""
    is_float: bool
    """Whether the GEMM ran as floating-point MACs (on a compute unit)."""
    stream_scale: float
    """Cycles per streamed step relative to one native MAC per PE (1.0 native, 0.25 = 4x faster)."""


def gemm_timing(m: int, n: int, k: int, rows: int, cols: int, dataflow: str, *,
                scale: Fraction = Fraction(1), a_bits_run: int, b_bits_run: int,
                is_float: bool) -> GemmTiming:
    """GemmTiming of an M x N x K GEMM whose stream part runs `scale` cycles per step."""
    stream, fill_drain = stream_and_fill_drain(m, n, k, rows, cols, dataflow,
                                               scale.numerator, scale.denominator)
    cycles = max(fill_drain + stream - 1, stream)
    macs = m * n * k
    return GemmTiming(
        compute_cycles=cycles, macs=macs,
        utilization=float(macs * scale / (cycles * rows * cols)),
        mapping_efficiency=float(mapping_efficiency(m, n, k, rows, cols, dataflow)),
        folds=fold_count(m, n, k, rows, cols, dataflow), stream_cycles=stream,
        fill_drain_cycles=fill_drain, a_bits_run=a_bits_run, b_bits_run=b_bits_run,
        is_float=is_float, stream_scale=float(scale),
        **operand_traffic(m, n, k, rows, cols, dataflow),
    )


cached_gemm_timing = lru_cache(maxsize=8192)(gemm_timing)
"""`gemm_timing` worked out once per process for each distinct set of arguments (a pure
function of them, its GemmTiming frozen): the same layer shapes recur across a step's layers,
its phases (bit changes do not change the timing of the default precision mode) and a sweep's
machines that share the array."""


def _pow2_at_least(bits: int, floor: int = 2) -> int:
    """Smallest power of two >= max(bits, floor) (Bit Fusion's brick-aligned widths)."""
    width = floor
    while width < bits:
        width *= 2
    return width


class SystolicArray:
    """The default `array` component: SCALE-Sim's compute model plus bit-scalable MACs."""

    def __init__(self, spec: ArraySpec, *, source: str = "hardware"):
        self.spec = spec
        self.source = source
        self._timings: dict[tuple, GemmTiming] = {}  # gemm() answers (never errors) by args

    def run_bits(self, bits: int, operand: str) -> int:
        """Integer width an operand of `bits` runs at: the next supported width in int_bits."""
        if int(bits) != bits or not 1 <= bits <= 32:
            raise InputError(self.source, f"gemm.{operand}_bits", f"{bits}", "an integer 1..32")
        supported = self.spec.int_bits
        if bits > supported[-1]:
            raise InputError(
                self.source, "array.int_bits",
                f"operand {operand} has {bits} bits, wider than the widest integer MAC",
                f"integer operands up to {supported[-1]} bits (int_bits {list(supported)})")
        return next(width for width in supported if width >= bits)

    def stream_scale(self, a_bits_run: int, b_bits_run: int, is_float: bool) -> Fraction:
        """Cycles per streamed step relative to a native MAC, by precision mode."""
        spec = self.spec
        if is_float:
            raise InputError(self.source, "compute_units",
                             "the integer array has no floating-point MACs",
                             "a compute unit with the format (hwmodels.compute)")
        if spec.precision_mode == "bit_serial":
            serial = Fraction(ceil(a_bits_run / spec.serial_bits),
                              ceil(spec.native_bits / spec.serial_bits))
            return serial * ceil(b_bits_run / spec.native_bits)
        if spec.precision_mode == "bit_fusion":
            return Fraction(_pow2_at_least(a_bits_run) * _pow2_at_least(b_bits_run),
                            _pow2_at_least(spec.native_bits) ** 2)
        return Fraction(1)

    def gemm(self, m: int, n: int, k: int, a_bits: int, b_bits: int,
             is_float: bool = False) -> GemmTiming:
        """Timing of `X[m,k] · W[k,n]` with integer operand widths a_bits, b_bits (float GEMMs
        run on compute units: hwmodels.compute.float_gemm_timing)."""
        key = (m, n, k, a_bits, b_bits, is_float)
        got = self._timings.get(key)
        if got is None:
            got = self._timings[key] = self._gemm(m, n, k, a_bits, b_bits, is_float)
        return got

    def _gemm(self, m: int, n: int, k: int, a_bits: int, b_bits: int,
              is_float: bool) -> GemmTiming:
        for name, value in (("m", m), ("n", n), ("k", k)):
            if int(value) != value or value < 1:
                raise InputError(self.source, f"gemm.{name}", f"{value}", "an integer >= 1")
        spec = self.spec
        if is_float:
            raise InputError(
                self.source, "compute_units",
                f"a floating-point GEMM ({m}x{n}x{k}) runs on a compute unit, not the integer "
                "array", f"integer operands up to {spec.int_bits[-1]} bits")
        a_run, b_run = self.run_bits(a_bits, "a"), self.run_bits(b_bits, "b")
        return cached_gemm_timing(int(m), int(n), int(k), spec.rows, spec.cols, spec.dataflow,
                                  scale=self.stream_scale(a_run, b_run, is_float),
                                  a_bits_run=a_run, b_bits_run=b_run, is_float=is_float)
