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
from math import ceil
from typing import Literal

import numpy as np
import numpy.typing as npt

from hwmodels.schema import ArraySpec
from rctsim.errors import InputError

Dataflow = Literal["ws", "os", "is"]
DATAFLOWS: tuple[str, ...] = ("ws", "os", "is")
"""Dataflows the model knows (SCALE-Sim's three)."""

IntArray = npt.NDArray[np.int64]
IntLike = int | npt.ArrayLike


def _ceil_div(num: IntLike, den: IntLike) -> IntArray:
    """Elementwise ceil(num / den) for non-negative integers."""
    return -(-np.asarray(num, dtype=np.int64) // np.asarray(den, dtype=np.int64))


def _check_dataflow(dataflow: str) -> None:
    """Raise InputError unless `dataflow` is one of DATAFLOWS."""
    if dataflow not in DATAFLOWS:
        raise InputError("hardware", "array.dataflow", f"unknown dataflow {dataflow!r}",
                         ", ".join(DATAFLOWS))


def fold_dims(m: IntLike, n: IntLike, k: IntLike,
              dataflow: str) -> tuple[IntArray, IntArray, IntArray]:
    """SCALE-Sim's (Sr, Sc, T) for our GEMM: os (M, N, K), ws (K, N, M), is (K, M, N)."""
    _check_dataflow(dataflow)
    m, n, k = (np.asarray(x, dtype=np.int64) for x in (m, n, k))
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]


def fill_drain_per_fold(rows: IntLike, cols: IntLike, dataflow: str) -> IntArray:
    """Cycles of a fold that are not the operand stream: skew fill, drain, stationary preload."""
    _check_dataflow(dataflow)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    preload = 0 if dataflow == "os" else rows
    return preload + rows + cols - 2


def folds_np(m: IntLike, n: IntLike, k: IntLike, rows: IntLike, cols: IntLike,
             dataflow: str) -> IntArray:
    """Number of array-sized tiles the GEMM is cut into: ceil(Sr/rows) * ceil(Sc/cols)."""
    sr, sc, _ = fold_dims(m, n, k, dataflow)
    return _ceil_div(sr, rows) * _ceil_div(sc, cols)


def compute_cycles_np(m: IntLike, n: IntLike, k: IntLike, rows: IntLike, cols: IntLike,
                      dataflow: str, scale_num: IntLike = 1, scale_den: IntLike = 1) -> IntArray:
    """Vectorised stall-free cycles; the stream part of a fold is ceil(T * scale_num/scale_den)."""
    _, _, t = fold_dims(m, n, k, dataflow)
    folds = folds_np(m, n, k, rows, cols, dataflow)
    stream = folds * _ceil_div(t * np.asarray(scale_num, dtype=np.int64), scale_den)
    total = folds * fill_drain_per_fold(rows, cols, dataflow) + stream - 1
    return np.maximum(total, stream)


