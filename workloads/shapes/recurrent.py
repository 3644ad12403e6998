"""An LSTM language model like Zaremba et al. 2014 "medium" (2 x 650 units, 35 steps, 10k words)."""

from __future__ import annotations

from rctsim.trace.model import LayerSpec
from workloads.shapes.builder import ShapeBuilder, check_positive


def lstm_lm(batch_size: int, *, seq_len: int = 35, vocab: int = 10000, hidden: int = 650,
            layers: int = 2) -> list[LayerSpec]:
    """Word embedding, `layers` stacked LSTMs (one bias per gate), linear decoder over the vocab."""
    check_positive("lstm_lm", seq_len=seq_len, vocab=vocab, hidden=hidden, layers=layers)
    nb = ShapeBuilder(model="lstm_lm", batch_size=batch_size)
    x = nb.embedding("embedding", nb.input("tokens", (seq_len,)), vocab=vocab, dim=hidden)
    for i in range(layers):
        x = nb.lstm(f"lstm.{i}", x, hidden=hidden)
    nb.elementwise(nb.linear("decoder", x, out_features=vocab), "loss", keep=None)
    return nb.build()
