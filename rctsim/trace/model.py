"""In-memory training trace: header, layer table, bitwidth phases and sparse metrics.

A trace records what happened while a model was trained: the layer shapes (in the GEMM view of
concepts §2), the bitwidths of every layer and operand over the iterations, and the metrics the
trainer measured. Bitwidths are held as *phases*: maximal runs of iterations over which no layer's
bits change. `docs/trace-format.md` specifies the on-disk form.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rctsim.errors import MAX_NAME_CHARS, MAX_TEXT_CHARS, InputError

FORMAT_VERSION = 2
"""Major version of the trace format this code writes (version 2 adds `LayerSpec.nongemm`)."""

READ_VERSIONS: tuple[int, ...] = (1, 2)
"""Major versions this code reads. A version-1 trace records no non-GEMM work (`nongemm` is
empty for every layer and `Trace.nongemm_recorded` is false)."""

OPERANDS: tuple[str, ...] = ("w", "a", "g", "acc")
"""Operand columns of the bitwidth table, in storage order."""

LAYER_KINDS: tuple[str, ...] = (
    "conv",
    "linear",
    "attention_matmul",
    "recurrent_gate",
    "embedding",
    "norm",
)
"""Layer kinds a trace may name. `embedding` and `norm` may have no GEMM (M = N = K = 0)."""

POLICIES: tuple[str, ...] = ("fp32", "qat", "rct", "apt")
"""Training policies (docs/concepts.md §3)."""

MIN_BITS, MAX_BITS = 1, 32
"""Allowed range of every recorded bitwidth."""

MAX_DIM = 2**31 - 1
"""Largest GEMM dimension a trace may record (products of two stay within 64-bit integers)."""

MAX_ITERATIONS = 2**53
"""Most iterations a trace may record (iteration counts stay exact as float64)."""

MAX_ELEMS = 2**53
"""Largest parameter or activation element count of a layer."""

Scalar = (Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | float
          | Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | bool)

NONGEMM_KINDS: tuple[str, ...] = (
    "batchnorm",
    "layernorm",
    "relu",
    "gelu",
    "sigmoid",
    "tanh",
    "softmax",
    "maxpool",
    "avgpool",
    "add",
    "mul",
    "loss",
)
"""Kinds of non-GEMM work a trace may record (docs/model.md, "Non-GEMM work", counts each)."""


class NonGemmWork(BaseModel):
    """One elementwise or reduction op that runs on a layer's output before the next GEMM."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    kind: Literal["batchnorm", "layernorm", "relu", "gelu", "sigmoid", "tanh", "softmax",
                  "maxpool", "avgpool", "add", "mul", "loss"]
    """What the op is (one of `NONGEMM_KINDS`)."""
    elems: Annotated[int, Field(ge=0)]
    """Elements of the op's input tensor per iteration (whole batch); for `add`, of one
    operand (= of the output)."""
    out_elems: Annotated[int, Field(ge=0)] | None = None
    """Elements of the output, only where it differs from `elems` (pooling)."""
    group: Annotated[int, Field(ge=1)] = 1
    """Size of the reduction group: elements one statistic is taken over (normalisation:
    batch x pixels per channel for batchnorm, features per row for layernorm), the row length
    (softmax, loss: classes), the window (pooling) or the operands summed (add)."""

    @property
    def outputs(self) -> int:
        """Output elements (`out_elems`, else `elems`)."""
        return self.elems if self.out_elems is None else self.out_elems


def lstm_cell_work(cells: int) -> tuple[NonGemmWork, ...]:
    """The non-GEMM work of an LSTM over `cells` = batch x steps x hidden elements: gates i, f, o
    through a sigmoid and g through a tanh, `c = f*c + i*g`, `h = o*tanh(c)`."""
    return (NonGemmWork(kind="sigmoid", elems=3 * cells), NonGemmWork(kind="tanh", elems=cells),
            NonGemmWork(kind="mul", elems=2 * cells), NonGemmWork(kind="add", elems=cells, group=2),
            NonGemmWork(kind="tanh", elems=cells), NonGemmWork(kind="mul", elems=cells))


