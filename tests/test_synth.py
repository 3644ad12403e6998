"""Synthetic traces: fixed, QAT, fp32 and carried-over schedules; the `rctsim trace synth` CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rctsim import __version__
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.synth import depth_map, parse_bits, synth_trace
from rctsim.trace.io import read_trace, write_trace
from rctsim.trace.model import LayerSpec, PolicySpec, Trace, TraceHeader
from workloads.shapes import SHAPE_MODELS, shape_model


def _anchors(trace: Trace) -> list[int]:
    return [i for i, x in enumerate(trace.layers) if x.kind in ("conv", "linear", "recurrent_gate")]


def _source_trace(iterations: int = 40) -> Trace:
    """A small 4-layer source trace whose bits differ per layer and phase (an oracle to map)."""
    layers = [
        LayerSpec(name="fc1", kind="linear", m=4, n=8, k=8, has_weights=True, params=72,
                  act_elems=32),
        LayerSpec(name="norm", kind="norm", m=0, n=0, k=0, has_weights=True, params=16,
                  act_elems=32, preds=("fc1",)),
        LayerSpec(name="fc2", kind="linear", m=4, n=8, k=8, has_weights=True, params=72,
                  act_elems=32, preds=("norm",)),
        LayerSpec(name="fc3", kind="linear", m=4, n=2, k=8, has_weights=True, params=18,
                  act_elems=32, preds=("fc2",)),
    ]
    starts = np.array([0, 3, 4, 17, 39])
    bits = np.zeros((len(starts), len(layers), 4), dtype=np.uint8)
    for p in range(len(starts)):
        for i in range(len(layers)):
            bits[p, i] = [4 + p + 3 * i, 5 + p, 6 + i, 32]
    header = TraceHeader(producer="rctsim.train", producer_version="0.1.0", model="tiny",
                         dataset="synthetic", policy=PolicySpec(name="rct", params={"k": 1}),
                         batch_size=4, seed=7, iterations=iterations)
    return Trace.build(header=header, layers=layers, phase_start=starts, phase_bits=bits)


# ----------------------------------------------------------------------- fixed schedules
@pytest.mark.parametrize(("schedule", "row", "policy"), [
    ("w=16,a=8,g=8", [16, 8, 8, 32], "rct"),
    ("g=12, acc=24, w=3, a=5", [3, 5, 12, 24], "rct"),
    ("qat", [8, 8, 32, 32], "qat"),
    ("fp32", [32, 32, 32, 32], "fp32"),
])
def test_fixed_schedules(schedule: str, row: list[int], policy: str) -> None:
    """Every layer (norms and attention included) carries the same bits for all iterations."""
    trace = synth_trace("bert_tiny", batch_size=2, iterations=50, schedule=schedule, seq_len=16)
    assert trace.phase_start.tolist() == [0]
    assert (trace.phase_bits == np.array(row, dtype=np.uint8)).all()
    assert trace.phase_bits.shape == (1, len(shape_model("bert_tiny", 2, seq_len=16)), 4)
    h = trace.header
    assert (h.producer, h.producer_version, h.dataset) == ("rctsim.synth", __version__, "none")
    assert (h.model, h.batch_size, h.iterations, h.policy.name) == ("bert_tiny", 2, 50, policy)
    assert h.notes["model_options"] == "seq_len=16"
    assert trace.layers == tuple(shape_model("bert_tiny", 2, seq_len=16))


def test_qat_policy_params() -> None:
    """QAT schedule: policy qat with w_q = a_q = 8 (docs/concepts.md §2 defaults)."""
    trace = synth_trace("mlp", batch_size=1, iterations=1, schedule="qat")
    assert trace.header.policy == PolicySpec(name="qat", params={"w_q": 8, "a_q": 8,
                                                                 "opt_state_bits": 32})


@pytest.mark.parametrize("spec", ["w=16,a=8", "w=0,a=8,g=8", "w=8,a=8,g=33", "w=8,a=8,g=8,x=1",
                                  "w=8,w=8,a=8,g=8", "", "w=a,a=8,g=8", "qatt", "w=8;a=8;g=8"])
def test_bad_bits_spec(spec: str) -> None:
    """A malformed bits spec is an InputError whose message is one line."""
    with pytest.raises(InputError) as err:
        parse_bits(spec)
    assert "\n" not in str(err.value) and "allowed" in str(err.value)


def test_bad_iterations() -> None:
    """Iterations below 1 are an InputError."""
    with pytest.raises(InputError):
        synth_trace("mlp", batch_size=1, iterations=0, schedule="fp32")


# ----------------------------------------------------------------------- carried-over schedules
def test_depth_map_examples() -> None:
    """Ends map onto ends; equal counts map to the identity; 5 onto 3 rounds half up."""
    assert depth_map(5, 3) == [0, 1, 1, 2, 2]
    assert depth_map(3, 5) == [0, 2, 4]
    assert depth_map(7, 7) == list(range(7))
    assert depth_map(1, 9) == [0]
    assert depth_map(4, 1) == [0, 0, 0, 0]


def _nearest_by_depth(i: int, t: int, s: int) -> int:
    """Independent oracle: the source index whose relative depth is nearest (ties: deeper)."""
    r = i / (t - 1) if t > 1 else 0.0
    return min(range(s), key=lambda j: (abs(j / max(s - 1, 1) - r), -j))


@pytest.mark.parametrize("target_iterations", [7, 40, 101])
@pytest.mark.parametrize("model", ["resnet18_cifar", "mlp", "bert_tiny"])
def test_schedule_from_trace_matches_oracle(model: str, target_iterations: int) -> None:
    """Each target iteration and layer carries the source bits at floor(i*S/T), mapped by depth."""
    source = _source_trace()
    trace = synth_trace(model, batch_size=2, iterations=target_iterations, schedule=source,
                        source_name="tiny.trace")
    src_anchors, tgt_anchors = _anchors(source), _anchors(trace)
    t, s = len(tgt_anchors), len(src_anchors)
    for it in range(target_iterations):
        got = trace.bits_at(it)
        want = source.bits_at(it * source.iterations // target_iterations)
        for n, layer in enumerate(tgt_anchors):
            assert (got[layer] == want[src_anchors[_nearest_by_depth(n, t, s)]]).all()
    assert trace.header.schedule_source == "tiny.trace"
    assert trace.header.policy.name == source.header.policy.name
    # the source records no optimiser state: the trace records the trainer's default for rct
    assert trace.header.policy.params == {**source.header.policy.params, "opt_state_bits": 16}
    assert trace.header.notes["layer_map"].count("<-") == t


def test_schedule_from_trace_layers_without_gemm_follow_previous_anchor() -> None:
    """A norm takes its preceding conv's bits; an embedding before any GEMM takes the next one."""
    trace = synth_trace("resnet18", batch_size=1, iterations=40, schedule=_source_trace())
    bits = trace.phase_bits
    names = [x.name for x in trace.layers]
    assert (bits[:, names.index("bn1")] == bits[:, names.index("conv1")]).all()
    assert (bits[:, names.index("layer3.0.downsample.1")]
            == bits[:, names.index("layer3.0.downsample.0")]).all()
    lm = synth_trace("lstm_lm", batch_size=1, iterations=40, schedule=_source_trace())
    assert (lm.phase_bits[:, 0] == lm.phase_bits[:, 1]).all()  # embedding <- lstm.0


