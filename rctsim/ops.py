"""Expand one training step of a trace phase into its ops (docs/concepts.md §2).

Schedule: every layer's `fwd` (then its non-GEMM forward work, `ew_fwd`) in topological order,
then in reverse order each layer's non-GEMM backward work (`ew_bwd`), `dgrad`, `wgrad` and (for
layers with weights) `update`. GEMMs are written `C[m,n] = A[m,k] · B[k,n]`:

- fwd:   Y[M,N]  = X[M,K]  · W[K,N]      -> (m, n, k) = (M, N, K), A = X,  B = W
- dgrad: dX[M,K] = dY[M,N] · Wᵀ[N,K]     -> (m, n, k) = (M, K, N), A = dY, B = W
- wgrad: dW[K,N] = Xᵀ[K,M] · dY[M,N]     -> (m, n, k) = (K, N, M), A = X,  B = dY

For a weightless layer (attention products) B is the second activation operand.
"""

from __future__ import annotations

from dataclasses import dataclass

from rctsim.storage import FP32, Fmt, LayerFormats
from rctsim.trace.model import LayerSpec

OP_KINDS: tuple[str, ...] = ("fwd", "dgrad", "wgrad", "update", "ew_fwd", "ew_bwd")
"""The ops of a layer's training step: three GEMMs, the update, and the non-GEMM work on the
layer's output forward and on its incoming gradient backward (docs/model.md)."""

NONGEMM_OPS: tuple[str, ...] = ("ew_fwd", "ew_bwd")
"""The ops that run a layer's recorded non-GEMM work (rctsim.nongemm)."""

GEMM_KINDS: tuple[str, ...] = ("fwd", "dgrad", "wgrad")
"""The ops that are GEMMs."""


@dataclass(frozen=True)
class Op:
    """One op of a training step with the formats it runs at."""

    layer: int
    """Index into the trace's layer table."""
    kind: str
    """fwd, dgrad, wgrad, update, ew_fwd or ew_bwd."""
    m: int
    n: int
    k: int
    a: Fmt
    """Format of operand A (update: the gradient read)."""
    b: Fmt
    """Format of operand B (update: the weights updated)."""
    acc: Fmt
    """Accumulator format."""
    a_tensor: str
    """Tensor class of A."""
    b_tensor: str
    """Tensor class of B."""
    out_tensor: str
    """Tensor class of C."""
    out: Fmt
    """Format C is stored in."""
    elems: int = 0
    """update only: parameters updated."""
    b_store: Fmt | None = None
    """Format B is stored and moved in, when it differs from the MAC's (QAT's dgrad dequantises
    the int weights into fp32 MACs)."""
    a_store: Fmt | None = None
    """Format A is stored and moved in, when it differs from the MAC's (QAT's wgrad reads the
    int activations kept for backward into fp32 MACs)."""
    quant_masks: bool = False
    """ew_bwd only: QAT applies the straight-through masks of the layer's activation
    quantisers to the gradients of its GEMM inputs here."""

    @property
    def a_bytes(self) -> float:
        """Bytes per element of A in memory."""
        return (self.a_store or self.a).bytes

    @property
    def b_bytes(self) -> float:
        """Bytes per element of B in memory."""
        return (self.b_store or self.b).bytes

    @property
    def macs(self) -> int:
        """Multiply-accumulates (0 for update)."""
        return self.m * self.n * self.k if self.kind in GEMM_KINDS else 0


