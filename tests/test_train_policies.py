"""Policies: what each stores (RCT: integers only), the Gavg bit decisions against hand-set
update sizes, QAT's master copy, APT's single knob, and SGD momentum in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from rctsim.errors import InputError
from rctsim.train.config import TrainConfig
from rctsim.train.layers import Linear
from rctsim.train.loop import prepare, train_step
from rctsim.train.optim import SGDMomentum
from rctsim.train.policies import make_policy
from rctsim.train.quantize import fake_quantize, qmax
from rctsim.train.storage import FloatStore, IntegerStore, MasterCopyStore, Param

SMALL = {"n_train": 200, "n_test": 50}


def reachable_arrays(*roots) -> list[np.ndarray]:
    """Every numpy array reachable through attributes, lists, tuples and dicts from `roots`."""
    seen, out, stack = set(), [], list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, np.random.Generator | type | str):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            out.append(obj)
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return out


def run_steps(policy: str, steps: int, **policy_params) -> object:
    session = prepare(TrainConfig(model="cnn", policy=policy, batch_size=50,
                                  dataset_params=SMALL, policy_params=policy_params))
    for i in range(steps):
        train_step(session, session.data.x_train[:50], session.data.y_train[:50], 0.05)
        session.policy.end_iteration(i)
    return session


def test_rct_holds_no_floating_point_weights():
    """After training steps and bit decisions, every parameter is integers at its layer's bits,
    and the only weight-shaped float arrays anywhere in model, policy or optimiser are the
    gradient buffers and the (float16) momentum: no float copy of the weights, fresh or stale."""
    session = run_steps("rct", 6, interval=2)
    params = session.model.params()
    assert params and all(isinstance(p.store, IntegerStore) for p in params)
    for p in params:
        assert np.issubdtype(p.store.q.dtype, np.signedinteger)
        assert np.abs(p.store.q.astype(np.int64)).max() <= qmax(p.store.bits)
    allowed = {id(p.grad) for p in params} | {id(v) for v in session.optimizer.velocity.values()}
    shapes = {p.shape for p in params}
    for arr in reachable_arrays(session.model, session.policy, session.optimizer):
        if np.issubdtype(arr.dtype, np.floating) and arr.shape in shapes:
            assert id(arr) in allowed, f"float array of weight shape {arr.shape}"
    assert all(v.dtype == np.float16 for v in session.optimizer.velocity.values())


def test_fp32_and_qat_storage():
    """fp32: one float copy; QAT: fp32 master plus the w_q-bit copy the forward pass reads."""
    fp32 = run_steps("fp32", 2)
    assert all(isinstance(p.store, FloatStore) for p in fp32.model.params())
    assert all(v.dtype == np.float32 for v in fp32.optimizer.velocity.values())
    qat = run_steps("qat", 2, w_q=6)
    for p in qat.model.params():
        assert isinstance(p.store, MasterCopyStore) and p.store.master.dtype == np.float32
        np.testing.assert_allclose(p.value(), fake_quantize(p.store.master, 6), rtol=1e-6)
    np.testing.assert_array_equal(qat.policy.bits(), np.tile([6, 8, 32, 32], (4, 1)))


class FixedUpdate:
    """An optimiser stand-in proposing updates of exactly `size` quantisation steps."""

    def __init__(self, size: float):
        self.size = size

    def delta(self, param: Param, lr: float) -> np.ndarray:
        return np.full(param.shape, self.size * param.store.step, np.float32)


def one_layer_policy(name: str = "rct", **params):
    layer = Linear("fc", 16, 8, np.random.default_rng(0))
    policy = make_policy(name, {"interval": 3, **params}, [layer], np.random.default_rng(1))
    return layer, policy


@pytest.mark.parametrize("size,expected", [(0.01, 9), (0.1, 8), (0.5, 7)])
def test_gavg_decision_follows_thresholds(size, expected):
    """Gavg = mean update in steps over the interval; < t_low gains, > t_high loses a bit."""
    layer, policy = one_layer_policy(t_low=0.02, t_high=0.2)
    decisions = []
    for it in range(3):
        policy.apply_updates(FixedUpdate(size), lr=1.0)
        decisions += policy.end_iteration(it)
    assert decisions == [(0, pytest.approx(size))]
    assert policy.bits()[0, 0] == expected
    assert layer.weight.store.bits == layer.bias.store.bits == expected


def test_decisions_only_every_interval_and_clamped():
    """No decision between intervals; bits stop at b_max and b_min."""
    layer, policy = one_layer_policy(b_init=8, b_max=9, b_min=7)
    bits = []
    for it in range(12):
        policy.apply_updates(FixedUpdate(0.001), lr=1.0)
        assert bool(policy.end_iteration(it)) == (it % 3 == 2)
        bits.append(int(policy.bits()[0, 0]))
    assert bits == [8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]
    for it in range(12, 21):
        policy.apply_updates(FixedUpdate(5.0), lr=1.0)
        policy.end_iteration(it)
    assert policy.bits()[0, 0] == 7


def test_operand_bits_fixed_or_adaptive():
    """fixed: a/g stay at a_bits/g_bits; adaptive: they follow the layer's weight bits."""
    _, fixed = one_layer_policy(a_bits=6, g_bits=10)
    _, adaptive = one_layer_policy(operand_bits="adaptive")
    for policy in (fixed, adaptive):
        for it in range(3):
            policy.apply_updates(FixedUpdate(0.001), lr=1.0)
            policy.end_iteration(it)
    np.testing.assert_array_equal(fixed.bits(), [[9, 6, 10, 32]])
    np.testing.assert_array_equal(adaptive.bits(), [[9, 9, 9, 32]])


