"""Non-GEMM work: what the shape models and the trainer record, its counts against hand counts,
its energy and cycles against closed forms, and format-1 traces that lack it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rctsim import nongemm as ng
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.replay import simulate
from rctsim.synth import synth_trace
from rctsim.trace import trace_to_bytes, write_trace
from rctsim.trace.model import NonGemmWork, Trace
from rctsim.train.config import TrainConfig
from rctsim.train.loop import prepare, run
from tests.helpers import hardware
from workloads.shapes import shape_model
from workloads.shapes.builder import ShapeBuilder

# Hand counts, from first principles (docs/model.md, "Non-GEMM work"): (adds, muls, compares)
EXP = (3, 4, 0)  # I-BERT i-exp: -x/ln2 (mul), z*ln2 (mul), x + z ln2 (add), a(p+b)^2+c
#                  (2 adds, 2 muls), shift by z (1 add)
RECIP = (2, 4, 0)  # two Newton-Raphson steps x(2 - dx): 2 muls + 1 add each
RSQRT = (2, 6, 0)  # two Newton-Raphson steps y(3 - vy^2)/2: 3 muls + 1 add each
ERF = (2, 4, 2)  # x/sqrt2, sign, clip, a(q+b)^2+c, times sign


def total(*parts: tuple[float, float, float], times: float = 1) -> float:
    """All primitive ops of a sum of (adds, muls, compares) tuples, times `times`."""
    return times * sum(sum(p) for p in parts)


def kinds(layer) -> dict[str, list[tuple[int, int | None, int]]]:
    out: dict[str, list] = {}
    for w in layer.nongemm:
        out.setdefault(w.kind, []).append((w.elems, w.out_elems, w.group))
    return out


# ------------------------------------------------------------------------- recorded work


def test_resnet_basic_block_records_and_hand_count():
    """ResNet-18 (CIFAR) block layer1.0 at batch 2, 8x8 input: 64 channels of 8x8 maps."""
    layers = {la.name: la for la in shape_model("resnet18_cifar", 2, input_size=8)}
    n = 2 * 64 * 8 * 8  # elements of every tensor in the block
    assert kinds(layers["layer1.0.conv1"]) == {} and kinds(layers["layer1.0.conv2"]) == {}
    assert kinds(layers["layer1.0.bn1"]) == {"batchnorm": [(n, None, 2 * 8 * 8)],
                                             "relu": [(n, None, 1)]}
    # bn2, then the residual add of two operands, then the block's ReLU
    assert kinds(layers["layer1.0.bn2"]) == {"batchnorm": [(n, None, 128)],
                                             "add": [(n, None, 2)], "relu": [(n, None, 1)]}
    bn, add, relu = layers["layer1.0.bn2"].nongemm
    channels = 64
    # batchnorm forward per element: sum (add), x^2 (mul) and its sum (add), x - mean (add),
    # * inv_std (mul), * gamma (mul), + beta (add) = 4 adds, 3 muls; per channel: mean and
    # E[x^2] (2 muls), var (mul, add), + eps (add), rsqrt, running mean/var (4 adds, 2 muls)
    bn_fwd = total((4, 3, 0), times=n) + total((2, 3, 0), RSQRT, (4, 2, 0), times=channels)
    assert ng.forward_ops(bn).total == bn_fwd
    # backward per element: dbeta, dgamma (mul, add), dy*gamma, two sums (1 mul), the final
    # inv_std*(dxhat - a - xhat*b): 6 adds, 5 muls; per channel a and b (2 muls)
    assert ng.backward_ops(bn).total == total((6, 5, 0), times=n) + 2 * channels
    assert ng.forward_ops(add).total == n and ng.backward_ops(add).total == n
    assert ng.forward_ops(relu).cmp == n and ng.backward_ops(relu).cmp == n
    # traffic beyond fusion: batchnorm's normalising pass reads and writes the tensor once;
    # the add reads the shortcut operand; ReLU is fused
    fwd = [ng.forward_passes(w) for w in (bn, add, relu)]
    assert sum(p.act_read for p in fwd) == 2 * n and sum(p.act_write for p in fwd) == n


def test_transformer_encoder_block_records_and_hand_count():
    """BERT encoder block at batch 2, 8 tokens, hidden 8, 2 heads, FFN 16."""
    layers = {la.name: la for la in shape_model("bert_tiny", 2, seq_len=8, vocab=16, hidden=8,
                                                  layers=1, heads=2, ffn=16, num_classes=2)}
    b, t, h, heads, ffn = 2, 8, 8, 2, 16
    scores = b * heads * t * t
    assert kinds(layers["encoder.0.attention.scores"]) == {"mul": [(scores, None, 1)],
                                                           "softmax": [(scores, None, t)]}
    assert kinds(layers["encoder.0.attention.context"]) == {}
    assert kinds(layers["encoder.0.attention.output"]) == {"add": [(b * t * h, None, 2)]}
    assert kinds(layers["encoder.0.attention.norm"]) == {"layernorm": [(b * t * h, None, h)]}
    assert kinds(layers["encoder.0.intermediate"]) == {"gelu": [(b * t * ffn, None, 1)]}
    assert kinds(layers["encoder.0.output"]) == {"add": [(b * t * h, None, 2)]}
    assert kinds(layers["encoder.0.output.norm"]) == {"layernorm": [(b * t * h, None, h)]}
    assert kinds(layers["embeddings.token_type"]) == {"add": [(b * t * h, None, 3)]}
    assert kinds(layers["classifier"]) == {"loss": [(b * 2, None, 2)]}
    mul, softmax = layers["encoder.0.attention.scores"].nongemm
    rows = scores / t
    # softmax forward per element: running max (cmp), x - max (add), exp, sum (add), * 1/sum
    # (mul); per row one reciprocal
    assert ng.forward_ops(softmax).total == total((2, 1, 1), EXP, times=scores) + total(
        RECIP, times=rows)
    # backward: dy*y (mul), its sum (add), dy - sum (add), * y (mul)
    assert ng.backward_ops(softmax).total == 4 * scores
    (gelu,) = layers["encoder.0.intermediate"].nongemm
    # GELU forward: erf(x/sqrt2), 1 + erf (add), x * (...) (mul); the /2 is a shift
    assert ng.forward_ops(gelu).total == total(ERF, (1, 1, 0), times=b * t * ffn)
    # backward: Phi = erf + 1 (add), phi = exp(-x^2/2)/sqrt(2 pi) (x^2, * -1/2, exp, * c),
    # x*phi (mul), Phi + x*phi (add), * dy (mul)
    assert ng.backward_ops(gelu).total == total(ERF, (1, 0, 0), (0, 3, 0), EXP, (1, 2, 0),
                                                times=b * t * ffn)
    (norm,) = layers["encoder.0.attention.norm"].nongemm
    assert ng.forward_ops(norm).total == total((4, 3, 0), times=b * t * h) + total(
        (2, 3, 0), RSQRT, times=b * t)  # no running statistics
    assert ng.forward_ops(mul).total == scores


def test_trainer_records_non_gemm_work():
    """The bundled trainer's transformer and resnet record what their forward passes run."""
    cfg = TrainConfig(model="transformer", dataset="text", policy="fp32", max_iterations=1)
    table = {la.name: la for la in run(prepare(cfg)).layers}
    b, t, d, heads = 32, 64, 64, 4
    assert kinds(table["block1.ln1"]) == {"layernorm": [(b * t * d, None, d)]}
    assert kinds(table["block1.attn.qkv"]) == {"mul": [(b * t * d, None, 1)]}
    assert kinds(table["block1.attn.scores"]) == {"softmax": [(b * heads * t * t, None, t)]}
    assert kinds(table["block1.mlp1"]) == {"relu": [(b * t * 4 * d, None, 1)]}
    assert kinds(table["block1.mlp2"]) == {"add": [(b * t * d, None, 2)]}
    assert kinds(table["head"]) == {"loss": [(b * t * 96, None, 96)]}
    cfg = TrainConfig(model="resnet", dataset="strokes", policy="fp32", max_iterations=1)
    table = {la.name: la for la in run(prepare(cfg)).layers}
    conv = table["block2.conv1"]
    assert kinds(table["block2.bn1"]) == {"batchnorm": [(conv.m * conv.n, None, conv.m)],
                                          "relu": [(conv.m * conv.n, None, 1)]}
    assert [w.kind for w in table["block2.down_bn"].nongemm] == ["batchnorm", "add", "relu"]