def compute_cycles(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> int:
    """Stall-free cycles of an M x N x K GEMM at native precision: SCALE-Sim's compute cycles."""
    return int(compute_cycles_np(m, n, k, rows, cols, dataflow))


def operand_traffic_np(m: IntLike, n: IntLike, k: IntLike, rows: IntLike, cols: IntLike,
                       dataflow: str) -> dict[str, IntArray]:
    """SRAM<->array elements: a_reads, b_reads, out_writes, out_reads (partial sums read back)."""
    _check_dataflow(dataflow)
    m, n, k = (np.asarray(x, dtype=np.int64) for x in (m, n, k))
    out = m * n
    if dataflow == "os":
        a_reads, b_reads = m * k * _ceil_div(n, cols), k * n * _ceil_div(m, rows)
        out_writes = out
    else:
        k_folds = _ceil_div(k, rows)
        a_reads = m * k * (_ceil_div(n, cols) if dataflow == "ws" else 1)
        b_reads = k * n * (1 if dataflow == "ws" else _ceil_div(m, cols))
        out_writes = out * k_folds
    return {"a_reads": a_reads, "b_reads": b_reads, "out_writes": out_writes,
            "out_reads": out_writes - out}


def mapping_efficiency_np(m: IntLike, n: IntLike, k: IntLike, rows: IntLike, cols: IntLike,
                          dataflow: str) -> npt.NDArray[np.float64]:
    """Mean over folds of the fraction of PEs holding a stationary element (SCALE-Sim's)."""
    sr, sc, _ = fold_dims(m, n, k, dataflow)
    folds = folds_np(m, n, k, rows, cols, dataflow)
    return (sr * sc) / (folds * np.asarray(rows) * np.asarray(cols))


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
    """Width the first operand ran at (next supported width; 32 for fp32)."""
    b_bits_run: int
    """Width the second operand ran at (next supported width; 32 for fp32)."""
    is_float: bool
    """Whether the GEMM ran as fp32 MACs."""
    stream_scale: float
    """Cycles per streamed step relative to one native MAC per PE (1.0 native, 0.25 = 4x faster)."""


def gemm_timing(m: int, n: int, k: int, rows: int, cols: int, dataflow: str, *,
                scale: Fraction = Fraction(1), a_bits_run: int, b_bits_run: int,
                is_float: bool) -> GemmTiming:
    """GemmTiming of an M x N x K GEMM whose stream part runs `scale` cycles per step."""
    folds = int(folds_np(m, n, k, rows, cols, dataflow))
    _, _, t = fold_dims(m, n, k, dataflow)
    stream = folds * ceil(int(t) * scale)
    fill_drain = folds * int(fill_drain_per_fold(rows, cols, dataflow))
    cycles = max(fill_drain + stream - 1, stream)
    traffic = {key: int(v) for key, v in operand_traffic_np(m, n, k, rows, cols, dataflow).items()}
    macs = m * n * k
    return GemmTiming(
        compute_cycles=cycles, macs=macs,
        utilization=float(macs * scale / (cycles * rows * cols)),
        mapping_efficiency=float(mapping_efficiency_np(m, n, k, rows, cols, dataflow)),
        folds=folds, stream_cycles=stream, fill_drain_cycles=fill_drain,
        a_bits_run=a_bits_run, b_bits_run=b_bits_run, is_float=is_float,
        stream_scale=float(scale), **traffic,
    )


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
            return Fraction(spec.fp32_cycles_per_mac)
        if spec.precision_mode == "bit_serial":
            serial = Fraction(ceil(a_bits_run / spec.serial_bits),
                              ceil(spec.native_bits / spec.serial_bits))
            return serial * ceil(b_bits_run / spec.native_bits)
        if spec.precision_mode == "bit_fusion":
            return Fraction(_pow2_at_least(a_bits_run) * _pow2_at_least(b_bits_run),
                            _pow2_at_least(spec.native_bits) ** 2)
        return Fraction(1)

    def gemm(self, m: int, n: int, k: int, a_bits: int, b_bits: int,
             is_float: bool) -> GemmTiming:
        """Timing of `X[m,k] · W[k,n]` with operand widths a_bits, b_bits (or fp32)."""
        for name, value in (("m", m), ("n", n), ("k", k)):
            if int(value) != value or value < 1:
                raise InputError(self.source, f"gemm.{name}", f"{value}", "an integer >= 1")
        spec = self.spec
        if is_float and not spec.fp32:
            raise InputError(
                self.source, "array.fp32",
                f"an fp32 GEMM ({m}x{n}x{k}) needs fp32 MACs and array.fp32 is false",
                f"true, or integer operands up to {spec.int_bits[-1]} bits")
        if is_float:
            a_run = b_run = 32
        else:
            a_run, b_run = self.run_bits(a_bits, "a"), self.run_bits(b_bits, "b")
        return gemm_timing(int(m), int(n), int(k), spec.rows, spec.cols, spec.dataflow,
                           scale=self.stream_scale(a_run, b_run, is_float),
                           a_bits_run=a_run, b_bits_run=b_run, is_float=is_float)
