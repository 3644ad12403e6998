"""Count non-GEMM work: primitive ops (add, multiply, compare) and extra buffer passes per kind.

Counting only (energy is `hwmodels.elementwise`, pricing `rctsim.pricing`). Two sources of work:

- what the trace records per layer (`LayerSpec.nongemm`: normalisation, activations, pooling,
  residual adds, softmax, loss), counted forward and backward from each kind's formula below;
- what the policy implies per layer with weights, derived from the policy, the parameters and the
  bits (not in the trace): QAT's fake quantisation of the fp32 master copy and its
  straight-through masks, RCT/APT's stochastic rounding of every updated weight with its random
  bits and the gradient statistics their controller computes.

Every count and assumption is listed, with its source, in docs/model.md ("Non-GEMM work").
Transcendental functions and divisions are stated as counts of primitive ops (`EXP`, `RECIP`,
`RSQRT`, `ERF`) so that every op is priced from the energy table's add and multiply.
"""

from __future__ import annotations

from dataclasses import dataclass

from rctsim.trace.model import NonGemmWork


@dataclass(frozen=True)
class OpMix:
    """Counts of primitive ops: adds (and subtracts), multiplies, compares (and selects)."""

    add: float = 0.0
    mul: float = 0.0
    cmp: float = 0.0

    def __add__(self, other: OpMix) -> OpMix:
        return OpMix(self.add + other.add, self.mul + other.mul, self.cmp + other.cmp)

    def __mul__(self, times: float) -> OpMix:
        return OpMix(self.add * times, self.mul * times, self.cmp * times)

    __rmul__ = __mul__

    @property
    def total(self) -> float:
        """All primitive ops (each takes one lane-cycle on the unit)."""
        return self.add + self.mul + self.cmp


ZERO = OpMix()
ADD, MUL, CMP = OpMix(add=1), OpMix(mul=1), OpMix(cmp=1)

EXP = OpMix(add=3, mul=4)
"""exp(x): I-BERT's integer exponential i-exp (Kim et al., ICML 2021): z = floor(-x/ln2) (1 mul),
p = x + z*ln2 (1 mul, 1 add), L(p) = a*(p + b)^2 + c (2 adds, 2 muls), then a shift by z
(counted as 1 add)."""
LOG = EXP
"""log(p) of the loss: assumption, one polynomial evaluation costing as much as `EXP`."""
ERF = OpMix(add=2, mul=4, cmp=2)
"""erf(x/sqrt 2) as in I-BERT's integer GELU, i-GELU (Kim et al., ICML 2021): x/sqrt2 (1 mul), sign
and clip of |x| (2 compares), L = a*(clip + b)^2 + c (2 adds, 2 muls), times the sign (1 mul)."""
RECIP = OpMix(add=2, mul=4)
"""1/d: Newton-Raphson x <- x*(2 - d*x), 2 iterations (2 muls, 1 add each) from an 8-bit table
seed (quadratic convergence: 8 -> 16 -> 32 bits); assumption, the seed lookup is not counted."""
RSQRT = OpMix(add=2, mul=6)
"""1/sqrt(v): Newton-Raphson y <- y*(3 - v*y^2)/2, 2 iterations (3 muls, 1 add each; the /2 is a
shift) from an 8-bit table seed; assumption as for `RECIP`."""
SIGMOID = EXP + ADD + RECIP
"""1/(1 + exp(-x)): `EXP`, one add, one `RECIP` per element."""
NORM_ROW = OpMix(add=2, mul=3) + RSQRT
"""Per normalised row: mean = sum/g (1 mul), E[x^2] = sumsq/g (1 mul), var = E[x^2] - mean^2
(1 mul, 1 add), + eps (1 add), `RSQRT`."""
BN_RUNNING = OpMix(add=4, mul=2)
"""BatchNorm only, per channel: running mean and variance r += m*(s - r) (2 adds, 1 mul each)."""

XORSHIFT_OPS_PER_WORD = 3
"""A xorshift generator makes one 32-bit random word with three shift-xor steps (Marsaglia,
"Xorshift RNGs", J. Stat. Softw. 8(14), 2003: xorshift32, x ^= x<<13; x ^= x>>17; x ^= x<<5)."""
RANDOM_WORD_BITS = 32
"""Bits of one xorshift32 output."""
DEFAULT_INTERVAL = 50
"""RCT/APT decision interval when a trace does not record `interval` (docs/policies.md)."""


