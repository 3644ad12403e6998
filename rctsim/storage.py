"""Policy semantics: which number formats each op uses and which tensors each policy stores.

concepts §3 defines the four policies. This module turns a policy name and one layer's recorded
bits (`w, a, g, acc`) into operand formats for the three GEMMs and the storage precision of every
tensor class. No hardware numbers live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from rctsim.baselines import Baseline
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
    bfloat: bool = False
    """A 16-bit float in bfloat16 layout (8 exponent bits) rather than IEEE binary16."""

    @cached_property
    def bytes(self) -> float:
        """Bytes per element in memory (`stored_bytes`; fractional only when packed; worked
        out once per Fmt: it is frozen)."""
        return stored_bytes(self.bits, self.packing)

    def label(self) -> str:
        """`int8`, `fp32`, `bf16`, ..."""
        if self.bfloat:
            return f"bf{self.bits}"
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
    quantisers: bool = False
    """The forward pass quantises weights and activations (QAT): its backward applies the
    quantisers' straight-through masks and dgrad may read the quantised copy."""


def layer_formats(policy: str, bits, *, opt_state_bits: int | None = None,
                  packing: str = "packed", opt_state: str | None = None,
                  baseline: Baseline | None = None) -> LayerFormats:
    """Formats for one layer given the policy and its recorded `(w, a, g, acc)` bits.

    `opt_state_bits` is the optimiser state precision the trace declares (policy param
    `opt_state_bits`); when absent, DEFAULT_OPT_STATE for every policy (docs/model.md,
    "Optimiser state"). `packing` is the hardware's storage packing (every format is stored
    under it). `opt_state` (OPT_STATES), when given, overrides both. `baseline`, when given,
    decides the formats instead of `policy` and `bits` (a counterfactual baseline,
    rctsim.baselines).
    """
    w, a, g, acc = bits
    return _layer_formats(policy, int(w), int(a), int(g), int(acc), opt_state_bits, packing,
                          opt_state, baseline)


@lru_cache(maxsize=4096)
def _layer_formats(policy: str, w: int, a: int, g: int, acc: int, opt_state_bits: int | None,
                   packing: str, opt_state: str | None,
                   baseline: Baseline | None) -> LayerFormats:
    """`layer_formats` of one layer's bits (a pure function of its arguments, all immutable:
    worked out once per process for each distinct set, errors raised each time)."""
    if baseline is not None:
        return baseline_formats(baseline, packing=packing, opt_state=opt_state,
                                opt_state_bits=opt_state_bits)
    fp32 = Fmt(32, True, packing)

    def _int(b: int) -> Fmt:
        return Fmt(int(b), False, packing)

    if opt_state is not None:
        state = opt_state_format(opt_state, packing=packing,
                                 weights=fp32 if policy in ("fp32", "qat") else _int(w))
    else:
        state = _state_format(opt_state_bits, default=default_state_format(packing),
                              packing=packing)
    if policy == "fp32":
        return LayerFormats(fwd=(fp32, fp32), dgrad=(fp32, fp32), wgrad=(fp32, fp32), acc=fp32,
                            weights=fp32, master=None, activations=fp32, gradients=fp32,
                            optimizer=state, update_arith=fp32)
    if policy == "qat":
        return LayerFormats(fwd=(_int(a), _int(w)), dgrad=(fp32, fp32), wgrad=(fp32, fp32),
                            acc=_int(acc), weights=_int(w), master=fp32, activations=_int(a),
                            gradients=fp32, optimizer=state, update_arith=fp32,
                            quantisers=True)
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


DEFAULT_OPT_STATE = "fp32"
"""Optimiser-state format of every policy whose trace records none (counterfactual baselines
included): fp32, the state PyTorch's optimisers keep for fp32 parameters and that
mixed-precision training keeps beside its fp32 master (Micikevicius et al., ICLR 2018).
docs/model.md, "Optimiser state", says why and what it means for integer-only hardware."""


def default_state_format(packing: str = "packed") -> Fmt:
    """DEFAULT_OPT_STATE as a Fmt under a packing."""
    return opt_state_format(DEFAULT_OPT_STATE, weights=Fmt(32, True, packing), packing=packing)


OPT_STATES: tuple[str, ...] = ("fp32", "bf16", "int16", "int8", "weights")
"""Optimiser-state formats a run may name (`--opt-state`): `weights` stores each state value in
the format of the weight copy the update writes (the fp32 master where there is one)."""


def opt_state_format(choice: str, *, weights: Fmt, packing: str = "packed") -> Fmt:
    """The optimiser state's format for an OPT_STATES choice (InputError otherwise)."""
    if choice == "fp32":
        return Fmt(32, True, packing)
    if choice == "bf16":
        return Fmt(16, True, packing, bfloat=True)
    if choice in ("int16", "int8"):
        return Fmt(int(choice[3:]), False, packing)
    if choice == "weights":
        return weights
    raise InputError("command line", "--opt-state", repr(choice), ", ".join(OPT_STATES))


def float_fmt(name: str, packing: str = "packed") -> Fmt:
    """`fp32`, `fp16` or `bf16` as a Fmt."""
    return Fmt(32 if name == "fp32" else 16, True, packing, bfloat=name == "bf16")


def baseline_formats(b: Baseline, *, packing: str = "packed", opt_state: str | None = None,
                     opt_state_bits: int | None = None) -> LayerFormats:
    """Formats of a counterfactual baseline (docs/policies.md, "Baselines").

    Integer forward (QAT family): w_q x a_q-bit MACs into a 32-bit accumulator, the w_q-bit
    copy beside the fp32 master. Float forward (fp32, mixed-*): every GEMM at that format, fp32
    accumulation; mixed keeps the fp16/bf16 working copy beside the fp32 master. Backward: at
    the float format with fp32 accumulation, or g_q-bit integer gradients with a 32-bit
    accumulator. The update always runs in fp32 on the fp32 copy.
    """
    fp32 = Fmt(32, True, packing)

    def _int(bits: int) -> Fmt:
        return Fmt(bits, False, packing)

    if b.forward == "int":
        x, w, acc = _int(b.a_q), _int(b.w_q), _int(32)
    else:
        x = w = float_fmt(b.forward, packing)
        acc = fp32
    if b.backward == "int":
        g = _int(b.g_q)
        dgrad, wgrad = (g, w), (x, g)
    else:
        g = float_fmt(b.backward, packing)
        dgrad, wgrad = (g, g), (g, g)
    master = fp32 if b.master else None
    target = master or w
    if opt_state is not None:
        state = opt_state_format(opt_state, packing=packing, weights=target)
    else:
        state = _state_format(opt_state_bits, default=default_state_format(packing),
                              packing=packing)
    return LayerFormats(fwd=(x, w), dgrad=dgrad, wgrad=wgrad, acc=acc, weights=w, master=master,
                        activations=x, gradients=g, optimizer=state, update_arith=fp32,
                        quantisers=b.forward == "int")


def mac_float_format(a: Fmt, b: Fmt) -> str | None:
    """The float format a GEMM's MACs run at: its widest float operand (`bf16` for a 16-bit
    bfloat16 operand), None for an integer GEMM."""
    floats = [f for f in (a, b) if f.is_float]
    if not floats:
        return None
    widest = max(f.bits for f in floats)
    if widest == 16 and any(f.bfloat for f in floats if f.bits == 16):
        return "bf16"
    return f"fp{widest}"