# -------------------------------------------------------------- energy and time: closed form

# Horowitz ISSCC 2014 (45 nm) table entries: int add 8 bit 0.03 pJ, 32 bit 0.1 pJ;
# int multiply 32 bit 3.1 pJ. Compares and xorshift steps are priced as adds of their width.
ADD8, ADD32, MUL32 = 0.03, 0.1, 3.1


def test_energy_and_cycles_are_the_closed_form():
    """An MLP (16-8-4, batch 4) under RCT at w=4,a=8,g=8 on edge_npu: non-GEMM energy by kind
    and cycles equal ops x table energies and ceil(ops / lanes) per op (168 PE lanes; 42 at
    int32)."""
    trace = synth_trace("mlp", batch_size=4, iterations=3, schedule="w=4,a=8,g=8",
                        input_size=16, hidden=(8,), num_classes=4, opt_state_bits=8)
    result = simulate("edge_npu", trace, baseline=None)
    rct = result.policies["rct"]
    lanes = 12 * 14
    relu = 4 * 8  # fc1's output
    loss_n, rows = 4 * 4, 4  # fc2's logits, 4 rows of 4 classes
    loss_fwd = (5 * loss_n + 6 * rows, 5 * loss_n + 8 * rows, loss_n)  # adds, muls, cmps
    loss_bwd = (rows, loss_n, 0)
    # int32 arithmetic (the accumulator width) on integer tensors
    relu_pj = 2 * relu * ADD32
    loss_pj = ((loss_fwd[0] + loss_bwd[0] + loss_fwd[2]) * ADD32
               + (loss_fwd[1] + loss_bwd[1]) * MUL32)
    # update: w=4 weights, momentum at g=8 bits, so updates run at int8 and 8 - 4 = 4 random bits
    params = 16 * 8 + 8, 8 * 4 + 4
    sr = sum(4 * p for p in params)  # 2 adds + 2 compares
    random_ops = sum(p * 4 * 3 / 32 for p in params)  # xorshift32: 3 steps per 32 bits
    parts = rct.energy_pj["non_gemm"]["parts"]
    iters = trace.iterations
    assert parts["relu"] == pytest.approx(relu_pj * iters, rel=1e-12)
    assert parts["loss"] == pytest.approx(loss_pj * iters, rel=1e-12)
    assert parts["stochastic_rounding"] == pytest.approx(sr * ADD8 * iters, rel=1e-12)
    assert parts["random_bits"] == pytest.approx(random_ops * ADD32 * iters, rel=1e-12)
    # statistics: 2 ops per weight each iteration, the scan (3 per weight) and the decision
    # (2 adds, 5 muls, 4 compares) once per interval of 50 (the default); int8 multiply 0.2 pJ
    dec_pj = 2 * ADD8 + 5 * 0.2 + 4 * ADD8
    stats_pj = sum(p * 2 * ADD8 + (p * 3 * ADD8 + dec_pj) / 50 for p in params)
    assert parts["grad_stats"] == pytest.approx(stats_pj * iters, rel=1e-12)
    assert rct.non_gemm["random_bits"] == pytest.approx(sum(params) * 4 * iters)
    # cycles: ceil(ops / lanes) per op and format; edge_npu's PEs are 16 bits wide, so an int32
    # op is composed of (32 / 16)^2 = 4 pieces: 168 / 4 = 42 int32 lanes
    lanes32 = lanes // 4
    per_step = (math.ceil(relu / lanes32) + math.ceil(sum(loss_fwd) / lanes32)  # ew_fwd
                + math.ceil(sum(loss_bwd) / lanes32) + math.ceil(relu / lanes32))  # ew_bwd
    for p in params:  # int8 rounding and statistics, int32 random-number steps
        per_step += math.ceil((4 * p + 2 * p + (3 * p + 11) / 50) / lanes)
        per_step += math.ceil(p * 4 * 3 / 32 / lanes32)
    assert rct.cycles["non_gemm"] == per_step * iters


