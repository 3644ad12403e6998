"""The public recorder and stand-alone controllers, end to end with a numpy training loop; the
documented PyTorch example compiles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import rctsim
import rctsim.policies
from rctsim.errors import InputError
from rctsim.recorder import Recorder
from rctsim.trace.io import read_trace
from workloads.shapes import shape_model

DOCS = Path(__file__).resolve().parents[1] / "docs" / "capture.md"


def _numpy_rct_loop(iterations: int, tmp_path: Path):
    """A 16-8-3 MLP trained by plain numpy SGD with RCT's integer-only weights: weights are
    integers times a power-of-two step at the controller's bits, updates stochastically rounded;
    each layer's update in steps is fed to the controller, its bits to the recorder."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 16)).astype(np.float64)
    y = x[:, :3].argmax(1)
    layers = shape_model("mlp", 8, input_size=16, hidden=(8,), num_classes=3)
    params = dict(interval=5, b_init=6, b_min=3, b_max=12, t_low=0.3, t_high=3.0)
    controller = rctsim.policies.RCT(layers, **params)
    rec = Recorder(layers, model="mlp16", batch_size=8, policy=controller, dataset="gauss",
                   policy_params={"optimizer": "sgd", "opt_state_per_param": 0})
    weights = [rng.normal(size=(16, 8)) * 0.3, rng.normal(size=(8, 3)) * 0.3]
    used, decided = [], []
    pending = np.zeros((2, 2))  # per layer: sum |dW|/step, count since the last decision
    bits = controller.bits()
    for it in range(iterations):
        idx = rng.integers(0, len(x), 8)
        xb, yb = x[idx], y[idx]
        steps = [rctsim.policies.quant_step(w, int(b)) for w, b in zip(weights, bits[:, 0],
                                                                       strict=True)]
        wq = [np.clip(np.round(w / s), -(2 ** (b - 1) - 1), 2 ** (b - 1) - 1) * s
              for w, s, b in zip(weights, steps, bits[:, 0].astype(int), strict=True)]
        h = np.maximum(xb @ wq[0], 0)
        logits = h @ wq[1]
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        loss = float(-np.log(p[np.arange(8), yb]).mean())
        d = p.copy()
        d[np.arange(8), yb] -= 1
        d /= 8
        grads = [xb.T @ ((d @ wq[1].T) * (h > 0)), h.T @ d]
        stats = {}
        for i, (name, g) in enumerate(zip(("fc1", "fc2"), grads, strict=True)):
            update = -0.5 * g
            u = update / steps[i]
            weights[i] = wq[i] + np.floor(u + rng.random(u.shape)) * steps[i]
            stats[name] = rctsim.policies.gavg(update, steps[i])
            pending[i] += stats[name]
        rec.record(it, bits, {"loss": loss})
        used.append(bits.copy())
        before = bits[:, 0].copy()
        bits = controller.step(it, stats)
        if (it + 1) % params["interval"] == 0:
            g_hand = pending[:, 0] / pending[:, 1]
            expected = np.clip(before + (g_hand < params["t_low"]) - (g_hand > params["t_high"]),
                               params["b_min"], params["b_max"])
            decided.append((before, expected, bits[:, 0].copy(), g_hand))
            pending[:] = 0
            for layer, value in controller.decisions:
                rec.signal("gavg", it, layer, value)
    path = tmp_path / "run.trace"
    rec.save(path)
    return read_trace(path), used, decided


def test_numpy_loop_end_to_end(tmp_path) -> None:
    trace, used, decided = _numpy_rct_loop(60, tmp_path)
    assert trace.iterations == 60 and trace.header.policy.name == "rct"
    assert trace.header.policy.params["interval"] == 5
    assert trace.header.producer == "rctsim.recorder" and trace.header.model == "mlp16"
    for it in range(60):  # the trace holds exactly the bits the loop trained with
        assert trace.bits_at(it).tolist() == used[it].tolist()
    for _before, expected, got, _ in decided:  # each decision is RCT's rule on the hand Gavg
        assert got.tolist() == expected.tolist()
    assert any((b != e).any() for b, e, _, _ in decided)  # the schedule really moved
    assert len(trace.phase_start) > 1
    assert trace.metrics["loss"].iteration.tolist() == list(range(60))
    gavg = trace.signals["gavg"]
    assert len(gavg.iteration) == 2 * len(decided)
    assert np.allclose(gavg.value[-2:], decided[-1][3])
    result = rctsim.simulate("edge_npu", trace, baseline="qat")
    assert result.comparison["savings"]