def layer_ops(index: int, layer: LayerSpec, fmt: LayerFormats, *,
              qat_dgrad_weights: str = "quantised", dgrad: bool = True) -> dict[str, Op]:
    """The ops of one layer by kind (no GEMMs without a GEMM, no update without weights).

    `qat_dgrad_weights`: which copy QAT's fp32 dgrad reads, `quantised` (the w_q-bit copy,
    dequantised on the way into the MACs: the weights the forward pass used, as in a
    straight-through estimator) or `master` (the fp32 master copy). `dgrad=False` leaves out
    the input-gradient GEMM (the first layer's, whose input is the data: SimOptions.
    first_layer_dgrad).
    """
    ops: dict[str, Op] = {}
    b_class = "weights" if layer.has_weights else "activations"
    qat_weights = fmt.master is not None and fmt.quantisers and layer.has_weights
    b_back = "master_copy" if qat_weights and qat_dgrad_weights == "master" else b_class
    b_copy = fmt.master if b_back == "master_copy" else fmt.weights
    b_store = b_copy if qat_weights and (b_back == "weights" or b_copy != fmt.dgrad[1]) \
        else None
    if layer.has_gemm:
        M, N, K = layer.m, layer.n, layer.k
        ops["fwd"] = Op(index, "fwd", M, N, K, fmt.fwd[0], fmt.fwd[1], fmt.acc,
                        "activations", b_class, "outputs", fmt.activations)
        if dgrad:
            ops["dgrad"] = Op(index, "dgrad", M, K, N, fmt.dgrad[0], fmt.dgrad[1],
                              _acc(fmt, "dgrad"), "gradients", b_back, "gradients",
                              fmt.gradients, b_store=b_store)
        x_store = fmt.activations if fmt.activations != fmt.wgrad[0] else None
        ops["wgrad"] = Op(index, "wgrad", K, N, M, fmt.wgrad[0], fmt.wgrad[1], _acc(fmt, "wgrad"),
                          "activations", "gradients", "gradients", fmt.gradients,
                          a_store=x_store)
    qat = fmt.quantisers
    act, grad = fmt.activations, fmt.gradients
    if layer.nongemm:  # A = B = C = activations; acc = the format the arithmetic runs at
        ops["ew_fwd"] = Op(index, "ew_fwd", 0, 0, 0, act, act, nongemm_arith(act, fmt.acc),
                           "activations", "activations", "activations", act)
    if layer.nongemm or (qat and layer.has_gemm):  # A = C = gradients, B = kept activations
        ops["ew_bwd"] = Op(index, "ew_bwd", 0, 0, 0, grad, act, nongemm_arith(grad, fmt.acc),
                           "gradients", "activations", "gradients", grad,
                           quant_masks=qat and layer.has_gemm)
    if layer.has_weights:
        target = fmt.master if fmt.master is not None else fmt.weights
        ops["update"] = Op(index, "update", 0, 0, 0, fmt.gradients, target, fmt.update_arith,
                           "gradients", "master_copy" if fmt.master else "weights", "weights",
                           fmt.weights, elems=layer.params)
    return ops


def nongemm_arith(tensor: Fmt, acc: Fmt) -> Fmt:
    """Format non-GEMM arithmetic runs at: fp32 on floating-point tensors; on integer tensors
    the accumulator's integer width (the ops run on the accumulator output before it is
    requantised, as in I-BERT's integer-only kernels with int32 intermediates)."""
    return FP32 if tensor.is_float else Fmt(acc.bits, False)


def _acc(fmt: LayerFormats, kind: str) -> Fmt:
    """Backward GEMMs in floating point accumulate in fp32 (fp16/bf16 multiply, fp32
    accumulate, as in mixed-precision training); integer ones at the trace's acc."""
    a, _ = getattr(fmt, kind)
    return Fmt(32, True, a.packing) if a.is_float else fmt.acc


def step_schedule(ops_by_layer: list[dict[str, Op]]) -> list[Op]:
    """Ops of one step in execution order."""
    order = [o[k] for o in ops_by_layer for k in ("fwd", "ew_fwd") if k in o]
    for o in reversed(ops_by_layer):
        order += [o[k] for k in ("ew_bwd", "dgrad", "wgrad", "update") if k in o]
    return order


def stored_input_elems(layer: LayerSpec) -> int:
    """Elements of the layer's input X (and of dX) as stored: the real tensor, not its im2col
    view (`act_elems` when smaller than M*K)."""
    return min(layer.m * layer.k, layer.act_elems) or layer.m * layer.k


def stored_weight_elems(layer: LayerSpec) -> int:
    """Elements of W (and of dW) as stored: all parameters (grouped convs fold groups into M, so
    K*N is one group's), or K*N for a layer whose second operand is an activation."""
    return max(layer.params, layer.k * layer.n) if layer.has_weights else layer.k * layer.n
