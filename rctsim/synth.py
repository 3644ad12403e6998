"""Synthetic traces: a shape-only standard model plus a bitwidth schedule, no training run.

The schedule is fixed bits (`w=16,a=8,g=8[,acc=32]`, policy `rct`), `qat` (concepts §2 defaults),
`fp32`, or another trace's per-layer schedule carried over by relative depth and stretched to the
target's iteration count. The mapping rules are in docs/workloads.md ("Schedules from a trace").
"""

from __future__ import annotations

import numpy as np

from rctsim import __version__
from rctsim.errors import InputError
from rctsim.trace.model import (
    MAX_BITS,
    MIN_BITS,
    OPERANDS,
    LayerSpec,
    PolicySpec,
    Trace,
    TraceHeader,
)
from workloads.shapes import shape_model

DEFAULT_ACC_BITS = 32
"""Accumulator bits when a fixed-bits schedule does not name `acc` (docs/concepts.md §2)."""

QAT_BITS = {"w": 8, "a": 8, "g": 32, "acc": 32}
"""QAT default: forward at w_q = a_q = 8 bits, backward (gradients) and accumulators fp32."""

NAMED_SCHEDULES = ("qat", "fp32")
"""Schedules given by name; anything else in a string is a bits spec."""

SYNTH_OPT_STATE_BITS = {"rct": 16, "apt": 16, "qat": 32, "fp32": 32}
"""Optimiser-state bits a synthesised or imported trace records when the schedule does not say
(`--opt-state-bits` chooses): the bundled trainer's defaults for each policy (docs/policies.md;
rctsim.train.policies), so the trace states what a run of that policy there would use and an
RCT trace's update stays integer (fixed-point 16-bit momentum: docs/model.md, "Optimiser
state")."""

OPT_STATE_BITS_RANGE = (1, 32)
"""Allowed `opt_state_bits` (32: fp32; narrower: fixed point of that width)."""


def synth_trace(model: str, *, batch_size: int, iterations: int, schedule: str | Trace,
                seed: int = 0, source_name: str | None = None,
                opt_state_bits: int | None = None, **model_opts: object) -> Trace:
    """A trace of shape model `model` under `schedule` (bits spec, `qat`, `fp32` or a Trace);
    `opt_state_bits` as schedule_trace."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError("synth", "iterations", f"{iterations!r}", "an integer >= 1")
    layers = shape_model(model, batch_size, **model_opts)
    notes = {"model_options": _format_opts(model_opts) or "defaults"}
    return schedule_trace(layers, model=model, batch_size=batch_size, iterations=iterations,
                          schedule=schedule, seed=seed, source_name=source_name, notes=notes,
                          opt_state_bits=opt_state_bits)


def schedule_trace(layers: list[LayerSpec], *, model: str, batch_size: int, iterations: int,
                   schedule: str | Trace, seed: int = 0, source_name: str | None = None,
                   notes: dict[str, str] | None = None,
                   producer: str = "rctsim.synth",
                   opt_state_bits: int | None = None) -> Trace:
    """A trace of the layer table `layers` under `schedule` (bits spec, `qat`, `fp32`, a Trace).

    Shared by `trace synth` (shape models) and `trace import` (ONNX graphs, layer tables). The
    policy parameters record `opt_state_bits`: the one given, else what a schedule trace
    records, else SYNTH_OPT_STATE_BITS of the policy (the note `opt_state_bits` says which).
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError(producer, "iterations", f"{iterations!r}", "an integer >= 1")
    notes = dict(notes or {})
    schedule_source = None
    if isinstance(schedule, Trace):
        schedule_source = source_name or _describe(schedule)
        policy, phase_start, phase_bits, mapping_notes = _from_trace(layers, schedule, iterations)
        notes.update(mapping_notes)
    else:
        policy, row = _fixed(schedule)
        phase_start, phase_bits = np.zeros(1, np.int64), np.tile(row, (1, len(layers), 1))
        notes["schedule"] = f"fixed: {format_bits(row)} for every layer and iteration"
    policy, notes["opt_state_bits"] = _with_opt_state(policy, opt_state_bits, producer)
    header = TraceHeader(producer=producer, producer_version=__version__, model=model,
                         dataset="none", policy=policy, batch_size=batch_size, seed=seed,
                         iterations=iterations, schedule_source=schedule_source, notes=notes)
    return Trace.build(header=header, layers=layers, phase_start=phase_start,
                       phase_bits=phase_bits,
                       source=f"{producer.removeprefix('rctsim.')} {model}")


def _with_opt_state(policy: PolicySpec, bits: int | None,
                    producer: str) -> tuple[PolicySpec, str]:
    """The policy with `opt_state_bits` recorded, and a note saying where the value came from."""
    low, high = OPT_STATE_BITS_RANGE
    if bits is not None:
        if isinstance(bits, bool) or not isinstance(bits, int) or not low <= bits <= high:
            raise InputError(producer, "--opt-state-bits", f"{bits!r}",
                             f"an integer {low}..{high} (32: fp32, narrower: fixed point)")
        note = f"{bits}: chosen (--opt-state-bits)"
    elif "opt_state_bits" in policy.params:
        return policy, f"{policy.params['opt_state_bits']}: as the schedule's source records"
    else:
        bits = SYNTH_OPT_STATE_BITS.get(policy.name, 32)
        note = (f"{bits}: the bundled trainer's default for {policy.name} "
                "(--opt-state-bits to choose)")
    params = {**policy.params, "opt_state_bits": bits}
    return policy.model_copy(update={"params": params}), note


BITS_SOURCE = "bits schedule (--bits)"
"""How a bad bits schedule is named: the `--bits` option of trace synth/import, or the
`schedule=` argument from Python."""