def test_controllers_validate_and_fixed_policies(tmp_path) -> None:
    layers = shape_model("mlp", 4)
    with pytest.raises(InputError, match="t_low"):
        rctsim.policies.RCT(layers, t_low=0.5, t_high=0.1)
    with pytest.raises(InputError, match="speed: unknown parameter"):
        rctsim.policies.APT(layers, speed=3)
    qat = rctsim.policies.QAT(layers, w_q=6)
    assert qat.step(0, {}).tolist() == [[6, 8, 32, 32]] * 3
    assert rctsim.policies.FP32(layers).bits().min() == 32
    apt = rctsim.policies.APT(layers, tradeoff=0.05, interval=1)
    assert (apt.p.t_low, apt.p.t_high) == (0.05, 0.5)
    assert apt.step(0, {"fc1": 0.01, 1: 1.0})[:, 0].tolist() == [9, 7, 8]  # up, down, no stats
    with pytest.raises(KeyError):
        apt.step(1, {"nope": 1.0})


def test_recorder_checks_its_input(tmp_path) -> None:
    layers = shape_model("mlp", 4)
    rec = Recorder(layers, model="m", batch_size=4, policy="qat")
    with pytest.raises(InputError, match="first recorded iteration is 3"):
        rec.record(3, np.full((3, 4), 8))
    with pytest.raises(InputError, match=r"shape \(2, 4\)"):
        rec.record(0, np.full((2, 4), 8))
    with pytest.raises(InputError, match="layer 'fc3' missing"):
        rec.record(0, {"fc1": (8, 8, 8), "fc2": (8, 8, 8)})
    rec.record(0, {"fc1": (8, 8, 32), "fc2": (8, 8, 32), "fc3": (8, 8, 32)})
    rec.record(10, np.full((3, 3), 6))
    with pytest.raises(InputError, match="10 after 10"):
        rec.record(10, np.full((3, 3), 6))
    with pytest.raises(InputError, match="0..40"):
        rec.record(11, np.full((3, 4), 40) * np.array([0, 1, 1, 1]))
    trace = rec.save(tmp_path / "r.trace")
    assert trace.iterations == 11 and trace.phase_start.tolist() == [0, 10]
    assert trace.bits_at(9)[0].tolist() == [8, 8, 32, 32]
    assert trace.bits_at(10)[0].tolist() == [6, 6, 6, 32]


def test_recorder_from_onnx(tmp_path) -> None:
    pytest.importorskip("onnx")
    from rctsim.onnx_import import import_onnx
    from tests.onnx_models import Net

    g = Net()
    path = g.save(tmp_path / "tiny.onnx", g.gemm("fc", g.input("x", ["N", 5]), 5, 2))
    controller = rctsim.policies.FP32(import_onnx(path, batch_size=4).layers)
    rec = Recorder.from_onnx(path, batch_size=4, policy=controller)
    rec.record(0, np.full((1, 4), 32))
    trace = rec.trace()
    assert trace.header.model == "tiny" and trace.layers[0].m == 4
    assert trace.header.notes["onnx_file"] == "tiny.onnx"


def test_documented_pytorch_example_compiles() -> None:
    """docs/capture.md's complete PyTorch example is valid Python (CI cannot install torch)."""
    text = DOCS.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = [b for b in blocks if "import torch" in b]
    assert len(example) == 1
    tree = ast.parse(example[0])
    compile(tree, "docs/capture.md", "exec")
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert {"RCT", "record", "save", "step", "register_forward_hook"} <= names


def test_recorder_from_shape_model_and_policy_names(tmp_path) -> None:
    rec = Recorder.from_shape_model("bert_tiny", batch_size=2, model_options={"seq_len": 16},
                                    policy=rctsim.policies.APT(shape_model("bert_tiny", 2,
                                                                           seq_len=16)))
    assert rec.layers == shape_model("bert_tiny", 2, seq_len=16)
    rec.record(0, np.full((len(rec.layers), 3), 8))
    trace = rec.trace()
    assert trace.header.model == "bert_tiny" and trace.header.policy.name == "apt"
    assert trace.header.policy.params["t_high"] == 0.2
    with pytest.raises(InputError, match="policy"):
        Recorder(rec.layers, model="x", batch_size=2, policy="sgd")