def test_qat_quantisation_work_is_counted():
    """QAT: the master is read again and quantised (5 ops per weight, fp32), masks select."""
    trace = synth_trace("mlp", batch_size=4, iterations=2, schedule="qat", input_size=16,
                        hidden=(8,), num_classes=4)
    rct_like = synth_trace("mlp", batch_size=4, iterations=2, schedule="w=8,a=8,g=8",
                           input_size=16, hidden=(8,), num_classes=4)
    qat = simulate("edge_npu", trace, baseline=None).policies["qat"]
    params = 136 + 36
    ops = qat.non_gemm["ops"]
    assert ops["fake_quant"] == pytest.approx(2 * (5 * params + 2 * (6 + 1)))
    inputs = 4 * 16 + 4 * 8  # the GEMM inputs' activation masks, plus one per weight
    assert ops["ste_mask"] == pytest.approx(2 * (params + inputs))
    assert "stochastic_rounding" not in ops and "fake_quant" not in simulate(
        "edge_npu", rct_like, baseline=None).policies["rct"].non_gemm["ops"]


def test_non_gemm_work_is_part_of_the_totals():
    """Non-GEMM energy is inside `mac` and the total; its cycles inside compute."""
    trace = synth_trace("resnet18_cifar", batch_size=2, iterations=2, schedule="w=8,a=8,g=8",
                        input_size=8)
    result = simulate("edge_npu", trace, baseline="qat")
    for pr in result.policies.values():
        e = pr.energy_pj
        assert e["non_gemm"]["total"] == pytest.approx(sum(e["non_gemm"]["parts"].values()))
        assert e["mac"] == pytest.approx(e["gemm"] + e["non_gemm"]["total"])
        assert {"batchnorm", "relu", "add", "avgpool", "loss", "optimizer"} <= set(
            e["non_gemm"]["parts"])
        assert 0 < pr.cycles["non_gemm"] < pr.cycles["compute"]
        assert pr.breakdown_energy_pj["op"]["ew_fwd"] > 0
        assert pr.breakdown_energy_pj["op"]["ew_bwd"] > 0


