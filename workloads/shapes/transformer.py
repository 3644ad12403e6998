"""A BERT-tiny-like Transformer encoder (Turc et al. 2019: L=2, H=128, A=2)."""

from __future__ import annotations

from rctsim.errors import InputError
from rctsim.trace.model import LayerSpec
from workloads.shapes.builder import ShapeBuilder, Tensor, check_positive

MAX_POSITIONS = 512
"""Rows of BERT's learnt position embedding (the longest sequence it takes)."""

TOKEN_TYPES = 2
"""Rows of BERT's segment (token type) embedding."""


def bert_tiny(batch_size: int, *, seq_len: int = 128, vocab: int = 30522, hidden: int = 128,
              layers: int = 2, heads: int = 2, ffn: int = 512,
              num_classes: int = 2) -> list[LayerSpec]:
    """BERT encoder (embeddings, `layers` post-LN blocks, tanh pooler) plus a linear classifier."""
    check_positive("bert_tiny", seq_len=seq_len, vocab=vocab, hidden=hidden, layers=layers,
                   heads=heads, ffn=ffn, num_classes=num_classes)
    if seq_len > MAX_POSITIONS:
        raise InputError("bert_tiny", "seq_len", f"{seq_len}", f"1..{MAX_POSITIONS}")
    if hidden % heads:
        raise InputError("bert_tiny", "heads", f"{heads} does not divide hidden={hidden}",
                         "a divisor of hidden")
    nb = ShapeBuilder(model="bert_tiny", batch_size=batch_size)
    x = _embeddings(nb, seq_len, vocab, hidden)
    for i in range(layers):
        x = _encoder_layer(nb, f"encoder.{i}", x, heads=heads, ffn=ffn)
    first = nb.reshape(x, "token0", (hidden,))
    pooled = nb.linear("pooler", first, out_features=hidden)
    pooled = nb.elementwise(pooled, "tanh", keep="output")
    nb.elementwise(nb.linear("classifier", pooled, out_features=num_classes), "loss", keep=None)
    return nb.build()


def _embeddings(nb: ShapeBuilder, seq_len: int, vocab: int, hidden: int) -> Tensor:
    """Word + position + token-type embeddings, summed, then LayerNorm."""
    words = nb.embedding("embeddings.word", nb.input("input_ids", (seq_len,)), vocab=vocab,
                         dim=hidden)
    position_ids = nb.input("position_ids", (seq_len,), batched=False)
    positions = nb.embedding("embeddings.position", position_ids, vocab=MAX_POSITIONS, dim=hidden)
    types = nb.embedding("embeddings.token_type", nb.input("token_type_ids", (seq_len,)),
                         vocab=TOKEN_TYPES, dim=hidden)
    return nb.norm("embeddings.norm", nb.add(words, positions, types), features=hidden)


def _encoder_layer(nb: ShapeBuilder, name: str, x: Tensor, *, heads: int, ffn: int) -> Tensor:
    """Self-attention + residual + LayerNorm, then GELU FFN + residual + LayerNorm."""
    hidden = x.shape[-1]
    query = nb.linear(f"{name}.attention.query", x, out_features=hidden)
    key = nb.linear(f"{name}.attention.key", x, out_features=hidden)
    value = nb.linear(f"{name}.attention.value", x, out_features=hidden)
    context = nb.attention(f"{name}.attention", query, key, value, heads=heads)
    y = nb.linear(f"{name}.attention.output", context, out_features=hidden)
    x = nb.norm(f"{name}.attention.norm", nb.add(y, x), features=hidden)
    y = nb.linear(f"{name}.intermediate", x, out_features=ffn)
    y = nb.elementwise(y, "gelu", keep="input")
    y = nb.linear(f"{name}.output", y, out_features=hidden)
    return nb.norm(f"{name}.output.norm", nb.add(y, x), features=hidden)
