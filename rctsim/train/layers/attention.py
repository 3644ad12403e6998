"""Causal multi-head self-attention; its two activation-by-activation products are table layers."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import LayerSpec, NonGemmWork
from rctsim.train.layers.dense import Linear
from rctsim.train.module import Module, TableLayer, attach


class AttentionMatmul(TableLayer):
    """Batched product of two activations `c = a · b`; no weights (`attention_matmul`)."""

    kind = "attention_matmul"

    def multiply(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """`a[..., m, k] · b[..., k, n]`; M = (batch dims)·m, K = k, N = n."""
        self.a, self.b = self.quant.act(a), self.quant.act(b)
        m, k = a.shape[-2:]
        self.gemm_mnk = (int(np.prod(a.shape[:-2])) * m, b.shape[-1], k)
        self.kept_elems = a.size + b.size
        return self.a @ self.b

    def backward_pair(self, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradients w.r.t. both operands."""
        dc = self.quant.grad(dc)
        return dc @ np.swapaxes(self.b, -1, -2), np.swapaxes(self.a, -1, -2) @ dc


class SelfAttention(Module):
    """`x[B, T, d]`: qkv projection, scores `Q·Kᵀ/√dh`, causal softmax, context `A·V`, output."""

    def __init__(self, name: str, dim: int, heads: int, rng: np.random.Generator):
        self.qkv = Linear(f"{name}.qkv", dim, 3 * dim, rng, gain=1.0)
        self.scores = AttentionMatmul(f"{name}.scores")
        self.context = AttentionMatmul(f"{name}.context")
        self.proj = Linear(f"{name}.proj", dim, dim, rng, gain=1.0)
        self.heads = heads

    def children(self) -> list[Module]:
        """The four table layers, in execution order."""
        return [self.qkv, self.scores, self.context, self.proj]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Attend over earlier positions only."""
        b, steps, dim = x.shape
        dh = dim // self.heads
        self.scale = 1.0 / float(np.sqrt(dh))
        qkv = self.qkv.forward(x).reshape(b, steps, 3, self.heads, dh).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv
        s = self.scores.multiply(q * self.scale, np.swapaxes(k, -1, -2))
        s = np.where(np.tril(np.ones((steps, steps), dtype=bool)), s, -np.inf)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        self.probs = e / e.sum(axis=-1, keepdims=True)
        if self.training:
            self.sizes = (q.size, s.size, steps)
        ctx = self.context.multiply(self.probs, v)
        return self.proj.forward(ctx.transpose(0, 2, 1, 3).reshape(b, steps, dim))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Reverse of `forward`, through the softmax Jacobian."""
        b, steps, dim = dy.shape
        dh = dim // self.heads
        dctx = self.proj.backward(dy).reshape(b, steps, self.heads, dh).transpose(0, 2, 1, 3)
        dprobs, dv = self.context.backward_pair(dctx)
        p = self.probs
        ds = p * (dprobs - (dprobs * p).sum(axis=-1, keepdims=True))
        dq, dkt = self.scores.backward_pair(ds)
        dqkv = np.stack([dq * self.scale, np.swapaxes(dkt, -1, -2), dv])
        return self.qkv.backward(dqkv.transpose(1, 3, 0, 2, 4).reshape(b, steps, 3 * dim))

    def describe(self, preds: tuple[str, ...], out: list[LayerSpec]) -> tuple[str, ...]:
        """qkv -> scores -> context (also fed by qkv's V) -> proj."""
        qkv = self.qkv.describe(preds, out)
        q_elems, s_elems, steps = getattr(self, "sizes", (0, 0, 1))
        attach(out, qkv, (NonGemmWork(kind="mul", elems=q_elems),))  # Q scaled by 1/sqrt(dh)
        scores = self.scores.describe(qkv, out)
        attach(out, scores, (NonGemmWork(kind="softmax", elems=s_elems, group=steps),))
        context = self.context.describe(scores + qkv, out)
        return self.proj.describe(context, out)
