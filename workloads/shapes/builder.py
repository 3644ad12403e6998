"""Build a layer table (`LayerSpec`s) from the tensors flowing through a model.

Every shape model is written as a short forward pass over `Tensor`s with a `ShapeBuilder`. The
builder turns each GEMM, norm or embedding into a `LayerSpec` in the GEMM view of docs/concepts.md,
derives the DAG (`preds`) from which layers produced a layer's inputs, counts the activations
kept for the backward pass, each distinct tensor once (docs/workloads.md, "Kept activations"), and
records the non-GEMM work (`LayerSpec.nongemm`): every elementwise op, add, pool and norm is
charged to the latest layer that produced its input (the first layer when none did).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rctsim.errors import InputError
from rctsim.trace.model import NONGEMM_KINDS, LayerSpec, NonGemmWork, lstm_cell_work

ROW_KINDS: tuple[str, ...] = ("softmax", "loss", "layernorm")
"""Kinds that reduce over the tensor's last dimension (their `group`)."""


def _default_group(op: str, x: Tensor) -> int:
    """`group` of an op recorded through `elementwise` (norm, add, pool have their own calls):
    the last dimension for row reductions, batch x pixels per channel for batchnorm, 2 operands
    for add, 1 otherwise."""
    if op in ROW_KINDS and x.shape:
        return x.shape[-1]
    if op == "batchnorm" and x.shape:
        return max(1, x.elems // x.shape[0])
    return 2 if op == "add" else 1


@dataclass(frozen=True)
class Tensor:
    """An activation tensor between layers (per-sample `shape`; `elems` counts the whole batch)."""

    name: str
    """Unique tensor name (used to count a kept tensor once)."""
    shape: tuple[int, ...]
    """Per-sample shape: `(C, H, W)` for feature maps, `(tokens, features)` for sequences."""
    elems: int
    """Elements of the tensor over the whole batch (what keeping it costs)."""
    producers: tuple[str, ...]
    """Layers whose outputs this tensor is made of (the DAG predecessors of its consumers)."""


class ShapeBuilder:
    """Accumulates the layers of one model, in topological order, for one batch size."""

    def __init__(self, *, model: str, batch_size: int):
        if batch_size < 1:
            raise InputError(model, "batch_size", f"{batch_size}", "an integer >= 1")
        self.model = model
        self.batch_size = batch_size
        self._rows: list[dict] = []
        self._counted: set[str] = set()
        self._pending: dict[str, tuple[Tensor, str]] = {}
        self._work: list[tuple[str | None, NonGemmWork]] = []

    # ----------------------------------------------------------------- tensors without layers
    def input(self, name: str, shape: tuple[int, ...], *, batched: bool = True) -> Tensor:
        """The model's data input (no producer); `batched=False`: one copy shared by the batch."""
        if batched:
            return self._tensor(name, shape, ())
        return Tensor(name, shape, math.prod(shape), ())

    def elementwise(self, x: Tensor, op: str, *, keep: str | None) -> Tensor:
        """An elementwise op of kind `op` (`relu`, `gelu`, `softmax`, `loss`, ...; one of
        `NONGEMM_KINDS`) that keeps its `input`, `output` or nothing.

        A kept tensor that no later layer keeps as its input is charged to the layer that produced
        `x` when the table is built. `softmax` and `loss` reduce over the last dimension. Norms,
        adds and pools have their own calls (`norm`, `add`, `pool`, `reshape`), which also set
        the layer, operands and output size; given here they get a default `group`.
        """
        if op not in NONGEMM_KINDS:
            raise ValueError(f"elementwise op {op!r} is not one of {', '.join(NONGEMM_KINDS)}")
        out = Tensor(f"{x.name}>{op}", x.shape, x.elems, x.producers)
        group = _default_group(op, x)
        self._record(x, NonGemmWork(kind=op, elems=x.elems, group=group))
        if keep is not None:
            self._keep(x, {"input": x, "output": out}[keep])
        return out

    def add(self, *operands: Tensor) -> Tensor:
        """Residual add: keeps nothing; consumers get one predecessor per operand.

        Each operand is represented by its first producer, so an add of an add's output stays at
        one predecessor per operand. Records an `add` of `len(operands)` operands.
        """
        first = operands[0]
        if any(o.shape != first.shape for o in operands):
            raise ValueError(f"add of mismatched shapes {[o.shape for o in operands]}")
        producers = tuple(dict.fromkeys(o.producers[0] for o in operands))
        out = Tensor("+".join(o.name for o in operands), first.shape, first.elems, producers)
        every = tuple(dict.fromkeys(p for o in operands for p in o.producers))
        self._record(Tensor(out.name, out.shape, out.elems, every),
                     NonGemmWork(kind="add", elems=first.elems, group=len(operands)))
        return out

    def reshape(self, x: Tensor, op: str, shape: tuple[int, ...]) -> Tensor:
        """A pooling or slicing op that keeps nothing new (global average pool, token select);
        `op="avgpool"` records an average pool over each output's share of the input."""
        out = self._tensor(f"{x.name}>{op}", shape, x.producers)
        if op == "avgpool":
            self._record(x, NonGemmWork(kind="avgpool", elems=x.elems, out_elems=out.elems,
                                        group=max(1, x.elems // max(out.elems, 1))))
        return out

    def pool(self, x: Tensor, *, kernel: int, stride: int, padding: int) -> Tensor:
        """Max-pool: keeps its input (also the preceding ReLU's output); indices not counted."""
        out = self._tensor(f"{x.name}>maxpool",
                           (x.shape[0], *self._out_hw(x, kernel, stride, padding)), x.producers)
        self._record(x, NonGemmWork(kind="maxpool", elems=x.elems, out_elems=out.elems,
                                    group=kernel * kernel))
        self._keep(x, x)
        return out

    # ----------------------------------------------------------------- layers
    def conv(self, name: str, x: Tensor, *, out_ch: int, kernel: int, stride: int = 1,
             padding: int = 0, groups: int = 1, bias: bool = False) -> Tensor:
        """2-D convolution; `groups` are folded into M (exact MACs; docs/workloads.md)."""
        in_ch = x.shape[0]
        oh, ow = self._out_hw(x, kernel, stride, padding)
        k = in_ch // groups * kernel * kernel
        params = k * out_ch + (out_ch if bias else 0)
        self._layer(name, "conv", inputs=[x], m=self.batch_size * oh * ow * groups,
                    n=out_ch // groups, k=k, params=params)
        return self._tensor(f"{name}:out", (out_ch, oh, ow), (name,))

    def linear(self, name: str, x: Tensor, *, out_features: int, bias: bool = True) -> Tensor:
        """Fully connected layer over the last dimension; leading dims (tokens) fold into M."""
        rows = math.prod(x.shape[:-1])
        in_features = x.shape[-1]
        params = in_features * out_features + (out_features if bias else 0)
        self._layer(name, "linear", inputs=[x], m=self.batch_size * rows, n=out_features,
                    k=in_features, params=params)
        return self._tensor(f"{name}:out", (*x.shape[:-1], out_features), (name,))

    def norm(self, name: str, x: Tensor, *, features: int, op: str | None = None) -> Tensor:
        """BatchNorm / LayerNorm: 2 x `features` params (scale, shift), keeps its input, no GEMM.

        `op`: `batchnorm` (statistics per channel over batch and pixels) or `layernorm`
        (statistics per row over `features`); by default batchnorm on feature maps `(C, H, W)`,
        layernorm on sequences. The work is charged to the norm layer itself.
        """
        op = op or ("batchnorm" if len(x.shape) == 3 else "layernorm")
        if op not in ("batchnorm", "layernorm"):
            raise ValueError(f"norm op {op!r} is not batchnorm or layernorm")
        self._layer(name, "norm", inputs=[x], m=0, n=0, k=0, params=2 * features)
        group = x.elems // features if op == "batchnorm" else features
        self._work.append((name, NonGemmWork(kind=op, elems=x.elems, group=max(1, group))))
        return self._tensor(f"{name}:out", x.shape, (name,))

    def embedding(self, name: str, ids: Tensor, *, vocab: int, dim: int) -> Tensor:
        """Table lookup: `vocab x dim` params, keeps its index input, no GEMM."""
        self._layer(name, "embedding", inputs=[ids], m=0, n=0, k=0, params=vocab * dim)
        return self._tensor(f"{name}:out", (*ids.shape, dim), (name,))

    def attention(self, name: str, query: Tensor, key: Tensor, value: Tensor, *,
                  heads: int) -> Tensor:
        """Scores `Q·Kᵀ` and context `softmax·V` as weightless GEMMs, heads folded into M."""
        tokens, width = query.shape
        d_head = width // heads
        rows = self.batch_size * heads * tokens
        self._layer(f"{name}.scores", "attention_matmul", inputs=[query, key], m=rows, n=tokens,
                    k=d_head, params=0)
        scores = self._tensor(f"{name}.scores:out", (heads, tokens, tokens), (f"{name}.scores",))
        scores = self.elementwise(scores, "mul", keep=None)  # scaled by 1/sqrt(d_head)
        probs = self.elementwise(scores, "softmax", keep="output")
        self._layer(f"{name}.context", "attention_matmul", inputs=[probs, value], m=rows, n=d_head,
                    k=tokens, params=0)
        return self._tensor(f"{name}.context:out", (tokens, width), (f"{name}.context",))

    def lstm(self, name: str, x: Tensor, *, hidden: int) -> Tensor:
        """One LSTM layer unrolled over time: gate GEMM `[x_t, h_t-1]·W`, one bias per gate."""
        steps, in_features = x.shape
        b = self.batch_size
        h_seq = Tensor(f"{name}:h", (steps, hidden), b * (steps + 1) * hidden, (name,))
        gates = Tensor(f"{name}:gates", (steps, 4 * hidden), b * steps * 4 * hidden, (name,))
        cells = Tensor(f"{name}:c", (steps, hidden), b * (steps + 1) * hidden, (name,))
        k = in_features + hidden
        self._layer(name, "recurrent_gate", inputs=[x], m=b * steps, n=4 * hidden, k=k,
                    params=k * 4 * hidden + 4 * hidden, extra_keeps=[h_seq, gates, cells])
        self._work += [(name, work) for work in lstm_cell_work(b * steps * hidden)]
        return h_seq

    def build(self) -> list[LayerSpec]:
        """The layer table, with kept tensors no layer took as input charged to their producer."""
        acts = {row["name"]: row["act_elems"] for row in self._rows}
        for tensor, owner in self._pending.values():
            if tensor.name not in self._counted:
                acts[owner] += tensor.elems
        work: dict[str, list[NonGemmWork]] = {row["name"]: [] for row in self._rows}
        for owner, item in self._work:
            if self._rows:
                work[owner if owner is not None else self._rows[0]["name"]].append(item)
        return [LayerSpec(**{**row, "act_elems": acts[row["name"]],
                             "nongemm": tuple(work[row["name"]])}) for row in self._rows]

    # ----------------------------------------------------------------- helpers
    def _record(self, x: Tensor, work: NonGemmWork) -> None:
        """Charge `work` on tensor `x` to the latest layer that produced `x` (None: the first)."""
        order = {row["name"]: i for i, row in enumerate(self._rows)}
        owners = [p for p in x.producers if p in order]
        self._work.append((max(owners, key=order.__getitem__) if owners else None, work))

    def _keep(self, x: Tensor, kept: Tensor) -> None:
        """Keep `kept` for backward, charged to `x`'s first producer unless a layer takes it."""
        if kept.name not in self._counted and x.producers:
            self._pending.setdefault(kept.name, (kept, x.producers[0]))

    def _tensor(self, name: str, shape: tuple[int, ...], producers: tuple[str, ...]) -> Tensor:
        return Tensor(name, shape, self.batch_size * math.prod(shape), producers)

    def _out_hw(self, x: Tensor, kernel: int, stride: int, padding: int) -> tuple[int, int]:
        _, h, w = x.shape
        oh, ow = ((d + 2 * padding - kernel) // stride + 1 for d in (h, w))
        if oh < 1 or ow < 1:
            raise InputError(self.model, "input_size",
                             f"feature map {h}x{w} too small for a {kernel}x{kernel} window",
                             "a larger input size")
        return oh, ow

    def _layer(self, name: str, kind: str, *, inputs: Sequence[Tensor], m: int, n: int, k: int,
               params: int, extra_keeps: Sequence[Tensor] = ()) -> None:
        act = 0
        for tensor in (*inputs, *extra_keeps):
            if tensor.name not in self._counted:
                self._counted.add(tensor.name)
                act += tensor.elems
        preds = tuple(dict.fromkeys(p for t in inputs for p in t.producers))
        self._rows.append(dict(name=name, kind=kind, m=m, n=n, k=k, has_weights=params > 0,
                               params=params, act_elems=act, preds=preds))


def check_positive(model: str, **values: int) -> None:
    """Raise InputError unless every named model option is an integer >= 1."""
    for field, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(model, field, f"{value!r}", "an integer >= 1")