def test_schedule_from_trace_same_shape_is_identity() -> None:
    """Carrying a schedule onto the same iteration count keeps its phases unchanged."""
    source = _source_trace()
    trace = synth_trace("mlp", batch_size=1, iterations=source.iterations, schedule=source)
    assert trace.phase_start.tolist() == source.phase_start.tolist()
    assert (trace.phase_bits == source.phase_bits[:, [0, 2, 3]]).all()


def test_schedule_source_without_gemm_rejected() -> None:
    """A source trace with no weight-bearing GEMM layer cannot be mapped."""
    layer = LayerSpec(name="e", kind="embedding", m=0, n=0, k=0, has_weights=True, params=4,
                      act_elems=1)
    header = TraceHeader(producer="x", producer_version="0", model="m", dataset="none",
                         policy=PolicySpec(name="rct"), batch_size=1, seed=0, iterations=3)
    source = Trace.build(header=header, layers=[layer], phase_start=np.array([0]),
                         phase_bits=np.full((1, 1, 4), 8, dtype=np.uint8))
    with pytest.raises(InputError):
        synth_trace("mlp", batch_size=1, iterations=3, schedule=source)


# ----------------------------------------------------------------------- CLI
def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_trace_that_reads_back(tmp_path: Path, capsys) -> None:
    """`rctsim trace synth --bits` writes the same trace the library builds."""
    out = tmp_path / "r.trace"
    code, stdout, _ = _run(["trace", "synth", "--model", "resnet18_cifar", "--batch-size", "8",
                            "--iterations", "200", "--bits", "w=16,a=8,g=8", "--seed", "3",
                            "--out", str(out)], capsys)
    assert code == 0 and "11,173,962 params" in stdout
    expected = synth_trace("resnet18_cifar", batch_size=8, iterations=200,
                           schedule="w=16,a=8,g=8", seed=3)
    assert read_trace(out) == expected


