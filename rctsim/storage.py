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


PACKINGS: tuple[str, ...] = ("packed", "byte", "pow2")
"""How elements are stored (hardware `packing`): bit-tight, whole bytes, 8/16/32-bit containers."""


def stored_bytes(bits: int, packing: str) -> float:
    """Bytes one element of `bits` occupies in memory under a packing (docs/model.md §1):
    packed bits/8; byte ceil(bits/8); pow2 the smallest of 1, 2, 4 (, 8 ...) bytes that holds it."""
    if packing == "packed":
        return bits / 8
    whole = -(-bits // 8)
    if packing == "byte":
        return float(whole)
    if packing == "pow2":
        return float(1 << (whole - 1).bit_length())
    raise InputError("hardware", "packing", f"unknown packing {packing!r}", ", ".join(PACKINGS))


@dataclass(frozen=True)
class Fmt:
    """A number format: `bits` wide, integer or IEEE float, stored under a packing."""

    bits: int
    is_float: bool = False
    packing: str = "packed"
    """How it is stored in memory (`PACKINGS`)."""

    @property
    def bytes(self) -> float:
        """Bytes per element in memory (`stored_bytes`; fractional only when packed)."""
        return stored_bytes(self.bits, self.packing)

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


def layer_formats(policy: str, bits, *, opt_state_bits: int | None = None,
                  packing: str = "packed") -> LayerFormats:
    """Formats for one layer given the policy and its recorded `(w, a, g, acc)` bits.

    `opt_state_bits` is the optimiser state precision the trace declares (policy param
    `opt_state_bits`); when absent, fp32 for fp32/qat and the layer's gradient bits for rct/apt.
    `packing` is the hardware's storage packing (every format is stored under it).
    """
    w, a, g, acc = (int(b) for b in bits)
    fp32 = Fmt(32, True, packing)

    def _int(b: int) -> Fmt:
        return Fmt(int(b), False, packing)

    state = _state_format(opt_state_bits, default=fp32 if policy in ("fp32", "qat") else _int(g),
                          packing=packing)
    if policy == "fp32":
        return LayerFormats(fwd=(fp32, fp32), dgrad=(fp32, fp32), wgrad=(fp32, fp32), acc=fp32,
                            weights=fp32, master=None, activations=fp32, gradients=fp32,
                            optimizer=state, update_arith=fp32)
    if policy == "qat":
        return LayerFormats(fwd=(_int(a), _int(w)), dgrad=(fp32, fp32), wgrad=(fp32, fp32),
                            acc=_int(acc), weights=_int(w), master=fp32, activations=_int(a),
                            gradients=fp32, optimizer=state, update_arith=fp32)
    if policy in ("rct", "apt"):
        arith = fp32 if state.is_float else _int(max(w, state.bits))
        return LayerFormats(fwd=(_int(a), _int(w)), dgrad=(_int(g), _int(w)),
                            wgrad=(_int(a), _int(g)), acc=_int(acc), weights=_int(w), master=None,
                            activations=_int(a), gradients=_int(g), optimizer=state,
                            update_arith=arith)
    raise InputError("<policy>", "policy", f"unknown policy {policy!r}", ", ".join(POLICIES))


def _state_format(opt_state_bits: int | None, *, default: Fmt, packing: str = "packed") -> Fmt:
    """Optimiser state: fp32 at 32 bits or more; narrower state is fixed point of that width
    (an accelerator keeps momentum in fixed point; the bundled trainer's fp16 momentum has the
    same storage); the policy's default when the trace does not say."""
    if not opt_state_bits:
        return default
    return Fmt(32, True, packing) if opt_state_bits >= 32 else Fmt(int(opt_state_bits), False,
                                                                    packing)


BASELINE_BITS: dict[str, tuple[int, int, int, int]] = {
    "qat": (8, 8, 32, 32),
    "fp32": (32, 32, 32, 32),
}
"""Default (w, a, g, acc) bits of a counterfactual baseline (concepts §2: QAT default 8/8)."""
