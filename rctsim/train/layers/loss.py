"""Softmax cross-entropy over the last axis."""

from __future__ import annotations

import numpy as np


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray
                          ) -> tuple[float, np.ndarray, int]:
    """Mean loss over all positions, its gradient w.r.t. `logits`, and the number correct."""
    flat = logits.reshape(-1, logits.shape[-1])
    labels = targets.reshape(-1)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    loss = -float(log_probs[rows, labels].mean())
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1.0
    correct = int((flat.argmax(axis=1) == labels).sum())
    return loss, (grad / len(labels)).reshape(logits.shape), correct
