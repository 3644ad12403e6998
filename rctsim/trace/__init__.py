"""Training traces: the in-memory model, the file format, the bundled catalogue and summaries."""

from rctsim.trace.catalog import (
    bundled_trace_dir,
    list_bundled_traces,
    load_trace,
    resolve_trace,
)
from rctsim.trace.info import trace_info, trace_summary
from rctsim.trace.io import (
    FORMAT_MINOR,
    read_trace,
    trace_digest,
    trace_from_bytes,
    trace_to_bytes,
    write_trace,
)
from rctsim.trace.model import (
    FORMAT_VERSION,
    LAYER_KINDS,
    MAX_BITS,
    MIN_BITS,
    OPERANDS,
    POLICIES,
    LayerSignal,
    LayerSpec,
    Phase,
    PolicySpec,
    Series,
    Trace,
    TraceHeader,
)

__all__ = [
    "FORMAT_MINOR",
    "FORMAT_VERSION",
    "LAYER_KINDS",
    "MAX_BITS",
    "MIN_BITS",
    "OPERANDS",
    "POLICIES",
    "LayerSignal",
    "LayerSpec",
    "Phase",
    "PolicySpec",
    "Series",
    "Trace",
    "TraceHeader",
    "bundled_trace_dir",
    "list_bundled_traces",
    "load_trace",
    "read_trace",
    "resolve_trace",
    "trace_digest",
    "trace_from_bytes",
    "trace_info",
    "trace_summary",
    "trace_to_bytes",
    "write_trace",
]
