"""What `rctsim train` records: the layer table in the GEMM view (closed forms per layer kind),
bit phases that change exactly at the Gavg decisions, metrics, header facts, byte-identical
reruns, and the command line."""

from __future__ import annotations

import numpy as np
import pytest

from rctsim.cli import main
from rctsim.trace.io import read_trace, trace_to_bytes
from rctsim.train.config import TrainConfig
from rctsim.train.loop import train

TINY_IMAGES = {"n_train": 64, "n_test": 32}
TINY_TEXT = {"seq_len": 8, "max_train_chars": 400, "max_test_chars": 200}


def tiny(model: str, policy: str = "rct", **kw) -> TrainConfig:
    data = TINY_TEXT if model in ("lstm", "transformer") else TINY_IMAGES
    return TrainConfig(model=model, policy=policy, epochs=kw.pop("epochs", 1), batch_size=16,
                       dataset_params=data, **kw)


def by_name(trace) -> dict:
    return {layer.name: layer for layer in trace.layers}


def test_resnet_table_is_the_gemm_view():
    """Conv M = B·Ho·Wo, K = Cin·kh·kw, N = Cout; BN no GEMM with 2C params; residual preds."""
    trace = train(tiny("resnet", max_iterations=1))
    t = by_name(trace)
    b = 16
    assert (t["stem"].m, t["stem"].k, t["stem"].n) == (b * 16 * 16, 1 * 9, 8)
    assert t["stem"].params == 9 * 8 and t["stem"].act_elems == b * 16 * 16
    assert (t["block2.conv1"].m, t["block2.conv1"].k, t["block2.conv1"].n) == (b * 8 * 8, 72, 16)
    assert (t["block2.down"].m, t["block2.down"].k, t["block2.down"].n) == (b * 8 * 8, 8, 16)
    assert (t["block3.conv2"].m, t["block3.conv2"].k, t["block3.conv2"].n) == (b * 16, 288, 32)
    bn = t["block3.bn2"]
    assert (bn.kind, bn.m, bn.n, bn.k, bn.params) == ("norm", 0, 0, 0, 64)
    assert (t["fc"].m, t["fc"].k, t["fc"].n, t["fc"].params) == (b, 32, 10, 330)
    assert t["block2.conv1"].preds == ("block1.bn2", "stem_bn")   # block1: identity shortcut
    assert t["block3.conv1"].preds == ("block2.bn2", "block2.down_bn")
    assert t["fc"].preds == ("block3.bn2", "block3.down_bn")


def test_text_model_tables():
    """LSTM gate GEMM M = B·T, K = D + H, N = 4H; attention scores M = B·h·T, K = dh, N = T."""
    lstm = by_name(train(tiny("lstm", max_iterations=1)))
    assert lstm["embed"].kind == "embedding" and lstm["embed"].m == 0
    assert lstm["embed"].params == 96 * 32
    gate = lstm["lstm"]
    assert (gate.kind, gate.m, gate.k, gate.n) == ("recurrent_gate", 16 * 8, 32 + 128, 4 * 128)
    assert gate.params == (32 + 128) * 512 + 512
    tr = by_name(train(tiny("transformer", max_iterations=1)))
    scores, context = tr["block1.attn.scores"], tr["block1.attn.context"]
    assert (scores.kind, scores.m, scores.k, scores.n) == ("attention_matmul", 16 * 4 * 8, 16, 8)
    assert (context.m, context.k, context.n) == (16 * 4 * 8, 8, 16)
    assert not scores.has_weights and scores.params == 0
    assert context.preds == ("block1.attn.scores", "block1.attn.qkv")
    assert (tr["block1.attn.qkv"].m, tr["block1.attn.qkv"].n) == (16 * 8, 3 * 64)