@dataclass(frozen=True)
class Passes:
    """Elements one op moves through the global buffer beyond its fusion with the producer."""

    act_read: float = 0.0
    """Elements of activations read (the op's input or the tensor kept for backward)."""
    act_write: float = 0.0
    """Elements of activations written."""
    grad_read: float = 0.0
    """Elements of gradients read."""
    grad_write: float = 0.0
    """Elements of gradients written."""

    def __add__(self, other: Passes) -> Passes:
        return Passes(self.act_read + other.act_read, self.act_write + other.act_write,
                      self.grad_read + other.grad_read, self.grad_write + other.grad_write)


def forward_ops(w: NonGemmWork) -> OpMix:
    """Primitive ops of the forward pass of one recorded op."""
    n, out, g = w.elems, w.outputs, w.group
    rows = n / g
    if w.kind == "relu":
        return CMP * n
    if w.kind == "gelu":  # x * (1 + erf(x/sqrt2)) / 2; the /2 is a shift
        return (ERF + ADD + MUL) * n
    if w.kind == "sigmoid":
        return SIGMOID * n
    if w.kind == "tanh":  # 2*sigmoid(2x) - 1
        return (SIGMOID + MUL * 2 + ADD) * n
    if w.kind == "mul":
        return MUL * n
    if w.kind == "add":
        return ADD * (n * (g - 1))
    if w.kind == "softmax":  # max (1 cmp), x - max (1 add), exp, sum (1 add), * 1/sum (1 mul)
        return (CMP + ADD * 2 + EXP + MUL) * n + RECIP * rows
    if w.kind == "loss":  # softmax, then per row -log p[target] accumulated
        return (CMP + ADD * 2 + EXP + MUL) * n + (RECIP + LOG + ADD) * rows
    if w.kind in ("batchnorm", "layernorm"):
        # per element: sum (1 add), square and sum (1 mul, 1 add), (x - mean) * inv_std
        # (1 add, 1 mul), * gamma + beta (1 mul, 1 add)
        per_row = NORM_ROW + (BN_RUNNING if w.kind == "batchnorm" else ZERO)
        return OpMix(add=4, mul=3) * n + per_row * rows
    if w.kind == "maxpool":
        return CMP * (out * (g - 1))
    if w.kind == "avgpool":
        return ADD * (out * (g - 1)) + MUL * out
    raise ValueError(f"unknown non-GEMM kind {w.kind!r}")


def backward_ops(w: NonGemmWork) -> OpMix:
    """Primitive ops of the backward pass of one recorded op."""
    n, out, g = w.elems, w.outputs, w.group
    rows = n / g
    if w.kind == "relu":  # dy where the kept output is positive: one select
        return CMP * n
    if w.kind == "gelu":  # dy * (Phi(x) + x*phi(x)), phi = exp(-x^2/2)/sqrt(2 pi)
        phi = MUL * 2 + EXP + MUL  # x^2, * -1/2, exp, * 1/sqrt(2 pi)
        return (ERF + ADD + phi + MUL + ADD + MUL) * n
    if w.kind == "sigmoid":  # dy * s * (1 - s)
        return (ADD + MUL * 2) * n
    if w.kind == "tanh":  # dy * (1 - t^2)
        return (ADD + MUL * 2) * n
    if w.kind == "mul":
        return MUL * n
    if w.kind == "add":  # the gradients of the branches meet again at the fork: one add each
        return ADD * (n * (g - 1))
    if w.kind == "softmax":  # dx = y * (dy - sum(dy * y))
        return (MUL * 2 + ADD * 2) * n
    if w.kind == "loss":  # (p - onehot) / rows: one multiply per element, one subtract per row
        return MUL * n + ADD * rows
    if w.kind in ("batchnorm", "layernorm"):
        # dbeta (1 add), dgamma (1 mul, 1 add), dxhat = dy*gamma (1 mul), sum dxhat (1 add),
        # sum dxhat*xhat (1 mul, 1 add), inv_std*(dxhat - a - xhat*b) (2 adds, 2 muls);
        # per row a = sum/g and b = sum/g (2 muls)
        return OpMix(add=6, mul=5) * n + MUL * (2 * rows)
    if w.kind == "maxpool":  # scatter-add of dy into the argmax positions
        return ADD * out
    if w.kind == "avgpool":  # dy / g, broadcast
        return MUL * out
    raise ValueError(f"unknown non-GEMM kind {w.kind!r}")


