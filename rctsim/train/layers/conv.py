"""2-D convolution over NHWC tensors as an im2col GEMM (the view SCALE-Sim also uses)."""

from __future__ import annotations

import numpy as np

from rctsim.train.module import TableLayer
from rctsim.train.storage import Param


def im2col(xp: np.ndarray, kh: int, kw: int, stride: tuple[int, int]) -> np.ndarray:
    """Patches of padded `xp[B, H, W, C]` as `[B, Ho, Wo, kh, kw, C]`."""
    b, h, w, c = xp.shape
    sh, sw = stride
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    cols = np.empty((b, ho, wo, kh, kw, c), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
    return cols


def col2im(dcols: np.ndarray, padded_shape: tuple[int, ...], stride: tuple[int, int]
           ) -> np.ndarray:
    """Adjoint of `im2col`: sum patch gradients `[B, Ho, Wo, kh, kw, C]` back into the input."""
    _, ho, wo, kh, kw, _ = dcols.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += dcols[:, :, :, i, j]
    return dxp


class Conv2d(TableLayer):
    """Convolution `x[B, H, W, Cin] -> y[B, Ho, Wo, Cout]`; M = B·Ho·Wo, K = Cin·kh·kw, N = Cout."""

    kind = "conv"

    def __init__(self, name: str, c_in: int, c_out: int, kernel: tuple[int, int],
                 rng: np.random.Generator, *, stride: tuple[int, int] = (1, 1),
                 padding: tuple[int, int] = (0, 0), bias: bool = True):
        super().__init__(name)
        kh, kw = kernel
        std = np.sqrt(2.0 / (c_in * kh * kw))
        self.weight = Param(f"{name}.weight", (rng.standard_normal((kh, kw, c_in, c_out)) * std)
                            .astype(np.float32))
        self.bias = Param(f"{name}.bias", np.zeros(c_out, np.float32)) if bias else None
        self.stride = stride
        self.padding = padding

    def own_params(self) -> list[Param]:
        """Kernel (and bias)."""
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Pad, gather patches, one GEMM."""
        kh, kw, c_in, c_out = self.weight.shape
        ph, pw = self.padding
        self.x_shape = x.shape
        xq = self.quant.act(x)
        xp = np.pad(xq, ((0, 0), (ph, ph), (pw, pw), (0, 0))) if ph or pw else xq
        self.padded_shape = xp.shape
        cols = im2col(xp, kh, kw, self.stride)
        self.cols_shape = cols.shape
        b, ho, wo = cols.shape[:3]
        self.cols = cols.reshape(b * ho * wo, kh * kw * c_in)
        y = self.cols @ self.weight.value().reshape(-1, c_out)
        if self.bias is not None:
            y = y + self.bias.value()
        self.gemm_mnk = (self.cols.shape[0], c_out, self.cols.shape[1])
        self.kept_elems = x.size
        return y.reshape(b, ho, wo, c_out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """wgrad `colsᵀ · dY`, dgrad `dY · Wᵀ` scattered back by col2im."""
        kh, kw, c_in, c_out = self.weight.shape
        w2 = self.weight.value().reshape(-1, c_out)
        dy2 = self.quant.grad(dy.reshape(-1, c_out))
        self.weight.grad += (self.cols.T @ dy2).reshape(self.weight.shape)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        dcols = (dy2 @ w2.T).reshape(self.cols_shape)
        dxp = col2im(dcols, self.padded_shape, self.stride)
        ph, pw = self.padding
        return dxp[:, ph:ph + self.x_shape[1], pw:pw + self.x_shape[2]]