class LayerSpec(BaseModel):
    """One layer of the model, in the GEMM view `Y[M,N] = X[M,K] · W[K,N]`."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
    """Unique layer name."""
    kind: Literal["conv", "linear", "attention_matmul", "recurrent_gate", "embedding", "norm"]
    """What the layer is; `attention_matmul` has no weights (both operands are activations)."""
    m: Annotated[int, Field(ge=0, le=MAX_DIM)]
    """Forward GEMM rows: batch x output pixels (conv), batch x tokens (linear)."""
    n: Annotated[int, Field(ge=0, le=MAX_DIM)]
    """Forward GEMM columns: output channels / out-features."""
    k: Annotated[int, Field(ge=0, le=MAX_DIM)]
    """Forward GEMM reduction: in-channels x kernel area / in-features."""
    has_weights: bool
    """Whether the layer holds trainable parameters (and so has an update op)."""
    params: Annotated[int, Field(ge=0, le=MAX_ELEMS)]
    """Number of trainable parameters (0 when `has_weights` is false)."""
    act_elems: Annotated[int, Field(ge=0, le=MAX_ELEMS)]
    """Activation elements kept for the backward pass (per iteration, whole batch)."""
    preds: tuple[str, ...] = ()
    """Names of predecessor layers (the model is a DAG: residual adds, branches)."""
    nongemm: tuple[NonGemmWork, ...] = ()
    """Non-GEMM ops that run on this layer's output before the next GEMM layer (fused after
    it), in execution order; ops before the first layer attach to the first layer. Format 2."""

    @property
    def macs(self) -> int:
        """MACs of one forward GEMM (M x N x K)."""
        return self.m * self.n * self.k

    @property
    def has_gemm(self) -> bool:
        """Whether the layer has a forward GEMM (all three dims positive)."""
        return self.m > 0 and self.n > 0 and self.k > 0


class PolicySpec(BaseModel):
    """The policy a trace was trained with, and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: Literal["fp32", "qat", "rct", "apt"]
    """Policy name (docs/concepts.md §3)."""
    params: dict[Annotated[str, Field(max_length=MAX_NAME_CHARS)], Scalar] = Field(
        default_factory=dict, max_length=256)
    """Policy parameters as used (thresholds, bit range, interval, w_q/a_q, ...)."""


