"""`rctsim trace synth`: write a synthetic trace of a shape-only standard model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rctsim.cli.app import check_outputs
from rctsim.cli.trace_cmd import trace_app
from rctsim.errors import InputError
from rctsim.synth import synth_trace
from rctsim.trace.catalog import load_trace
from rctsim.trace.io import write_trace
from rctsim.trace.model import Trace
from workloads.shapes import SHAPE_MODELS, model_options

DEFAULT_BATCH_SIZE = 32
"""Mini-batch size when `--batch-size` is not given."""

DEFAULT_ITERATIONS = 1000
"""Iterations when `--iterations` is not given."""

SCHEDULE_FLAGS = "--bits SPEC, --qat, --fp32 or --schedule-from TRACE"
"""The mutually exclusive schedule options, for error messages."""

BitsOption = Annotated[str | None, typer.Option(
    help="Fixed bits for every layer, e.g. w=16,a=8,g=8[,acc=32] (policy rct).")]
QatOption = Annotated[bool, typer.Option("--qat", help="QAT: w=8,a=8,g=32,acc=32.")]
Fp32Option = Annotated[bool, typer.Option("--fp32", help="Everything fp32.")]
ScheduleFromOption = Annotated[str | None, typer.Option(
    help="Carry a trace's per-layer schedule over (file or bundled name).")]
"""The schedule options `trace synth` and `trace import` share (one of them at a time)."""
OptStateBitsOption = Annotated[int | None, typer.Option(
    help="Optimiser-state bits to record (32: fp32, narrower: fixed point); default the "
    "bundled trainer's for the policy (rct/apt 16, qat/fp32 32) or what --schedule-from "
    "records.")]


@trace_app.command("synth")
def synth(
    model: Annotated[str | None, typer.Option(help="Shape model name (see --list-models).")] = None,
    out: Annotated[Path | None, typer.Option(help="Trace file to write.")] = None,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = DEFAULT_BATCH_SIZE,
    iterations: Annotated[int, typer.Option(help="Training iterations.")] = DEFAULT_ITERATIONS,
    bits: BitsOption = None,
    qat: QatOption = False,
    fp32: Fp32Option = False,
    schedule_from: ScheduleFromOption = None,
    opt_state_bits: OptStateBitsOption = None,
    input_size: Annotated[int | None, typer.Option(
        help="Image side (resnet18/mobilenetv2 224, resnet18_cifar 32) or MLP inputs.")] = None,
    seq_len: Annotated[int | None, typer.Option(help="Tokens (bert_tiny, lstm_lm).")] = None,
    num_classes: Annotated[int | None, typer.Option(help="Classifier outputs.")] = None,
    seed: Annotated[int, typer.Option(help="Seed recorded in the header.")] = 0,
    list_models: Annotated[bool, typer.Option("--list-models", help="List models, exit.")] = False,
) -> None:
    """Synthesise a trace: a standard model's layer shapes with a bitwidth schedule."""
    if list_models:
        typer.echo(models_listing())
        return
    if model is None or out is None:
        raise InputError("trace synth", "--model" if model is None else "--out", "missing",
                         ", ".join(SHAPE_MODELS) if model is None else "a file path")
    check_outputs([(out, "--out")], inputs=(schedule_from,))
    schedule, source_name = schedule_choice(bits=bits, qat=qat, fp32=fp32,
                                            schedule_from=schedule_from)
    opts = {k: v for k, v in (("input_size", input_size), ("seq_len", seq_len),
                              ("num_classes", num_classes)) if v is not None}
    trace = synth_trace(model, batch_size=batch_size, iterations=iterations, schedule=schedule,
                        seed=seed, source_name=source_name, opt_state_bits=opt_state_bits,
                        **opts)
    write_and_report(trace, out)


def write_and_report(trace: Trace, out: Path) -> None:
    """Write a made trace and say what it holds (on standard error when the trace goes to
    standard output)."""
    write_trace(trace, out)
    params = sum(layer.params for layer in trace.layers)
    macs = sum(layer.macs for layer in trace.layers)
    typer.echo(f"wrote {out}: {trace.header.model}, {trace.n_layers} layers, {params:,} params, "
               f"{macs:,} forward MACs per iteration (batch {trace.header.batch_size}), "
               f"{trace.iterations:,} iterations, policy {trace.header.policy.name}, "
               f"{len(trace.phase_start)} phase(s)", err=str(out) == "-")


def models_listing() -> str:
    """One line per shape model: name, description, options with defaults."""
    lines = []
    for name, fn in SHAPE_MODELS.items():
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        opts = ", ".join(f"{k}={v}" for k, v in model_options(name).items())
        lines.append(f"{name:15s} {doc}  [{opts}]")
    return "\n".join(lines)


def schedule_choice(*, bits: str | None, qat: bool, fp32: bool, schedule_from: str | None,
                    command: str = "trace synth") -> tuple[str | Trace, str | None]:
    """The one schedule the options name (a bits spec, `qat`, `fp32` or a loaded Trace) and the
    schedule source's name; InputError unless exactly one is given."""
    chosen = [flag for flag, on in (("--bits", bits is not None), ("--qat", qat),
                                    ("--fp32", fp32), ("--schedule-from", schedule_from))
              if on]
    if len(chosen) != 1:
        problem = "missing" if not chosen else f"{' and '.join(chosen)} given together"
        raise InputError(command, "schedule", problem, f"exactly one of {SCHEDULE_FLAGS}")
    if schedule_from is not None:
        return load_trace(schedule_from), schedule_from
    if bits is not None:
        return bits, None
    return ("qat" if qat else "fp32"), None
