"""Storage packing (hardware `packing`): bytes per element, memory footprint and DRAM bytes of
each packing against closed forms."""

from __future__ import annotations

import math

import pytest

from hwmodels.schema import HardwareSpec
from rctsim.nongemm import DEFAULT_INTERVAL
from rctsim.replay import simulate
from rctsim.storage import stored_bytes
from tests.helpers import hardware, make_trace, mlp_layers


def _container(bits: int) -> int:
    """Smallest of the 8/16/32-bit containers that holds `bits`, in bytes."""
    return next(size for size in (1, 2, 4) if 8 * size >= bits)


@pytest.mark.parametrize("bits", range(1, 33))
def test_bytes_per_element_of_each_packing(bits):
    assert stored_bytes(bits, "packed") == bits / 8
    assert stored_bytes(bits, "byte") == math.ceil(bits / 8)
    assert stored_bytes(bits, "pow2") == _container(bits)


def _packed_hw(packing: str, **changes) -> HardwareSpec:
    data = hardware(int_bits=list(range(2, 25)), **changes).model_dump()
    data["packing"] = packing
    return HardwareSpec.model_validate(data)


W, A, G = 5, 6, 20
"""Odd widths on purpose: packed, byte and pow2 all differ (20 bits: 2.5, 3 and 4 bytes)."""


@pytest.mark.parametrize("packing", ["packed", "byte", "pow2"])
def test_footprint_and_input_traffic_follow_the_packing(packing):
    """Everything on chip: parameters, optimiser state (g bits) and kept activations take
    elements x bytes(bits); the only DRAM traffic is each iteration's batch, M*K x bytes(a)."""
    layers = mlp_layers()
    trace = make_trace(layers, iterations=7, bits=(W, A, G, 32), params={"opt_state_bits": G})
    pr = simulate(_packed_hw(packing, global_size=64 << 20), trace,
                  baseline=None).policies["rct"]
    params = sum(la.params for la in layers)
    acts = sum(la.act_elems for la in layers)
    assert pr.memory_bytes["params"] == pytest.approx(params * stored_bytes(W, packing))
    assert pr.memory_bytes["optimizer"] == pytest.approx(params * stored_bytes(G, packing))
    assert pr.memory_bytes["activations_peak"] == pytest.approx(acts * stored_bytes(A, packing))
    batch = layers[0].m * layers[0].k * stored_bytes(A, packing)
    assert pr.traffic_bytes["dram_read"] == pytest.approx(batch * trace.iterations)
    assert pr.traffic_bytes["dram_write"] == 0


@pytest.mark.parametrize("packing", ["packed", "byte", "pow2"])
def test_streamed_weights_move_at_their_stored_size(packing):
    """A 4 KB buffer (3 KB resident): the two 65,536-weight layers stream, the last layer's
    2,560 weights stay on chip in every packing; per iteration the update reads and writes each
    streamed weight, 2 x 131,072 x bytes(w), and RCT's statistics scan reads it once per
    interval (the GEMMs' weight traffic depends on the tiling,
    which the element size also changes)."""
    layers = mlp_layers(batch=4, dims=(256, 256, 256, 10))
    trace = make_trace(layers, iterations=2, bits=(W, A, G, 32))
    pr = simulate(_packed_hw(packing, global_size=4096), trace, baseline=None).policies["rct"]
    params = layers[0].params + layers[1].params
    weights = sum(r.quantity for r in pr.rows
                  if r.component == "dram" and r.tensor == "weights" and r.op == "update")
    # plus RCT's saturation scan: one read of the weights every `interval` iterations
    # (docs/model.md §9; make_trace records no interval, so the default applies)
    per_iteration = 2 + 1 / DEFAULT_INTERVAL
    assert weights == pytest.approx(
        per_iteration * params * stored_bytes(W, packing) * trace.iterations)
