"""General layer forms an imported graph needs, on top of `ShapeBuilder`.

The bundled shape models only use square, symmetric, undilated 2-D convolutions, LSTMs with one
bias per gate and the fused attention pattern. A graph imported from a file (`rctsim.onnx_import`)
has any of: N-D convolutions with per-axis kernels, strides, dilations and asymmetric pads;
transposed convolutions; batched products of two activations with broadcasting; LSTMs and GRUs with
their own bias layout, in one or both directions; concatenation. These methods add exactly those
forms. They record layers and kept tensors through `ShapeBuilder`'s own bookkeeping (`_layer`,
`_tensor`, `elementwise`), so whatever the base builder records for a layer or an op is recorded for
these too. Conventions: docs/workloads.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rctsim.errors import InputError
from rctsim.trace.model import NonGemmWork
from workloads.shapes.builder import ShapeBuilder, Tensor


class GraphBuilder(ShapeBuilder):
    """`ShapeBuilder` plus the general layer forms of an imported graph."""

    def conv_nd(self, name: str, x: Tensor, *, out_ch: int, kernel: Sequence[int],
                stride: Sequence[int], dilation: Sequence[int], pads: Sequence[int],
                groups: int = 1, bias: bool = False) -> Tensor:
        """N-D convolution, input `(C, *spatial)`; `pads` = begins then ends (ONNX order).

        Output side `floor((d + pad_begin + pad_end - dilation*(k-1) - 1) / stride) + 1` per axis;
        groups folded into M as in `conv` (M = batch x output positions x groups).
        """
        in_ch, spatial = x.shape[0], x.shape[1:]
        rank = len(spatial)
        if not len(kernel) == len(stride) == len(dilation) == rank or len(pads) != 2 * rank:
            raise ValueError(f"conv {name}: kernel/stride/dilation/pads do not match rank {rank}")
        out_sp = tuple((d + pads[i] + pads[rank + i] - dilation[i] * (kernel[i] - 1) - 1)
                       // stride[i] + 1 for i, d in enumerate(spatial))
        if min(out_sp, default=1) < 1:
            raise InputError(self.model, name, f"input {spatial} too small for kernel {kernel}",
                             "a larger input")
        k = in_ch // groups * math.prod(kernel)
        params = k * out_ch + (out_ch if bias else 0)
        self._layer(name, "conv", inputs=[x], m=self.batch_size * math.prod(out_sp) * groups,
                    n=out_ch // groups, k=k, params=params)
        return self._tensor(f"{name}:out", (out_ch, *out_sp), (name,))

    def conv_transpose(self, name: str, x: Tensor, *, out_ch: int, kernel: Sequence[int],
                       out_spatial: Sequence[int], groups: int = 1, bias: bool = False) -> Tensor:
        """Transposed (fractionally strided) convolution, input `(C, *spatial)`.

        Its forward pass is the scatter GEMM `[B·P_in, Cin/g] · [Cin/g, (Cout/g)·k]` followed by
        col2im adds: M = batch x input positions x groups, K = Cin/g, N = (Cout/g) x kernel
        volume, so M·N·K = B·P_in·Cin·(Cout/g)·k exactly (strides, pads and output padding only
        change which outputs the products land in). `out_spatial` is the output's spatial shape.
        """
        in_ch, spatial = x.shape[0], x.shape[1:]
        k_vol = math.prod(kernel)
        params = in_ch * (out_ch // groups) * k_vol + (out_ch if bias else 0)
        self._layer(name, "conv", inputs=[x], m=self.batch_size * math.prod(spatial) * groups,
                    n=out_ch // groups * k_vol, k=in_ch // groups, params=params)
        return self._tensor(f"{name}:out", (out_ch, *out_spatial), (name,))

    def matmul(self, name: str, a: Tensor, b: Tensor, *, out_shape: tuple[int, ...]) -> Tensor:
        """Product of two activations `a (..., M, K) · b (..., K, N)`, batch dims broadcast.

        An `attention_matmul` without weights: every broadcast batch dimension (heads, ...) is
        folded into M like the heads of `attention`: M = batch x prod(batch dims) x M, keeping
        both operands. `out_shape` is the per-sample output shape.
        """
        a_shape, b_shape = a.shape, b.shape
        if len(a_shape) < 1 or len(b_shape) < 1:
            raise ValueError(f"matmul {name}: scalar operand")
        a2 = a_shape if len(a_shape) > 1 else (1, *a_shape)
        b2 = b_shape if len(b_shape) > 1 else (*b_shape, 1)
        batch = math.prod(out_shape) // max(a2[-2] * b2[-1], 1)
        self._layer(name, "attention_matmul", inputs=[a, b], m=self.batch_size * batch * a2[-2],
                    n=b2[-1], k=a2[-1], params=0)
        return self._tensor(f"{name}:out", out_shape, (name,))

    def gemm(self, name: str, x: Tensor, *, m: int, n: int, k: int, params: int,
             out_shape: tuple[int, ...], kind: str = "linear") -> Tensor:
        """A weight-bearing GEMM whose dims the caller computed (a weight on the left, say)."""
        self._layer(name, kind, inputs=[x], m=m, n=n, k=k, params=params)
        return self._tensor(f"{name}:out", out_shape, (name,))

    def recurrent(self, name: str, x: Tensor, *, hidden: int, gates: int, params: int,
                  directions: int = 1, cell: bool = True) -> Tensor:
        """An LSTM (`gates=4`, `cell=True`) or GRU (`gates=3`, `cell=False`) over `x (T, in)`.

        One `recurrent_gate` layer: the gate GEMM `[x_t, h_t-1] · W` over all batch x timesteps
        rows of every direction (directions folded into M like groups), K = in + hidden,
        N = gates x hidden; `params` as the graph holds them (ONNX keeps two bias vectors).
        Keeps x, the hidden history `h_0..h_T`, the activated gates and (LSTM) the cell history,
        per direction. Returns the hidden history (the next layer's input: counted once).
        """
        steps, in_features = x.shape
        b, d = self.batch_size, directions
        h_seq = Tensor(f"{name}:h", (steps, d * hidden), b * d * (steps + 1) * hidden, (name,))
        keeps = [h_seq, Tensor(f"{name}:gates", (steps, d * gates * hidden),
                               b * d * steps * gates * hidden, (name,))]
        if cell:
            keeps.append(Tensor(f"{name}:c", (steps, d * hidden), b * d * (steps + 1) * hidden,
                                (name,)))
        self._layer(name, "recurrent_gate", inputs=[x], m=b * steps * d, n=gates * hidden,
                    k=in_features + hidden, params=params, extra_keeps=keeps)
        return h_seq

    def norm_params(self, name: str, x: Tensor, *, params: int, features: int,
                    op: str) -> Tensor:
        """A norm layer whose parameter count is not `2 x features` (a LayerNorm without shift);
        records its `batchnorm` / `layernorm` work as `norm` does."""
        self._layer(name, "norm", inputs=[x], m=0, n=0, k=0, params=params)
        group = x.elems // features if op == "batchnorm" else features
        self._work.append((name, NonGemmWork(kind=op, elems=x.elems, group=max(1, group))))
        return self._tensor(f"{name}:out", x.shape, (name,))

    def maxpool(self, x: Tensor, *, out_shape: tuple[int, ...], window: int) -> Tensor:
        """Max-pool of any window (as `pool`: keeps its input, records a `maxpool` over
        `window` inputs per output; indices not counted)."""
        out = self._tensor(f"{x.name}>maxpool", out_shape, x.producers)
        self._record(x, NonGemmWork(kind="maxpool", elems=x.elems, out_elems=out.elems,
                                    group=max(1, window)))
        self._keep(x, x)
        return out

    def keep(self, x: Tensor) -> None:
        """Keep `x` for the backward pass of an op that is not a layer (a product of two
        activations keeps both), charged like `elementwise`'s kept tensors."""
        if x.name not in self._counted and x.producers:
            self._pending.setdefault(x.name, (x, x.producers[0]))

    def concat(self, *operands: Tensor, shape: tuple[int, ...]) -> Tensor:
        """Concatenation: keeps nothing; consumers get one predecessor per producing operand."""
        producers = tuple(dict.fromkeys(o.producers[0] for o in operands if o.producers))
        return self._tensor("|".join(o.name for o in operands), shape, producers)