def test_work_no_unit_does_is_refused_naming_the_op():
    """QAT's fp32 backward work on integer-only hardware: one line naming layer, op, kinds."""
    trace = synth_trace("mlp", batch_size=4, iterations=1, schedule="qat", input_size=16,
                        hidden=(8,), num_classes=4)
    hw = hardware()
    no_fp = hw.model_copy(update={"compute_units": []})  # the array's integer PEs only
    with pytest.raises(InputError) as err:
        simulate(no_fp, trace, baseline=None)
    message = str(err.value)
    assert "layers[1] (fc2).ew_bwd" in message and "(loss, ste_mask) at fp32" in message
    assert "units: array (int2..16)" in message and "\n" not in message


def test_csv_has_one_row_per_kind():
    """The CSV carries the non-GEMM rows: component vector, action = the kind."""
    trace = synth_trace("mlp", batch_size=4, iterations=1, schedule="w=8,a=8,g=8",
                        input_size=16, hidden=(8,), num_classes=4, opt_state_bits=8)
    text = simulate("edge_npu", trace, baseline=None).to_csv()
    assert "rct,fc1,ew_fwd,vector,relu,-,int32,32.0," in text
    assert "rct,fc2,ew_bwd,vector,loss,-,int32,20.0," in text
    assert ",fc1,update,vector,stochastic_rounding,-,int8," in text




