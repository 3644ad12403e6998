"""Summaries of traces as plain JSON-ready dicts (the schema is in docs/trace-format.md)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rctsim.trace import catalog
from rctsim.trace.io import read_trace, trace_digest
from rctsim.trace.model import OPERANDS, LayerSignal, Series, Trace

SCHEMA_VERSION = 2
"""Version of the `trace info --json` and `trace list --json` schemas (2: `phases` lists at most
MAX_LISTED_PHASES phases)."""
MAX_LISTED_PHASES = 1000
"""Most phases listed one by one in `trace info --json`; the counts and lengths cover all."""
LOSS_METRIC = "loss"
"""Metric summarised as the training loss."""
ACCURACY_METRIC = "eval_acc"
"""Metric summarised as the evaluation accuracy."""


def trace_info(path: str | Path) -> dict[str, Any]:
    """Read the trace file at `path` and summarise it (`trace info --json`)."""
    path = Path(path)
    trace = read_trace(path)
    return {
        "schema_version": SCHEMA_VERSION,
        "file": str(path),
        "size_bytes": path.stat().st_size,
        "sha256": trace_digest(trace),  # the file's digest, taken while reading it
        **trace_summary(trace),
    }


def trace_summary(trace: Trace) -> dict[str, Any]:
    """Everything `trace info` shows about an in-memory trace, as JSON-ready values."""
    mean_bits = trace.mean_bits()
    lengths = trace.phase_lengths()
    return {
        "header": trace.header.model_dump(mode="json"),
        "iterations": trace.iterations,
        "n_layers": trace.n_layers,
        "n_phases": len(trace.phase_start),
        "policy": trace.header.policy.model_dump(mode="json"),
        "totals": {
            "params": sum(layer.params for layer in trace.layers),
            "act_elems": sum(layer.act_elems for layer in trace.layers),
            "macs": sum(layer.macs for layer in trace.layers),
        },
        "layers": [
            {**layer.model_dump(mode="json"), "index": i, "macs": layer.macs,
             "mean_bits": {op: float(mean_bits[i, j]) for j, op in enumerate(OPERANDS)}}
            for i, layer in enumerate(trace.layers)
        ],
        "phases": [{"start": int(a), "stop": int(b)} for a, b in
                   zip(trace.phase_start[:MAX_LISTED_PHASES],
                       trace.phase_stop[:MAX_LISTED_PHASES], strict=True)],
        "phase_lengths": {"min": int(lengths.min()), "max": int(lengths.max())},
        "metrics": _metrics_summary(trace),
        "nongemm": _nongemm_summary(trace),
    }


NONGEMM_NOT_RECORDED = ("not recorded: a format-1 trace has no per-layer non-GEMM work "
                        "(normalisation, activations, pooling, residual adds, softmax, loss); "
                        "a run counts none of it")
"""What `trace info` says about the non-GEMM work of a format-1 trace."""


def _nongemm_summary(trace: Trace) -> dict[str, Any]:
    """Whether the trace records non-GEMM work, and its input elements per kind."""
    elems: dict[str, int] = {}
    for layer in trace.layers:
        for work in layer.nongemm:
            elems[work.kind] = elems.get(work.kind, 0) + work.elems
    return {"recorded": trace.nongemm_recorded,
            "missing": None if trace.nongemm_recorded else NONGEMM_NOT_RECORDED,
            "elems": elems}


def bundled_list() -> dict[str, Any]:
    """One line per bundled trace (`trace list --json`)."""
    rows = []
    for name in catalog.list_bundled_traces():
        path = catalog.bundled_trace_dir() / f"{name}{catalog.TRACE_SUFFIX}"
        trace = read_trace(path)
        rows.append({
            "name": name, "file": str(path), "model": trace.header.model,
            "dataset": trace.header.dataset, "policy": trace.header.policy.name,
            "iterations": trace.iterations, "n_layers": trace.n_layers,
            "n_phases": len(trace.phase_start), "size_bytes": path.stat().st_size,
        })
    return {"schema_version": SCHEMA_VERSION, "traces": rows}


def _metrics_summary(trace: Trace) -> dict[str, Any]:
    series = {name: _series_summary(trace.metrics[name]) for name in sorted(trace.metrics)}
    loss = series.get(LOSS_METRIC)
    acc = series.get(ACCURACY_METRIC)
    return {
        "loss": None if loss is None else {k: loss[k] for k in ("count", "first", "last", "min")},
        "eval_acc": None if acc is None else {"count": acc["count"], "last": acc["last"],
                                              "best": acc["max"]},
        "series": series,
        "signals": {name: _signal_summary(trace.signals[name], trace)
                    for name in sorted(trace.signals)},
    }


def _series_summary(s: Series) -> dict[str, Any]:
    finite = np.flatnonzero(np.isfinite(s.value))
    if not len(finite):
        lowest = highest = None
    else:
        lowest = _point(s, int(finite[np.argmin(s.value[finite])]))
        highest = _point(s, int(finite[np.argmax(s.value[finite])]))
    return {
        "count": len(s.value),
        "first": _point(s, 0) if len(s.value) else None,
        "last": _point(s, -1) if len(s.value) else None,
        "min": lowest,
        "max": highest,
        "mean": _number(float(s.value[finite].mean())) if len(finite) else None,
    }


def _signal_summary(sig: LayerSignal, trace: Trace) -> dict[str, Any]:
    finite = np.isfinite(sig.value)
    counts = np.bincount(sig.layer, minlength=trace.n_layers)
    n_finite = np.bincount(sig.layer[finite], minlength=trace.n_layers)
    sums = np.bincount(sig.layer[finite], weights=sig.value[finite], minlength=trace.n_layers)
    return {
        "count": len(sig.value),
        "per_layer": [
            {"layer": layer.name, "count": int(counts[i]),
             "mean": _number(sums[i] / n_finite[i]) if n_finite[i] else None}
            for i, layer in enumerate(trace.layers)
        ],
    }


def _point(s: Series, i: int) -> dict[str, Any]:
    return {"iteration": int(s.iteration[i]), "value": _number(float(s.value[i]))}


def _number(x: float) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return float(x) if math.isfinite(x) else None