def test_phases_change_exactly_after_decisions():
    """A new phase starts the iteration after a decision that changed some layer's bits."""
    trace = train(tiny("cnn", epochs=4, policy_params={"interval": 2, "t_low": 0.5,
                                                        "t_high": 5.0}))
    gavg = trace.signals["gavg"]
    decided = np.unique(gavg.iteration)
    np.testing.assert_array_equal(decided, np.arange(1, trace.iterations, 2))
    assert set(gavg.layer) == set(range(trace.n_layers))
    for start in trace.phase_start[1:]:
        assert start - 1 in decided
    first, last = trace.bits_at(0), trace.bits_at(trace.iterations - 1)
    assert (first[:, 0] == 8).all() and (last[:, 0] > 8).any()
    assert (trace.phase_bits[:, :, 3] == 32).all()


def test_metrics_and_header():
    """loss every iteration, eval/train accuracy each epoch; optimiser facts in the policy."""
    cfg = tiny("mlp", policy="qat", epochs=2)
    trace = train(cfg)
    per_epoch = 64 // 16
    np.testing.assert_array_equal(trace.metrics["loss"].iteration, np.arange(2 * per_epoch))
    np.testing.assert_array_equal(trace.metrics["eval_acc"].iteration,
                                  [per_epoch - 1, 2 * per_epoch - 1])
    assert 0 <= trace.metrics["eval_acc"].value.min() <= 1
    params = trace.header.policy.params
    assert params["optimizer"] == "sgd_momentum" and params["opt_state_per_param"] == 1
    assert params["opt_state_bits"] == 32 and params["momentum"] == 0.9
    assert params["w_q"] == 8 and params["lr"] == 0.05
    np.testing.assert_array_equal(trace.phase_bits, np.tile([8, 8, 32, 32], (1, 3, 1)))
    assert trace.header.batch_size == 16 and trace.header.iterations == 2 * per_epoch
    assert trace.header.notes["command"] == cfg.command()


def test_same_seed_same_bytes_other_seed_other_bytes():
    """Two runs of one config give identical trace bytes; another seed does not."""
    cfg = tiny("cnn", epochs=2, policy_params={"interval": 2})
    first = trace_to_bytes(train(cfg))
    assert trace_to_bytes(train(cfg)) == first
    other = cfg.model_copy(update={"seed": 1})
    assert trace_to_bytes(train(other)) != first


def test_cli_writes_the_trace(tmp_path, capsys):
    """`rctsim train` writes a readable trace equal to the library run."""
    out = tmp_path / "t.trace"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "cnn", "--policy", "rct", "--policy-param", "interval=2",
              "--dataset-param", "n_train=64", "--dataset-param", "n_test=32",
              "--batch-size", "16", "--epochs", "1", "--quiet", "--out", str(out)])
    assert exc.value.code == 0
    expected = train(tiny("cnn", policy_params={"interval": "2"}))
    assert read_trace(out) == expected
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["--policy", "bogus"], "--policy"),
    (["--policy-param", "t_low"], "key=value"),
    (["--dataset", "text"], "does not fit"),
    (["--dataset-param", "n_train=3"], "n_train"),
    (["--batch-size", "5000"], "--batch-size"),
])
def test_cli_bad_input_exits_2(tmp_path, capsys, args, needle):
    """Bad options print one line naming the option and exit with status 2."""
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "cnn", "--out", str(tmp_path / "x.trace"), "--quiet", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_bundled_traces_and_their_regeneration_commands():
    """Each bundled trainer trace is listed in workloads/traces/README.md with the exact command
    stored in its header, and a short rerun of that command gives the same layer table."""
    from pathlib import Path

    from rctsim.trace.catalog import bundled_trace_dir, load_trace

    readme = (Path(__file__).parent.parent / "workloads" / "traces" / "README.md").read_text()
    for name in ("resnet", "resnet_qat", "resnet_fp32", "charlm", "charlm_qat", "charlm_fp32"):
        path = bundled_trace_dir() / f"{name}.trace"
        assert path.stat().st_size < 1_000_000
        trace = load_trace(name)
        command = trace.header.notes["command"]
        assert f"{command} --out workloads/traces/{name}.trace" in readme
        assert trace.header.policy.name == (name.split("_") + ["rct"])[1]
    resnet = load_trace("resnet")
    h = resnet.header
    rerun = train(TrainConfig(model=h.model, dataset=h.dataset, policy=h.policy.name,
                              seed=h.seed, max_iterations=1))
    assert rerun.layers == resnet.layers