def forward_passes(w: NonGemmWork) -> Passes:
    """Buffer traffic of the forward pass beyond the producer's fused output write."""
    n, out, g = w.elems, w.outputs, w.group
    if w.kind in ("relu", "gelu", "sigmoid", "tanh", "mul"):
        return Passes()  # fused into the producer's write
    if w.kind == "add":
        return Passes(act_read=n * (g - 1))  # the other operands
    if w.kind == "softmax":  # max fused; exp pass (read x, write e), scale pass (read e, write y)
        return Passes(act_read=2 * n, act_write=2 * n)
    if w.kind == "loss":  # as softmax, the last pass writes the logits' gradient
        return Passes(act_read=2 * n, act_write=n, grad_write=n)
    if w.kind in ("batchnorm", "layernorm"):  # statistics fused; normalise pass
        return Passes(act_read=n, act_write=n)
    if w.kind in ("maxpool", "avgpool"):
        return Passes(act_read=n, act_write=out)
    raise ValueError(f"unknown non-GEMM kind {w.kind!r}")


def backward_passes(w: NonGemmWork) -> Passes:
    """Buffer traffic of the backward pass beyond the fused write of the incoming gradient."""
    n, out, g = w.elems, w.outputs, w.group
    if w.kind in ("relu", "gelu", "sigmoid", "tanh"):
        return Passes(act_read=n)  # the kept tensor the derivative needs
    if w.kind == "mul":
        return Passes()
    if w.kind == "add":
        return Passes(grad_read=n * (g - 1))  # the other branches' gradients at the fork
    if w.kind == "softmax":  # sum(dy*y) reads y; then read dy and y, write dx
        return Passes(act_read=2 * n, grad_read=n, grad_write=n)
    if w.kind == "loss":
        return Passes()  # the gradient was written by the forward pass
    if w.kind in ("batchnorm", "layernorm"):  # sums read xhat; then read dy and xhat, write dx
        return Passes(act_read=2 * n, grad_read=n, grad_write=n)
    if w.kind in ("maxpool", "avgpool"):
        return Passes(grad_read=out, grad_write=n)
    raise ValueError(f"unknown non-GEMM kind {w.kind!r}")


# ------------------------------------------------------------------ work the policy implies

FAKE_QUANT = OpMix(add=1, mul=1, cmp=3)
"""QAT, per weight per iteration: max|w| (1 compare), w * (1/step) (1 mul), round to nearest
(1 add), clip to [-qmax, qmax] (2 compares; their result is the straight-through mask)."""
FAKE_QUANT_TENSOR = RECIP + MUL
"""QAT, per weight tensor per iteration: step = max|w| / qmax (a reciprocal and a multiply)."""
STE_SELECT = CMP
"""QAT, per gradient element of a quantised tensor: dy where the mask bit is set (one select)."""
SR_ROUND = OpMix(add=2, cmp=2)
"""RCT/APT, per updated weight: add the random fraction (1 add; the step is a power of two, so
u = delta/step is a shift), add to the integer weight (1 add), clip (2 compares)."""
GAVG_STEP = OpMix(add=1, cmp=1)
"""RCT/APT, per updated weight per iteration: |u| (1 compare-and-negate) accumulated (1 add)."""
SATURATION_SCAN = OpMix(add=1, cmp=2)
"""RCT/APT, per weight per decision interval: |q| (1 compare), |q| >= qmax (1 compare), count it
(1 add)."""
DECISION = RECIP + MUL + CMP * 4
"""RCT/APT, per layer per interval: Gavg = sum/elems (a reciprocal and a multiply), two threshold
compares, the saturation fraction against its bound (a multiply folded into the compare, 2)."""


def sr_random_bits(update_bits: int, weight_bits: int) -> int:
    """Random bits per stochastically rounded weight: the update is computed at `update_bits`
    with its binary point at the weight's MSB, so `update_bits - weight_bits` bits fall below
    the weight's LSB and are rounded off, one random bit each (assumption, docs/model.md)."""
    return max(update_bits - weight_bits, 0)


def random_bit_ops(bits: float) -> float:
    """Primitive ops (priced as 32-bit adds) that generate `bits` random bits with xorshift32."""
    return bits * XORSHIFT_OPS_PER_WORD / RANDOM_WORD_BITS