def test_cli_model_options_and_qat(tmp_path: Path, capsys) -> None:
    """--input-size / --num-classes reach the model; --qat sets the QAT policy."""
    out = tmp_path / "m.trace"
    code, _, _ = _run(["trace", "synth", "--model", "mobilenetv2", "--qat", "--input-size", "96",
                       "--num-classes", "10", "--out", str(out)], capsys)
    trace = read_trace(out)
    assert code == 0 and trace.header.policy.name == "qat"
    assert trace.layers == tuple(shape_model("mobilenetv2", 32, input_size=96, num_classes=10))


def test_cli_schedule_from(tmp_path: Path, capsys) -> None:
    """--schedule-from reads a trace file and carries its schedule over."""
    src = tmp_path / "src.trace"
    write_trace(_source_trace(), src)
    out = tmp_path / "t.trace"
    code, _, err = _run(["trace", "synth", "--model", "lstm_lm", "--iterations", "80",
                         "--schedule-from", str(src), "--out", str(out)], capsys)
    assert code == 0, err
    expected = synth_trace("lstm_lm", batch_size=32, iterations=80, schedule=_source_trace(),
                           source_name=str(src))
    assert read_trace(out) == expected


@pytest.mark.parametrize("extra", [
    ["--bits", "w=16,a=8"],
    ["--bits", "w=8,a=8,g=8", "--fp32"],
    [],
    ["--fp32", "--seq-len", "9"],
    ["--fp32", "--batch-size", "0"],
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys, extra: list[str]) -> None:
    """Bad bits, conflicting or missing schedules, bad options: one error line, exit status 2."""
    out = tmp_path / "x.trace"
    code, _, err = _run(["trace", "synth", "--model", "mlp", "--out", str(out), *extra], capsys)
    assert code == 2
    assert err.startswith("rctsim: error: ") and err.count("\n") == 1
    assert not out.exists()


def test_cli_unknown_model(tmp_path: Path, capsys) -> None:
    """An unknown model name: exit 2, the message lists the models."""
    code, _, err = _run(["trace", "synth", "--model", "vgg", "--fp32", "--out",
                         str(tmp_path / "x")], capsys)
    assert code == 2 and all(name in err for name in SHAPE_MODELS)


def test_cli_list_models(capsys) -> None:
    """--list-models prints one line per registered model with its options."""
    code, out, _ = _run(["trace", "synth", "--list-models"], capsys)
    lines = out.strip().splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == list(SHAPE_MODELS)
    assert "seq_len=128" in lines[list(SHAPE_MODELS).index("bert_tiny")]