def cli(args: list[str]) -> int:
    """Exit status of the command line."""
    try:
        main(args)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def v1_trace(trace: Trace) -> Trace:
    """The same trace as format 1 (no non-GEMM work recorded)."""
    return Trace.build(header=trace.header.model_copy(update={"format_version": 1}),
                       layers=[la.model_copy(update={"nongemm": ()}) for la in trace.layers],
                       phase_start=trace.phase_start, phase_bits=trace.phase_bits)


def test_format_1_trace_runs_and_states_what_is_missing(tmp_path, capsys):
    """A format-1 trace counts no recorded work, says so in the result, run and trace info."""
    new = synth_trace("mlp", batch_size=4, iterations=2, schedule="w=8,a=8,g=8", input_size=16,
                      hidden=(8,), num_classes=4)
    old = v1_trace(new)
    path = tmp_path / "old.trace"
    write_trace(old, path)
    assert path.read_bytes()[8] == 1 and trace_to_bytes(new)[8] == 2
    result = simulate("edge_npu", str(path), baseline="qat")
    assert result.trace["nongemm_recorded"] is False
    for pr in result.policies.values():
        assert pr.non_gemm["recorded"] is False and "format 1" in pr.non_gemm["missing"]
        assert not {"relu", "loss"} & set(pr.energy_pj["non_gemm"]["parts"])
        assert "ew_fwd" not in pr.breakdown_energy_pj["op"]
    recorded = simulate("edge_npu", new, baseline=None).policies["rct"]
    assert recorded.non_gemm["missing"] is None and "relu" in recorded.non_gemm["ops"]
    assert cli(["trace", "info", str(path)]) == 0
    assert "not recorded: a format-1 trace" in " ".join(capsys.readouterr().out.split())
    assert cli(["run", "--hw", "edge_npu", "--trace", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the trace is format 1" in out and "non-GEMM + optimiser" in out


def test_counts_scale_with_batch():
    """Doubling the batch doubles every recorded element count (the shapes scale)."""
    one = shape_model("mobilenetv2", 1, input_size=32)
    two = shape_model("mobilenetv2", 2, input_size=32)
    for a, b in zip(one, two, strict=True):
        assert [w.elems * 2 for w in a.nongemm] == [w.elems for w in b.nongemm]
    assert np.sum([len(la.nongemm) for la in one]) > 0


def test_unknown_kind_is_refused():
    """Only the documented kinds exist."""
    with pytest.raises(ValueError):
        NonGemmWork(kind="swish", elems=1)
    nb = ShapeBuilder(model="m", batch_size=2)
    x = nb.linear("fc", nb.input("x", (3, 5)), out_features=4)
    with pytest.raises(ValueError, match="swish"):
        nb.elementwise(x, "swish", keep=None)


def test_builder_elementwise_groups_and_owner():
    """Any kind through `elementwise` gets a group (rows: last dim; batchnorm: per channel);
    work on the input before any layer goes to the first layer."""
    nb = ShapeBuilder(model="m", batch_size=2)
    image = nb.input("x", (3, 4, 4))
    scaled = nb.elementwise(image, "mul", keep=None)
    y = nb.conv("conv", scaled, out_ch=8, kernel=1)
    nb.elementwise(y, "batchnorm", keep=None)
    nb.elementwise(nb.linear("fc", nb.reshape(y, "avgpool", (8,)), out_features=4), "softmax",
                   keep=None)
    conv, fc = nb.build()
    assert kinds(conv) == {"mul": [(96, None, 1)], "batchnorm": [(256, None, 32)],
                           "avgpool": [(256, 16, 16)]}
    assert kinds(fc) == {"softmax": [(8, None, 4)]}
