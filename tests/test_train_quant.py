"""Quantisation: symmetric integer grids, unbiased stochastic rounding, and the integer-only
weight store (updates, bit changes, range widening) against hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from rctsim.train.quantize import (
    OperandQuant,
    fake_quantize,
    qmax,
    quantize,
    stochastic_round,
)
from rctsim.train.storage import IntegerStore, MasterCopyStore, int_dtype, power_of_two_exponent


def test_qmax_is_symmetric_range():
    """b-bit symmetric integers span +-(2^(b-1) - 1)."""
    assert [qmax(b) for b in (2, 4, 8, 16)] == [1, 7, 127, 32767]


@pytest.mark.parametrize("u", [0.3, -1.7, 2.5, 0.01, -0.999])
def test_stochastic_rounding_is_unbiased(u):
    """Mean of 200k roundings of u is within 5 standard errors of u; only floor/ceil occur."""
    rng = np.random.default_rng(0)
    draws = stochastic_round(np.full(200_000, u), rng)
    assert set(np.unique(draws)) <= {np.floor(u), np.ceil(u)}
    frac = u - np.floor(u)
    stderr = np.sqrt(frac * (1 - frac) / draws.size)
    assert abs(draws.mean() - u) < 5 * stderr + 1e-12


def test_stochastic_rounding_is_seeded():
    """The same generator seed gives the same roundings."""
    u = np.linspace(-3, 3, 101)
    a = stochastic_round(u, np.random.default_rng(7))
    b = stochastic_round(u, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_nearest_quantisation_error_is_half_a_step():
    """Round-to-nearest on max|x|/qmax steps: error <= step/2 and the peak is exact."""
    x = np.random.default_rng(1).standard_normal(1000)
    q, step = quantize(x, 6)
    assert step == pytest.approx(np.abs(x).max() / 31)
    assert np.abs(q).max() == 31
    assert np.abs(q * step - x).max() <= step / 2 + 1e-12
    np.testing.assert_allclose(fake_quantize(x, 6), q * step)


def test_stochastic_quantisation_is_unbiased_per_entry():
    """E[SR quantise(x)] = x entrywise (mean over 4000 draws, 5 standard errors)."""
    x = np.array([0.1234, -0.5, 0.77, 1.0])
    rng = np.random.default_rng(2)
    draws = np.stack([fake_quantize(x, 3, rng=rng) for _ in range(4000)])
    step = 1.0 / qmax(3)
    assert np.all(np.abs(draws.mean(0) - x) < 5 * (step / 2) / np.sqrt(4000))


def test_operand_quant_rounds_activations_and_needs_rng_for_gradients():
    """a_bits round to nearest; g_bits without a generator is an error; None passes through."""
    x = np.array([0.2, -1.0, 0.55])
    assert OperandQuant().act(x) is x
    np.testing.assert_allclose(OperandQuant(a_bits=2).act(x), [0.0, -1.0, 1.0])
    with pytest.raises(ValueError):
        OperandQuant(g_bits=4).grad(x)


def test_power_of_two_step_covers_the_peak():
    """2^e * qmax >= max|x| > 2^(e-1) * qmax."""
    x = np.array([0.3, -0.9])
    e = power_of_two_exponent(x, 8)
    assert 2.0**e * 127 >= 0.9 > 2.0 ** (e - 1) * 127
    assert power_of_two_exponent(np.zeros(3), 8) == 0


def make_store(bits: int = 8, seed: int = 0) -> IntegerStore:
    x = np.random.default_rng(seed).standard_normal(500).astype(np.float32)
    return IntegerStore.from_float(x, bits, np.random.default_rng(seed + 1))


def test_integer_store_holds_only_small_integers():
    """8-bit weights live in int8 within +-127; 12-bit ones in int16."""
    store = make_store(8)
    assert store.q.dtype == np.int8 and np.abs(store.q).max() <= 127
    store.set_bits(12)
    assert store.q.dtype == np.int16 and int_dtype(12) is np.int16


def test_integer_update_is_unbiased():
    """Adding 0.3 steps to every weight moves the integers by 0.3 on average."""
    store = make_store(10)
    store.q[...] = 0
    before = store.q.astype(np.int64)
    steps_sum = store.add(np.full(500, 0.3 * store.step, np.float32))
    moved = store.q.astype(np.int64) - before
    assert set(np.unique(moved)) <= {0, 1}
    assert abs(moved.mean() - 0.3) < 5 * np.sqrt(0.21 / 500)
    assert steps_sum == pytest.approx(0.3 * 500)


def test_gaining_a_bit_halves_the_step_and_keeps_values():
    """One more bit: step/2, integers x2, dequantised values identical; and back again exactly."""
    store = make_store(8)
    values, step, q = store.value().copy(), store.step, store.q.copy()
    store.set_bits(9)
    assert store.step == step / 2 and store.bits == 9
    np.testing.assert_array_equal(store.value(), values)
    store.set_bits(8)
    np.testing.assert_array_equal(store.q, q)


def test_losing_a_bit_rounds_stochastically_within_range():
    """One bit fewer: step x2, integers halved (odd ones rounded either way), clipped to qmax."""
    store = make_store(8)
    q = store.q.astype(np.int64)
    store.set_bits(7)
    new = store.q.astype(np.int64)
    assert np.abs(new).max() <= qmax(7)
    ok = (new == np.floor(q / 2)) | (new == np.ceil(q / 2)) | (np.abs(new) == qmax(7))
    assert ok.all()


def test_widen_range_doubles_step_at_same_bits():
    """Saturation handling: the range doubles, the bitwidth stays."""
    store = make_store(4)
    store.q[:50] = qmax(4)
    assert store.saturated_fraction() >= 0.1
    step = store.step
    store.widen_range()
    assert store.step == 2 * step and store.bits == 4
    assert store.saturated_fraction() < 0.1


def test_master_copy_store_requantises_after_update():
    """QAT: the update goes to the fp32 master; the forward copy is its 8-bit rounding."""
    master = np.random.default_rng(3).standard_normal(50).astype(np.float32)
    store = MasterCopyStore(master.copy(), 8)
    delta = np.full(50, 1e-4, np.float32)
    store.add(delta)
    np.testing.assert_allclose(store.master, master + delta, rtol=1e-6)
    np.testing.assert_allclose(store.value(), fake_quantize(store.master, 8), rtol=1e-6)
