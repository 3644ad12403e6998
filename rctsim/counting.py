"""Count what one op does: MACs, compute cycles, SRAM and DRAM bytes per tensor class.

Counting only: no energy here (that is `rctsim.pricing`). The array component supplies the
stall-free cycles and the SRAM<->array operand traffic of a GEMM; `rctsim.mapping` the DRAM
traffic of its operands that live off chip; `rctsim.placement` where each tensor lives.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial

from hwmodels.compute import ARRAY, UnitChoice, elementwise_unit, float_gemm_timing, gemm_unit
from hwmodels.schema import HardwareSpec
from rctsim import nongemm as ng
from rctsim.errors import InputError
from rctsim.mapping import GemmOperands, Mapping, choose_mapping
from rctsim.ops import NONGEMM_OPS, Op, stored_input_elems, stored_weight_elems
from rctsim.placement import Placement, TransientHomes
from rctsim.storage import FP32, Fmt, mac_float_format
from rctsim.trace.model import LayerSpec

UPDATE_MACS_PER_PARAM = 2
"""SGD with momentum: v = mu*v + g and w = w - lr*v, one multiply-add each (docs/model.md)."""


_tally = partial(defaultdict, int)
"""A new tally of bytes by tensor class: a `defaultdict(int)` (a missing class reads 0, as in a
Counter, without a Python-level `__missing__` call: five are made and filled per op counted)."""


@dataclass
class OpCounts:
    """What one op of one step does."""

    op: Op
    macs: int = 0
    """GEMM multiply-accumulates."""
    update_macs: int = 0
    """Element-wise multiply-adds of the update."""
    compute_cycles: int = 0
    """Stall-free cycles on the array."""
    utilization: float = 0.0
    tiles: int = 1
    """DMA/compute pipeline steps (mapping tiles)."""
    nongemm: dict[str, tuple[ng.OpMix, Fmt]] = field(default_factory=dict)
    """Non-GEMM primitive ops by kind (recorded kinds, `fake_quant`, `ste_mask`,
    `stochastic_rounding`, `random_bits`, `grad_stats`) and the format they run at."""
    random_bits: float = 0.0
    """Random bits drawn (stochastic rounding of the update)."""
    nongemm_compute_cycles: int = 0
    """The part of `compute_cycles` spent on the non-GEMM ops (set when they are counted)."""
    sram_read: defaultdict[str, float] = field(default_factory=_tally)
    """Bytes read from the global buffer, by tensor class."""
    sram_write: defaultdict[str, float] = field(default_factory=_tally)
    """Bytes written to the global buffer, by tensor class."""
    dram_read: defaultdict[str, float] = field(default_factory=_tally)
    """Bytes read from DRAM, by tensor class."""
    dram_write: defaultdict[str, float] = field(default_factory=_tally)
    """Bytes written to DRAM, by tensor class."""
    feed_read: defaultdict[str, float] = field(default_factory=_tally)
    """Bytes of `sram_read` that feed the MACs (operands and partial sums read into the array
    or unit), by tensor class; the rest of `sram_read` is DMA write-back."""
    unit: str = ARRAY
    """The unit the op runs on (`array` or a compute unit's name)."""
    unit_placement: str = ARRAY
    """`array` (integer PEs), `pe` (a float datapath in the PEs) or `vector`."""
    mac_fmt: str | None = None
    """Float format the MACs run at on a float unit (None: integer on the array)."""
    mapping: Mapping | None = None

    @property
    def dram_read_bytes(self) -> float:
        """All DRAM bytes read."""
        return float(sum(self.dram_read.values()))

    @property
    def dram_write_bytes(self) -> float:
        """All DRAM bytes written."""
        return float(sum(self.dram_write.values()))

    def add_nongemm(self, kind: str, mix: ng.OpMix, fmt: Fmt) -> None:
        """Add primitive ops of one kind at one format."""
        if mix.total <= 0:
            return
        old = self.nongemm.get(kind, (ng.ZERO, fmt))[0]
        self.nongemm[kind] = (old + mix, fmt)

    def nongemm_cycles(self, hardware: HardwareSpec | None, where: str = "",
                       units: dict | None = None) -> int:
        """Cycles of the non-GEMM ops on the units that run them: ceil(ops / lanes) per
        format (hwmodels.compute.elementwise_unit); `where` names the op in errors; `units`:
        the units found so far by format (StepContext.units), added to."""
        by_fmt: Counter = Counter()
        for mix, fmt in self.nongemm.values():
            by_fmt[fmt] += mix.total
        if hardware is None:
            return 0
        cycles = 0
        for fmt, ops in by_fmt.items():
            try:
                lanes = known_unit(units if units is not None else {}, hardware,
                                   fmt.label()).lanes
            except InputError as err:
                kinds = ", ".join(k for k, (_, f) in self.nongemm.items() if f == fmt)
                raise InputError(err.source, where or err.field,
                                 f"non-GEMM work ({kinds}) at {fmt.label()}: {err.problem}",
                                 err.allowed) from None
            cycles += math.ceil(ops / lanes)
        return cycles

    def dma(self, direction: str, tensor: str, nbytes: float) -> None:
        """Move bytes between DRAM and the buffer: DRAM traffic plus the buffer side of it."""
        if nbytes <= 0:
            return
        if direction == "in":
            self.dram_read[tensor] += nbytes
            self.sram_write[tensor] += nbytes
        else:
            self.dram_write[tensor] += nbytes
            self.sram_read[tensor] += nbytes


@dataclass(frozen=True)
class StepContext:
    """What counting needs to know about the step and the hardware."""

    layers: tuple[LayerSpec, ...]
    placement: Placement
    homes: TransientHomes
    """Where each layer's transients live (shared with the footprint)."""
    array: object
    """The array component: `gemm(m, n, k, a_bits, b_bits, is_float) -> GemmTiming`."""
    rows: int
    cols: int
    source: str
    """Trace name, for error messages."""
    hw: HardwareSpec
    """The hardware description (its compute units run float GEMMs, the update and non-GEMM
    work)."""
    stats_interval: int = ng.DEFAULT_INTERVAL
    """RCT/APT: iterations between bitwidth decisions (the policy's `interval`)."""
    units: dict = field(default_factory=dict, repr=False, compare=False)
    """The unit each element-wise format runs on (`elementwise_unit` of `hw`), kept as found
    (the replay shares one per machine across its phases)."""

    def elementwise(self, fmt: str, what: str) -> UnitChoice:
        """`elementwise_unit(hw, fmt)`, found once per format (`known_unit`)."""
        return known_unit(self.units, self.hw, fmt, source=self.source, what=what)


def known_unit(units: dict, hardware: HardwareSpec, fmt: str, **where: str) -> UnitChoice:
    """`elementwise_unit(hardware, fmt, **where)`, kept in `units` by format once found (an
    error is raised each time, never kept)."""
    got = units.get(fmt)
    if got is None:
        got = units[fmt] = elementwise_unit(hardware, fmt, **where)
    return got


def count_op(op: Op, ctx: StepContext) -> OpCounts:
    """Counts for one op."""
    if op.kind == "update":
        return _count_update(op, ctx)
    if op.kind in NONGEMM_OPS:
        return _count_nongemm(op, ctx)
    return _count_gemm(op, ctx)


def _homes(op: Op, ctx: StepContext) -> tuple[bool, bool, bool]:
    """(A, B, C) in DRAM?"""
    p, h, i, layer = ctx.placement, ctx.homes, op.layer, ctx.layers[op.layer]
    kept = p.resident(i, "activations")
    if op.kind == "fwd":
        a_dram = h.x_in_dram[i]
        b_dram = not p.resident(i, op.b_tensor) if layer.has_weights else a_dram
        return a_dram, b_dram, h.y[i].in_dram
    if op.kind == "dgrad":
        b_dram = not p.resident(i, op.b_tensor) if layer.has_weights else not kept
        return h.dy[i].in_dram, b_dram, h.dx[i].in_dram
    return not kept, h.dy[i].in_dram, h.dw[i].in_dram


def _count_gemm(op: Op, ctx: StepContext) -> OpCounts:
    layer = ctx.layers[op.layer]
    fmt = mac_float_format(op.a, op.b)
    if fmt is None:
        timing = ctx.array.gemm(op.m, op.n, op.k, op.a.bits, op.b.bits, False)
        c = OpCounts(op=op)
    else:
        unit = gemm_unit(ctx.hw, fmt, source=ctx.source,
                         what=f"layers[{op.layer}] ({layer.name}).{op.kind}: a {op.m}x{op.n}x"
                              f"{op.k} GEMM of {op.a.label()} x {op.b.label()}")
        timing = float_gemm_timing(unit, op.m, op.n, op.k, a_bytes=op.a_bytes,
                                   b_bytes=op.b_bytes, out_bytes=op.acc.bytes)
        c = OpCounts(op=op, unit=unit.name, unit_placement=unit.placement, mac_fmt=unit.fmt)
    c.macs, c.compute_cycles, c.utilization = (timing.macs, timing.compute_cycles,
                                               timing.utilization)
    for tensor, nbytes in ((op.a_tensor, timing.a_reads * op.a_bytes),
                           (op.b_tensor, timing.b_reads * op.b_bytes),
                           (op.out_tensor, timing.out_reads * op.acc.bytes)):
        c.sram_read[tensor] += nbytes
        c.feed_read[tensor] += nbytes
    c.sram_write[op.out_tensor] += timing.out_writes * op.acc.bytes
    a_dram, b_dram, out_dram = _homes(op, ctx)
    sizes = _stored_elems(op, layer)
    operands = GemmOperands(
        m=op.m, n=op.n, k=op.k, a_bytes=op.a_bytes, b_bytes=op.b_bytes, out_bytes=op.out.bytes,
        acc_bytes=op.acc.bytes, a_in_dram=a_dram, b_in_dram=b_dram, out_in_dram=out_dram,
        **sizes)
    tile_space = ctx.placement.workspace_bytes / 2
    mapping = choose_mapping(operands, tile_space)
    if mapping is None:
        raise InputError(ctx.source, f"layers[{op.layer}] ({layer.name}).{op.kind}",
                         f"the {op.m}x{op.n}x{op.k} GEMM fits no mapping in "
                         f"{tile_space:.0f} bytes of tile workspace",
                         "a larger global buffer or a smaller layer")
    c.mapping, c.tiles = mapping, mapping.tiles
    c.dma("in", op.a_tensor, mapping.a_read_bytes)
    c.dma("in", op.b_tensor, mapping.b_read_bytes)
    c.dma("in", op.out_tensor, mapping.out_read_bytes)
    c.dma("out", op.out_tensor, mapping.out_write_bytes)
    if op.kind == "fwd" and op.a_tensor == "activations" and not a_dram \
            and not ctx.placement.resident(op.layer, "activations"):
        c.dma("out", "activations", layer.act_elems * op.a_bytes)  # keep X for backward
    return c


def _stored_elems(op: Op, layer: LayerSpec) -> dict[str, int | None]:
    """Tensor sizes as stored in memory where the GEMM view differs (im2col, grouped convs)."""
    x_elems = stored_input_elems(layer)
    weights = stored_weight_elems(layer) if layer.has_weights else None
    if op.kind == "fwd":
        return {"a_elems": x_elems, "b_elems": weights, "out_elems": None}
    if op.kind == "dgrad":
        return {"a_elems": None, "b_elems": weights, "out_elems": x_elems}
    return {"a_elems": x_elems, "b_elems": None, "out_elems": weights}


def _count_update(op: Op, ctx: StepContext) -> OpCounts:
    """Element-wise update: read dW, read/write the updated copy and the optimiser state."""
    p, i, n = ctx.placement, op.layer, op.elems
    f = op.acc
    what = f"layers[{i}] ({ctx.layers[i].name}).update"
    if f.is_float and not op.b.is_float:  # integer weights, float optimiser state
        what += (f" (its optimiser state is {f.label()}: an integer state, --opt-state int16 "
                 "or a trace recording opt_state_bits below 32, keeps it integer)")
    unit = ctx.elementwise(f"fp{f.bits}" if f.is_float else f"int{f.bits}", what)
    c = OpCounts(op=op, update_macs=UPDATE_MACS_PER_PARAM * n, unit=unit.name)
    c.compute_cycles = -(-c.update_macs // unit.lanes)
    dw_bytes = n * op.a.bytes
    c.sram_read["gradients"] += dw_bytes
    if ctx.layers[i].has_gemm and ctx.homes.dw[i].in_dram:
        c.dma("in", "gradients", dw_bytes)
    touched = [(op.b_tensor, n * op.b.bytes, True)]
    if op.b_tensor == "master_copy":  # QAT re-quantises and writes the quantised copy
        touched.append(("weights", n * op.out.bytes, False))
    opt = p.persistent_bytes.get((i, "optimizer"), 0.0)
    if opt:
        touched.append(("optimizer", opt, True))
    for tensor, nbytes, read in touched:
        if read:
            c.sram_read[tensor] += nbytes
            if not p.resident(i, tensor):
                c.dma("in", tensor, nbytes)
        c.sram_write[tensor] += nbytes
        if not p.resident(i, tensor):
            c.dma("out", tensor, nbytes)
    _count_update_quant(c, op, ctx)
    c.nongemm_compute_cycles = c.nongemm_cycles(ctx.hw, _where(op, ctx), ctx.units)
    c.compute_cycles += c.nongemm_compute_cycles
    return c


def _where(op: Op, ctx: StepContext) -> str:
    return f"layers[{op.layer}] ({ctx.layers[op.layer].name}).{op.kind}"


def _count_update_quant(c: OpCounts, op: Op, ctx: StepContext) -> None:
    """The quantisation work fused with the update (docs/model.md, "Non-GEMM work")."""
    p, i, n = ctx.placement, op.layer, op.elems

    def read(tensor: str, nbytes: float) -> None:
        c.sram_read[tensor] += nbytes
        if not p.resident(i, tensor):
            c.dma("in", tensor, nbytes)

    def write(tensor: str, nbytes: float) -> None:
        c.sram_write[tensor] += nbytes
        if not p.resident(i, tensor):
            c.dma("out", tensor, nbytes)

    if op.b_tensor == "master_copy" and not op.out.is_float:  # QAT: quantise the updated
        # master into the int copy (mixed precision's float working copy is rounded as it is
        # written: no statistics pass, no straight-through mask)
        c.add_nongemm("fake_quant", ng.FAKE_QUANT * n + ng.FAKE_QUANT_TENSOR, FP32)
        read("master_copy", n * op.b.bytes)  # second pass: max|w| is known only after the first
        c.add_nongemm("ste_mask", ng.STE_SELECT * n, FP32)  # dW where the weight did not clip
        write("weights", n / 8)  # one mask bit per weight, written when quantising
        read("weights", n / 8)  # and read by the next iteration's backward pass
    elif not op.b.is_float:  # RCT/APT: integer weights rounded stochastically in place
        arith, bits = op.acc, op.out.bits
        c.add_nongemm("stochastic_rounding", ng.SR_ROUND * n, arith)
        c.random_bits = n * ng.sr_random_bits(arith.bits, bits)
        c.add_nongemm("random_bits", ng.OpMix(add=ng.random_bit_ops(c.random_bits)),
                      Fmt(ng.RANDOM_WORD_BITS, False))
        interval = max(1, ctx.stats_interval)
        c.add_nongemm("grad_stats", ng.GAVG_STEP * n
                      + (ng.SATURATION_SCAN * n + ng.DECISION) * (1 / interval), arith)
        read("weights", n * op.out.bytes / interval)  # the saturation scan, once per interval


def _count_nongemm(op: Op, ctx: StepContext) -> OpCounts:
    """A layer's recorded non-GEMM work, forward (`ew_fwd`) or backward (`ew_bwd`)."""
    p, h, i, layer = ctx.placement, ctx.homes, op.layer, ctx.layers[op.layer]
    c = OpCounts(op=op)
    forward = op.kind == "ew_fwd"
    passes = ng.Passes()
    for work in layer.nongemm:
        c.add_nongemm(work.kind, ng.forward_ops(work) if forward else ng.backward_ops(work),
                      op.acc)
        passes += ng.forward_passes(work) if forward else ng.backward_passes(work)
    if op.quant_masks:  # QAT: straight-through masks of the GEMM inputs' quantisers
        elems = stored_input_elems(layer) + (0 if layer.has_weights else layer.k * layer.n)
        c.add_nongemm("ste_mask", ng.STE_SELECT * elems, op.acc)
        c.sram_write["activations"] += elems / 8  # mask bits written by the forward quantiser
        c.sram_read["activations"] += elems / 8  # and read here
    act_bytes, grad_bytes = op.b.bytes, op.a.bytes
    moves = (("activations", "read", passes.act_read * act_bytes),
             ("activations", "write", passes.act_write * act_bytes),
             ("gradients", "read", passes.grad_read * grad_bytes),
             ("gradients", "write", passes.grad_write * grad_bytes))
    tensor_in_dram = h.y[i].in_dram if forward else h.dy[i].in_dram
    kept_in_dram = not p.resident(i, "activations")
    for tensor, direction, nbytes in moves:
        if nbytes <= 0:
            continue
        off_chip = tensor_in_dram if forward or tensor == "gradients" else kept_in_dram
        if direction == "read":
            c.sram_read[tensor] += nbytes
            if off_chip:
                c.dma("in", tensor, nbytes)
        else:
            c.sram_write[tensor] += nbytes
            if off_chip:
                c.dma("out", tensor, nbytes)
    c.nongemm_compute_cycles = c.nongemm_cycles(ctx.hw, _where(op, ctx), ctx.units)
    c.compute_cycles = c.nongemm_compute_cycles
    return c
