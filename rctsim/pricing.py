"""Price counts: energy = per-action cost (hardware components) x count (rctsim.counting).

The hardware's cost models answer what one MAC, one byte of SRAM or DRAM access, or one second
of leakage costs; this module multiplies and writes ledger rows.
"""

from __future__ import annotations

from hwmodels.components import CostModels
from hwmodels.compute import FLOAT_BITS, unit_component
from rctsim.counting import OpCounts
from rctsim.ledger import Ledger

PJ_PER_J = 1e12


def price_op(c: OpCounts, layer_name: str, costs: CostModels, ledger: Ledger) -> None:
    """Add the rows of one op's counts to the ledger (in one `Ledger.add_many` call: the
    rows in the order, and with the sums, that one `add_key` per row gives)."""
    op = c.op
    kind = op.kind
    rows: list[tuple[tuple[str, ...], float, float]] = []
    add = rows.append
    gb = costs.global_buffer
    sram = f"sram:{gb.memory.name}"
    feed_bits = "-"
    if c.macs:
        if c.mac_fmt is None:
            pj = costs.mac.mac_energy_pj(a_bits=op.a.bits, b_bits=op.b.bits, is_float=False,
                                         acc_bits=op.acc.bits)
            bits = f"{op.a.label()}x{op.b.label()}"
        else:
            width = FLOAT_BITS[c.mac_fmt]
            pj = costs.mac.mac_energy_pj(a_bits=width, b_bits=width, is_float=True,
                                         acc_bits=op.acc.bits)
            bits = c.mac_fmt
        add(((layer_name, kind, unit_component(c.unit, c.unit_placement), "mac", "-", bits),
             c.macs, c.macs * pj))
        if c.unit_placement != "vector":
            _price_pe_local(c, layer_name, costs, rows, bits)
        feed_bits = bits
    if c.update_macs:
        f = op.acc
        pj = costs.mac.mac_energy_pj(a_bits=f.bits, b_bits=f.bits, is_float=f.is_float,
                                     acc_bits=f.bits)
        add(((layer_name, kind, "vector", "update_mac", "-", f.label()), c.update_macs,
             c.update_macs * pj))
    if c.nongemm:
        _price_nongemm(c, layer_name, costs, rows)
    # operand feed into the MACs carries the MACs' format in `bits` (energy_pj.gemm_datapath
    # counts it); the DMA side of the buffer carries "-"
    per_byte = gb.read_pj_per_byte
    for tensor, nbytes in c.feed_read.items():
        add(((layer_name, kind, sram, "read", tensor, feed_bits), nbytes, nbytes * per_byte))
    for tensor, nbytes in _dma_reads(c).items():
        add(((layer_name, kind, sram, "read", tensor, "-"), nbytes, nbytes * per_byte))
    per_byte = gb.write_pj_per_byte
    for tensor, nbytes in c.sram_write.items():
        add(((layer_name, kind, sram, "write", tensor, "-"), nbytes, nbytes * per_byte))
    per_byte = costs.dram.read_pj_per_byte
    for tensor, nbytes in c.dram_read.items():
        add(((layer_name, kind, "dram", "read", tensor, "-"), nbytes, nbytes * per_byte))
    per_byte = costs.dram.write_pj_per_byte
    for tensor, nbytes in c.dram_write.items():
        add(((layer_name, kind, "dram", "write", tensor, "-"), nbytes, nbytes * per_byte))
    ledger.add_many(rows)


def _dma_reads(c: OpCounts) -> dict[str, float]:
    """Global-buffer bytes read for DMA write-back: sram_read less the MAC feed."""
    out = {}
    feed = c.feed_read
    for tensor, nbytes in c.sram_read.items():
        rest = nbytes - feed.get(tensor, 0.0)
        if rest > 1e-9 * nbytes:
            out[tensor] = rest
    return out


Rows = list[tuple[tuple[str, ...], float, float]]
"""(key, quantity, energy) rows as `Ledger.add_many` takes them."""


def _price_nongemm(c: OpCounts, layer_name: str, costs: CostModels, rows: Rows) -> None:
    """Non-GEMM primitive ops: one `vector` row per kind, action = the kind, quantity = ops."""
    table = costs.elementwise  # hwmodels.elementwise.ElementwiseEnergy: each answer once
    kind_of_op = c.op.kind
    for kind, (mix, fmt) in c.nongemm.items():
        if kind == "random_bits":
            pj = mix.total * table.rng_pj()
        else:
            pj = 0
            bits, is_float = fmt.bits, fmt.is_float
            if mix.add:  # the terms of sum(...) over the non-zero counts, in this order
                pj = pj + mix.add * table.op_pj("add", bits, is_float)
            if mix.mul:
                pj = pj + mix.mul * table.op_pj("mul", bits, is_float)
            if mix.cmp:
                pj = pj + mix.cmp * table.op_pj("cmp", bits, is_float)
        rows.append(((layer_name, kind_of_op, "vector", kind, "-", fmt.label()), mix.total, pj))


def _price_pe_local(c: OpCounts, layer_name: str, costs: CostModels, rows: Rows,
                    bits: str) -> None:
    """Per-PE registers: each MAC reads both operands and reads+writes its partial sum."""
    for name, model in costs.sram.items():
        if model.memory.role != "pe_local":
            continue
        op = c.op
        read = c.macs * (op.a.bytes + op.b.bytes + op.acc.bytes)  # the MACs' operand widths
        write = c.macs * op.acc.bytes
        component = f"sram:{name}"
        rows.append(((layer_name, op.kind, component, "read", "-", bits), read,
                     read * model.read_pj_per_byte))
        rows.append(((layer_name, op.kind, component, "write", "-", bits), write,
                     write * model.write_pj_per_byte))


def price_leakage(seconds: float, costs: CostModels, ledger: Ledger,
                  compute_w: dict[str, float] | None = None) -> None:
    """Leakage of every on-chip memory, and of the array and compute units (`compute_w`: W by
    ledger component, hwmodels.compute.compute_leakage_w), over `seconds`."""
    for name, model in costs.sram.items():
        ledger.add(layer="*", op="*", component=f"sram:{name}", action="leak", tensor="-",
                   bits="-", quantity=seconds, energy_pj=model.leakage_w * seconds * PJ_PER_J)
    for component, watts in (compute_w or {}).items():
        ledger.add(layer="*", op="*", component=component, action="leak", tensor="-",
                   bits="-", quantity=seconds, energy_pj=watts * seconds * PJ_PER_J)