def test_apt_single_tradeoff_sets_both_thresholds():
    """apt: t_low = tradeoff, t_high = 10 tradeoff, one precision for all operands."""
    _, policy = one_layer_policy("apt", tradeoff=0.05)
    record = policy.record()
    assert record["tradeoff"] == 0.05 and record["t_low"] == 0.05
    assert record["t_high"] == pytest.approx(0.5)
    assert record["operand_bits"] == "adaptive"
    np.testing.assert_array_equal(policy.bits(), [[8, 8, 8, 32]])


def test_sgd_momentum_closed_form():
    """v1 = g1, v2 = mu g1 + g2; delta = -lr v."""
    p = Param("w", np.zeros(3, np.float32))
    opt = SGDMomentum([p], momentum=0.9, state_bits=32)
    g1, g2 = np.array([1.0, -2.0, 0.5]), np.array([0.5, 0.5, -1.0])
    p.grad[...] = g1
    np.testing.assert_allclose(opt.delta(p, 0.1), -0.1 * g1, rtol=1e-6)
    p.grad[...] = g2
    np.testing.assert_allclose(opt.delta(p, 0.1), -0.1 * (0.9 * g1 + g2), rtol=1e-6)


@pytest.mark.parametrize("name,params,field", [
    ("rct", {"nope": 1}, "nope"),
    ("rct", {"t_low": 0.5, "t_high": 0.1}, "parameters"),
    ("rct", {"b_min": 9}, "parameters"),
    ("qat", {"w_q": "many"}, "w_q"),
    ("sgd", {}, "policy"),
])
def test_bad_policy_parameters_raise_input_error(name, params, field):
    """Unknown policy or parameter, bad value or inconsistent range: InputError naming it."""
    layer = Linear("fc", 4, 4, np.random.default_rng(0))
    with pytest.raises(InputError) as err:
        make_policy(name, params, [layer], np.random.default_rng(0))
    assert err.value.field == field


def test_rct_keeps_weight_values_when_attaching():
    """Moving to integers changes each weight by at most half a step."""
    layer = Linear("fc", 16, 8, np.random.default_rng(0))
    before = layer.weight.value().copy()
    make_policy("rct", {}, [layer], np.random.default_rng(0))
    assert np.abs(layer.weight.value() - before).max() <= layer.weight.store.step / 2
