"""Layers without parameters or GEMM: `ReLU`, `Flatten`, `MaxPool2d`, `GlobalAvgPool`."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import NonGemmWork
from rctsim.train.module import Module


class ReLU(Module):
    """`max(x, 0)`."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Zero the negative entries."""
        if self.training:
            self.elems = x.size
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Pass the gradient where the input was positive."""
        return dy * self.mask

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """One ReLU over the last training input."""
        return (NonGemmWork(kind="relu", elems=getattr(self, "elems", 0)),)


class Flatten(Module):
    """`x[B, ...] -> x[B, -1]`."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Keep the batch axis, flatten the rest."""
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Restore the input shape."""
        return dy.reshape(self.shape)


class MaxPool2d(Module):
    """Non-overlapping max pooling of NHWC tensors over `(ph, pw)` windows (remainder cropped)."""

    def __init__(self, size: tuple[int, int]):
        self.size = size

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Maximum of each window; the gradient goes to its first maximum."""
        ph, pw = self.size
        b, h, w, c = x.shape
        ho, wo = h // ph, w // pw
        self.x_shape = x.shape
        win = (x[:, : ho * ph, : wo * pw].reshape(b, ho, ph, wo, pw, c)
               .transpose(0, 1, 3, 5, 2, 4).reshape(b, ho, wo, c, ph * pw))
        self.arg = win.argmax(axis=-1)[..., None]
        if self.training:
            self.work = NonGemmWork(kind="maxpool", elems=x.size, out_elems=b * ho * wo * c,
                                    group=ph * pw)
        return np.take_along_axis(win, self.arg, axis=-1)[..., 0]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Gradient to each window's maximum, zero elsewhere."""
        ph, pw = self.size
        b, ho, wo, c = dy.shape
        grad = np.zeros((b, ho, wo, c, ph * pw), dtype=dy.dtype)
        np.put_along_axis(grad, self.arg, dy[..., None], axis=-1)
        dx = np.zeros(self.x_shape, dtype=dy.dtype)
        dx[:, : ho * ph, : wo * pw] = (grad.reshape(b, ho, wo, c, ph, pw)
                                       .transpose(0, 1, 4, 2, 5, 3).reshape(b, ho * ph, wo * pw, c))
        return dx

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """The pool over the last training input."""
        work = getattr(self, "work", None)
        return (work,) if work is not None else ()


class GlobalAvgPool(Module):
    """Mean over the spatial axes: `x[B, H, W, C] -> y[B, C]`."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Average each channel."""
        self.x_shape = x.shape
        if self.training:
            b, h, w, c = x.shape
            self.work = NonGemmWork(kind="avgpool", elems=x.size, out_elems=b * c, group=h * w)
        return x.mean(axis=(1, 2))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Spread the gradient evenly."""
        b, h, w, c = self.x_shape
        return np.broadcast_to(dy[:, None, None, :] / (h * w), self.x_shape).copy()

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """The pool over the last training input."""
        work = getattr(self, "work", None)
        return (work,) if work is not None else ()
