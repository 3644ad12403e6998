"""Next-character language models on token windows `[B, T]`: `lstm` and `transformer`."""

from __future__ import annotations

import numpy as np

from rctsim.train.layers import (
    LSTM,
    Embedding,
    LayerNorm,
    Linear,
    PositionalEmbedding,
    ReLU,
    Residual,
    SelfAttention,
)
from rctsim.train.module import Module, Sequential


def lstm(seq_len: int, vocab: int, rng: np.random.Generator, dim: int = 32,
         hidden: int = 128) -> Module:
    """Character embedding, one LSTM layer, linear read-out at every step."""
    return Sequential(Embedding("embed", vocab, dim, rng), LSTM("lstm", dim, hidden, rng),
                      Linear("head", hidden, vocab, rng, gain=1.0))


def transformer(seq_len: int, vocab: int, rng: np.random.Generator, dim: int = 64,
                heads: int = 4, blocks: int = 2) -> Module:
    """Token + position embeddings, pre-norm causal attention/MLP blocks, norm, read-out."""
    layers: list[Module] = [Embedding("embed", vocab, dim, rng),
                            PositionalEmbedding("pos", seq_len, dim, rng)]
    for i in range(blocks):
        name = f"block{i + 1}"
        layers.append(Residual(Sequential(LayerNorm(f"{name}.ln1", dim),
                                          SelfAttention(f"{name}.attn", dim, heads, rng))))
        layers.append(Residual(Sequential(LayerNorm(f"{name}.ln2", dim),
                                          Linear(f"{name}.mlp1", dim, 4 * dim, rng), ReLU(),
                                          Linear(f"{name}.mlp2", 4 * dim, dim, rng, gain=1.0))))
    return Sequential(*layers, LayerNorm("ln_f", dim), Linear("head", dim, vocab, rng, gain=1.0))