class TraceHeader(BaseModel):
    """Everything about a trace that is not an array."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    format_version: int = FORMAT_VERSION
    """Major version of the trace format."""
    producer: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
    """Program that wrote the trace (`rctsim.train`, `rctsim.synth`, ...)."""
    producer_version: Annotated[str, Field(max_length=MAX_NAME_CHARS)]
    """Version of that program."""
    model: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
    """Model name."""
    dataset: Annotated[str, Field(max_length=MAX_NAME_CHARS)]
    """Data set name (`none` for shape-only synthetic traces)."""
    policy: PolicySpec
    """Policy and its parameters."""
    batch_size: Annotated[int, Field(ge=1, le=MAX_DIM)]
    """Mini-batch size (already folded into each layer's M)."""
    seed: Annotated[int, Field(ge=-(2**63), le=2**64 - 1)]
    """Random seed of the run."""
    iterations: Annotated[int, Field(ge=1, le=MAX_ITERATIONS)]
    """Number of training iterations recorded."""
    schedule_source: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None
    """Where the bitwidth schedule came from when not from this run (e.g. another trace's name)."""
    notes: dict[Annotated[str, Field(max_length=MAX_NAME_CHARS)],
                Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] = Field(default_factory=dict)
    """Free-form provenance (command line, data set settings, ...)."""


@dataclass(frozen=True, eq=False)
class Series:
    """A sparse scalar metric: `value[i]` measured at iteration `iteration[i]`."""

    iteration: np.ndarray
    """int64, strictly increasing."""
    value: np.ndarray
    """float64, same length."""


@dataclass(frozen=True, eq=False)
class LayerSignal:
    """A sparse per-layer signal (e.g. RCT's Gavg at each bitwidth decision)."""

    iteration: np.ndarray
    """int64, non-decreasing."""
    layer: np.ndarray
    """int64 layer index into the layer table."""
    value: np.ndarray
    """float64."""


@dataclass(frozen=True)
class Phase:
    """A run of iterations `[start, stop)` over which every layer's bits are constant."""

    start: int
    stop: int
    bits: np.ndarray
    """uint8 [layers, 4]: columns `w, a, g, acc`."""

    @property
    def iterations(self) -> int:
        """Number of iterations in the phase."""
        return self.stop - self.start


@dataclass(frozen=True, eq=False)
class Trace:
    """A whole training trace. Construct through `Trace.build` to get validation."""

    header: TraceHeader
    layers: tuple[LayerSpec, ...]
    phase_start: np.ndarray
    """int64 [P]: first iteration of each phase; `phase_start[0] == 0`, strictly increasing."""
    phase_bits: np.ndarray
    """uint8 [P, layers, 4]: bits per phase, layer and operand (`w, a, g, acc`)."""
    metrics: dict[str, Series] = field(default_factory=dict)
    """Sparse scalar metrics by name (`loss`, `eval_acc`, ...)."""
    signals: dict[str, LayerSignal] = field(default_factory=dict)
    """Sparse per-layer signals by name (`gavg`, ...)."""
    file_sha256: str | None = field(default=None, repr=False)
    """sha256 hex of the file this trace was read from (None when built in memory)."""

    @classmethod
    def build(
        cls,
        *,
        header: TraceHeader,
        layers: tuple[LayerSpec, ...] | list[LayerSpec],
        phase_start: np.ndarray,
        phase_bits: np.ndarray,
        metrics: dict[str, Series] | None = None,
        signals: dict[str, LayerSignal] | None = None,
        source: str = "<trace>",
    ) -> Trace:
        """Validate and normalise (merge equal neighbouring phases); raise InputError if bad."""
        start = np.asarray(phase_start, dtype=np.int64)
        bits = np.asarray(phase_bits)
        if bits.ndim == 2:
            bits = bits[None, :, :]
        _check_version(header, layers, source)
        _check_layers(layers, source)
        _check_bits(start, bits, len(layers), header.iterations, source)
        keep = np.ones(len(start), dtype=bool)
        for lo in range(1, len(start), 1 << 16):  # in blocks: bounded temporaries
            hi = min(len(start), lo + (1 << 16))
            keep[lo:hi] = np.any(bits[lo:hi] != bits[lo - 1:hi - 1], axis=(1, 2))
        every = bool(keep.all())  # no fancy-index copy of a large table that is already merged
        trace = cls(
            header=header,
            layers=tuple(layers),
            phase_start=start.copy() if every else start[keep],
            phase_bits=(bits if every else bits[keep]).astype(np.uint8, copy=False),
            metrics={k: _check_series(k, v, header.iterations, source)
                     for k, v in (metrics or {}).items()},
            signals={k: _check_signal(k, v, len(layers), header.iterations, source)
                     for k, v in (signals or {}).items()},
        )
        return trace

    @property
    def nongemm_recorded(self) -> bool:
        """Whether the trace records its non-GEMM work (format 2 and later; a version-1 trace
        lacks it, and a run of it states the work as missing)."""
        return self.header.format_version >= 2

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return len(self.layers)

    @property
    def iterations(self) -> int:
        """Number of iterations."""
        return self.header.iterations

    @property
    def phase_stop(self) -> np.ndarray:
        """int64 [P]: one past the last iteration of each phase."""
        return np.append(self.phase_start[1:], self.header.iterations)

    def phases(self) -> Iterator[Phase]:
        """The phases in order."""
        for i, (a, b) in enumerate(zip(self.phase_start, self.phase_stop, strict=True)):
            yield Phase(start=int(a), stop=int(b), bits=self.phase_bits[i])

    def phase_lengths(self) -> np.ndarray:
        """int64 [P]: iterations per phase."""
        return self.phase_stop - self.phase_start

    def mean_bits(self) -> np.ndarray:
        """float64 [layers, 4]: bits per layer and operand averaged over iterations."""
        w = self.phase_lengths()
        # exact integer sums (at most 2^53 iterations x 32 bits), no float copy of the table
        total = np.einsum("p,plo->lo", w, self.phase_bits, dtype=np.int64)
        return total / float(w.sum())

    def bits_at(self, iteration: int) -> np.ndarray:
        """uint8 [layers, 4]: the bits in force at `iteration`."""
        if not 0 <= iteration < self.iterations:
            raise IndexError(f"iteration {iteration} outside [0, {self.iterations})")
        return self.phase_bits[np.searchsorted(self.phase_start, iteration, side="right") - 1]

    def layer_index(self, name: str) -> int:
        """Index of the layer called `name`."""
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise KeyError(name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (
            self.header == other.header
            and self.layers == other.layers
            and np.array_equal(self.phase_start, other.phase_start)
            and np.array_equal(self.phase_bits, other.phase_bits)
            and _same_arrays(self.metrics, other.metrics)
            and _same_arrays(self.signals, other.signals)
        )

    __hash__ = None  # type: ignore[assignment]


def _same_arrays(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = vars(a[key]), vars(b[key])
        if any(not np.array_equal(x[f], y[f]) for f in x):
            return False
    return True


def _check_version(header: TraceHeader, layers, source: str) -> None:
    if header.format_version not in READ_VERSIONS:
        raise InputError(source, "header.format_version", f"{header.format_version}",
                         " or ".join(str(v) for v in READ_VERSIONS))
    if header.format_version < 2:
        for i, layer in enumerate(layers):
            if layer.nongemm:
                raise InputError(source, f"layers[{i}] ({layer.name}).nongemm",
                                 "non-GEMM work in a format-1 trace",
                                 "format_version 2 to record non-GEMM work")


def _check_layers(layers, source: str) -> None:
    names: set[str] = set()
    for i, layer in enumerate(layers):
        where = f"layers[{i}] ({layer.name})"
        if layer.name in names:
            raise InputError(source, f"{where}.name", "duplicate layer name", "unique names")
        dims = (layer.m, layer.n, layer.k)
        if any(dims) and not all(dims):
            raise InputError(source, f"{where}.m/n/k", f"dims {dims} are partly zero",
                             "all three > 0, or all 0 for a layer without GEMM")
        if not layer.has_gemm and layer.kind not in ("embedding", "norm"):
            raise InputError(source, f"{where}.m/n/k", f"a {layer.kind} layer needs a GEMM",
                             "M, N, K >= 1")
        if layer.has_weights != (layer.params > 0):
            raise InputError(source, f"{where}.params",
                             f"params={layer.params} with has_weights={layer.has_weights}",
                             "params > 0 exactly when has_weights")
        if layer.kind == "attention_matmul" and layer.has_weights:
            raise InputError(source, f"{where}.has_weights",
                             "an attention_matmul has no weights", "false")
        for p in layer.preds:
            if p not in names:
                raise InputError(source, f"{where}.preds", f"unknown or later layer {p!r}",
                                 "names of earlier layers (topological order)")
        names.add(layer.name)


def _check_bits(start: np.ndarray, bits: np.ndarray, n_layers: int, iterations: int,
                source: str) -> None:
    if start.ndim != 1 or len(start) == 0:
        raise InputError(source, "phase_start", "empty or not 1-D", "at least one phase")
    if bits.shape != (len(start), n_layers, len(OPERANDS)):
        raise InputError(source, "phase_bits", f"shape {bits.shape}",
                         f"({len(start)}, {n_layers}, {len(OPERANDS)})")
    if start[0] != 0 or np.any(np.diff(start) <= 0) or start[-1] >= iterations:
        raise InputError(source, "phase_start", "phases must start at 0 and increase strictly",
                         f"0 = start[0] < start[1] < ... < {iterations}")
    if bits.size and (bits.min() < MIN_BITS or bits.max() > MAX_BITS):
        p, layer, op = np.argwhere((bits < MIN_BITS) | (bits > MAX_BITS))[0]
        raise InputError(source, f"bits[layer {layer}].{OPERANDS[op]}",
                         f"{int(bits[p, layer, op])} bits at iteration {int(start[p])}",
                         f"{MIN_BITS}..{MAX_BITS}")


def _check_series(name: str, s: Series, iterations: int, source: str) -> Series:
    it = np.asarray(s.iteration, dtype=np.int64)
    val = np.asarray(s.value, dtype=np.float64)
    if it.shape != val.shape or it.ndim != 1:
        raise InputError(source, f"metrics.{name}", "iteration and value lengths differ",
                         "equal 1-D arrays")
    if it.size and (it[0] < 0 or it[-1] >= iterations or np.any(np.diff(it) <= 0)):
        raise InputError(source, f"metrics.{name}.iteration", "not strictly increasing in range",
                         f"0..{iterations - 1}, increasing")
    return Series(iteration=it, value=val)


def _check_signal(name: str, s: LayerSignal, n_layers: int, iterations: int,
                  source: str) -> LayerSignal:
    it = np.asarray(s.iteration, dtype=np.int64)
    layer = np.asarray(s.layer, dtype=np.int64)
    val = np.asarray(s.value, dtype=np.float64)
    if not (it.shape == layer.shape == val.shape) or it.ndim != 1:
        raise InputError(source, f"signals.{name}", "array lengths differ", "equal 1-D arrays")
    if it.size and (it.min() < 0 or it.max() >= iterations or np.any(np.diff(it) < 0)):
        raise InputError(source, f"signals.{name}.iteration", "out of range or decreasing",
                         f"0..{iterations - 1}, non-decreasing")
    if layer.size and (layer.min() < 0 or layer.max() >= n_layers):
        raise InputError(source, f"signals.{name}.layer", "layer index out of range",
                         f"0..{n_layers - 1}")
    return LayerSignal(iteration=it, layer=layer, value=val)
