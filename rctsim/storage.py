"""Policy semantics: which number formats each op uses and which tensors each policy stores.

concepts §3 defines the four policies. This module turns a policy name and one layer's recorded
bits (`w, a, g, acc`) into operand formats for the three GEMMs and the storage precision of every
tensor class. No hardware numbers live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rctsim.errors import InputError
from rctsim.trace.model import POLICIES

TENSORS: tuple[str, ...] = (
    "weights",
    "master_copy",
    "optimizer",
    "activations",
    "gradients",
    "outputs",
)
"""Tensor classes that traffic and memory are broken down by. `outputs` are GEMM results and
partial sums in flight between layers; `gradients` are dY, dX and dW."""

PARAM_TENSORS: tuple[str, ...] = ("weights", "master_copy")
"""Tensor classes whose movement is "parameter movement" (docs/concepts.md §2)."""


@dataclass(frozen=True)
class Fmt:
    """A number format: `bits` wide, integer or IEEE float."""

    bits: int
    is_float: bool = False

    @property
    def bytes(self) -> float:
        """Bytes per element (fractional for sub-byte integers, which are stored packed)."""
        return self.bits / 8

    def label(self) -> str:
        """`int8`, `fp32`, ..."""
        return f"{'fp' if self.is_float else 'int'}{self.bits}"


FP32 = Fmt(32, True)


@dataclass(frozen=True)
class LayerFormats:
    """Every format one layer uses in one phase under one policy."""

    fwd: tuple[Fmt, Fmt]
    """(X, W) operands of the forward GEMM."""
    dgrad: tuple[Fmt, Fmt]
    """(dY, W) operands of the input-gradient GEMM."""
    wgrad: tuple[Fmt, Fmt]
    """(X, dY) operands of the weight-gradient GEMM."""
    acc: Fmt
    """Accumulator / partial-sum format."""
    weights: Fmt
    """The weight copy the forward pass reads (quantised under qat/rct/apt)."""
    master: Fmt | None
    """The fp32 master copy (qat only)."""
    activations: Fmt
    """Activations kept for the backward pass and passed between layers."""
    gradients: Fmt
    """Activation and weight gradients."""
    optimizer: Fmt
    """Optimiser state (momentum) elements."""
    update_arith: Fmt
    """Arithmetic the update runs in."""


def _int(bits: int) -> Fmt:
    return Fmt(int(bits), False)


def layer_formats(policy: str, bits, *, opt_state_bits: int | None = None) -> LayerFormats:
    """Formats for one layer given the policy and its recorded `(w, a, g, acc)` bits.

    `opt_state_bits` is the optimiser state precision the trace declares (policy param
    `opt_state_bits`); when absent, fp32 for fp32/qat and the layer's gradient bits for rct/apt.
    """
    w, a, g, acc = (int(b) for b in bits)
    state = _state_format(opt_state_bits, default=FP32 if policy in ("fp32", "qat") else _int(g))
    if policy == "fp32":
        return LayerFormats(fwd=(FP32, FP32), dgrad=(FP32, FP32), wgrad=(FP32, FP32), acc=FP32,
                            weights=FP32, master=None, activations=FP32, gradients=FP32,
                            optimizer=state, update_arith=FP32)
    if policy == "qat":
        return LayerFormats(fwd=(_int(a), _int(w)), dgrad=(FP32, FP32), wgrad=(FP32, FP32),
                            acc=_int(acc), weights=_int(w), master=FP32, activations=_int(a),
                            gradients=FP32, optimizer=state, update_arith=FP32)
    if policy in ("rct", "apt"):
        arith = FP32 if state.is_float else _int(max(w, state.bits))
        return LayerFormats(fwd=(_int(a), _int(w)), dgrad=(_int(g), _int(w)),
                            wgrad=(_int(a), _int(g)), acc=_int(acc), weights=_int(w), master=None,
                            activations=_int(a), gradients=_int(g), optimizer=state,
                            update_arith=arith)
    raise InputError("<policy>", "policy", f"unknown policy {policy!r}", ", ".join(POLICIES))


def _state_format(opt_state_bits: int | None, *, default: Fmt) -> Fmt:
    """Optimiser state: fp32 at 32 bits or more; narrower state is fixed point of that width
    (an accelerator keeps momentum in fixed point; the bundled trainer's fp16 momentum has the
    same storage); the policy's default when the trace does not say."""
    if not opt_state_bits:
        return default
    return FP32 if opt_state_bits >= 32 else _int(opt_state_bits)


BASELINE_BITS: dict[str, tuple[int, int, int, int]] = {
    "qat": (8, 8, 32, 32),
    "fp32": (32, 32, 32, 32),
}
"""Default (w, a, g, acc) bits of a counterfactual baseline (concepts §2: QAT default 8/8)."""