def parse_bits(spec: str) -> np.ndarray:
    """uint8 [4] bits `w, a, g, acc` from a spec like `w=16,a=8,g=8` (acc defaults to 32)."""
    allowed = "w=BITS,a=BITS,g=BITS[,acc=BITS] with BITS in 1..32, or qat, or fp32"
    values: dict[str, int] = {}
    for item in spec.split(","):
        key, sep, text = (part.strip() for part in item.partition("="))
        if not sep or key not in OPERANDS:
            raise InputError(BITS_SOURCE, key or item.strip() or "(empty)",
                             f"bad item {item.strip()!r} in {spec!r}", allowed)
        if key in values:
            raise InputError(BITS_SOURCE, key, f"given twice in {spec!r}", allowed)
        if not (text.isascii() and text.isdigit()) or not MIN_BITS <= int(text) <= MAX_BITS:
            raise InputError(BITS_SOURCE, key, f"{text!r} is not a bitwidth", allowed)
        values[key] = int(text)
    missing = [op for op in ("w", "a", "g") if op not in values]
    if missing:
        raise InputError(BITS_SOURCE, missing[0], f"missing in {spec!r}", allowed)
    values.setdefault("acc", DEFAULT_ACC_BITS)
    return np.array([values[op] for op in OPERANDS], dtype=np.uint8)


def format_bits(row: np.ndarray) -> str:
    """`w=..,a=..,g=..,acc=..` for one bits row."""
    return ",".join(f"{op}={int(b)}" for op, b in zip(OPERANDS, row, strict=True))


def anchor_layers(layers: tuple[LayerSpec, ...] | list[LayerSpec]) -> list[int]:
    """Indices of the weight-bearing GEMM layers (conv, linear, recurrent gate) in table order."""
    return [i for i, layer in enumerate(layers) if layer.has_weights and layer.has_gemm]


def depth_map(target_count: int, source_count: int) -> list[int]:
    """Source anchor for each target anchor: `round(i * (s - 1) / (t - 1))`, ends onto ends."""
    if target_count == 1:
        return [0]
    span = 2 * (target_count - 1)
    return [(2 * i * (source_count - 1) + target_count - 1) // span for i in range(target_count)]


def nearest_anchor(layers: tuple[LayerSpec, ...] | list[LayerSpec]) -> list[int]:
    """For every layer, the anchor giving its bits: itself, else the nearest earlier, else later."""
    anchors = anchor_layers(layers)
    if not anchors:
        raise InputError("synth", "layers", "model has no weight-bearing GEMM layer",
                         "a model with conv, linear or recurrent_gate layers")
    out = []
    for i in range(len(layers)):
        earlier = [a for a in anchors if a <= i]
        out.append(earlier[-1] if earlier else anchors[0])
    return out


def stretch_starts(starts: np.ndarray, source_iterations: int,
                   target_iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Target phase starts `ceil(start * T / S)` and which source phases survive.

    Target iteration `i` then carries the bits of source iteration `floor(i * S / T)`; a source
    phase too short to own a target iteration disappears (the later phase wins).
    """
    scaled = -(-starts.astype(np.int64) * target_iterations // source_iterations)
    keep = scaled < target_iterations
    keep[:-1] &= scaled[:-1] != scaled[1:]
    return scaled[keep], keep


def _fixed(schedule: str) -> tuple[PolicySpec, np.ndarray]:
    if not isinstance(schedule, str):
        raise InputError("synth", "schedule", f"{type(schedule).__name__}",
                         "a bits spec, qat, fp32 or a Trace")
    if schedule == "qat":
        row = np.array([QAT_BITS[op] for op in OPERANDS], dtype=np.uint8)
        return PolicySpec(name="qat", params={"w_q": 8, "a_q": 8}), row
    if schedule == "fp32":
        return PolicySpec(name="fp32"), np.full(len(OPERANDS), 32, dtype=np.uint8)
    row = parse_bits(schedule)
    params = {op: int(b) for op, b in zip(OPERANDS, row, strict=True)}
    return PolicySpec(name="rct", params={**params, "schedule": "fixed"}), row


def _from_trace(layers: list[LayerSpec], source: Trace,
                iterations: int) -> tuple[PolicySpec, np.ndarray, np.ndarray, dict[str, str]]:
    source_anchors = anchor_layers(source.layers)
    if not source_anchors:
        raise InputError("schedule source", "layers", "has no weight-bearing GEMM layer",
                         "a trace with conv, linear or recurrent_gate layers")
    target_anchors = anchor_layers(layers)
    picked = depth_map(len(target_anchors), len(source_anchors))
    anchor_source = {t: source_anchors[j] for t, j in zip(target_anchors, picked, strict=True)}
    layer_source = [anchor_source[a] for a in nearest_anchor(layers)]
    starts, keep = stretch_starts(source.phase_start, source.iterations, iterations)
    phase_bits = source.phase_bits[keep][:, layer_source, :]
    notes = {
        "schedule": "per layer from the source trace by relative depth among weight-bearing "
                    "GEMM layers: target i of t -> source round(i*(s-1)/(t-1)) of s; other "
                    "layers take the bits of the nearest earlier such layer (else the next)",
        "layer_map": ";".join(f"{layers[t].name}<-{source.layers[anchor_source[t]].name}"
                              for t in target_anchors),
        "iteration_map": f"target iteration i uses source iteration floor(i*{source.iterations}"
                         f"/{iterations}); phase starts ceil(start*{iterations}"
                         f"/{source.iterations})",
    }
    return source.header.policy, starts, phase_bits, notes


def _describe(trace: Trace) -> str:
    h = trace.header
    return f"{h.producer} {h.model} ({h.policy.name}, {h.dataset}, seed {h.seed})"


def _format_opts(opts: dict[str, object]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(opts.items()))
