"""LSTM layer unrolled over time; its gate GEMM is the trace's `recurrent_gate` layer."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import NonGemmWork, lstm_cell_work
from rctsim.train.module import TableLayer
from rctsim.train.storage import Param


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


class LSTM(TableLayer):
    """`x[B, T, D] -> h[B, T, H]`; per step `z = [x_t, h_{t-1}] · W + b` with gates i, f, o, g.

    GEMM view: M = B·T, K = D + H, N = 4H (the gate GEMM of all steps).
    """

    kind = "recurrent_gate"

    def __init__(self, name: str, n_in: int, hidden: int, rng: np.random.Generator):
        super().__init__(name)
        std = 1.0 / np.sqrt(n_in + hidden)
        self.weight = Param(f"{name}.weight",
                            (rng.standard_normal((n_in + hidden, 4 * hidden)) * std)
                            .astype(np.float32))
        bias = np.zeros(4 * hidden, np.float32)
        bias[hidden:2 * hidden] = 1.0  # forget gate starts open
        self.bias = Param(f"{name}.bias", bias)
        self.hidden = hidden

    def own_params(self) -> list[Param]:
        """Gate weights and biases."""
        return [self.weight, self.bias]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Run the cell over all steps, keeping inputs, gates and cell states."""
        b, steps, d = x.shape
        hid = self.hidden
        w, bias = self.weight.value(), self.bias.value()
        self.xh = np.empty((steps, b, d + hid), x.dtype)
        self.gates = np.empty((steps, b, 4 * hid), x.dtype)
        self.cells = np.zeros((steps + 1, b, hid), x.dtype)
        out = np.empty((b, steps, hid), x.dtype)
        h = np.zeros((b, hid), x.dtype)
        for t in range(steps):
            self.xh[t] = self.quant.act(np.concatenate([x[:, t], h], axis=1))
            z = self.xh[t] @ w + bias
            gate = self.gates[t]
            gate[:, : 3 * hid] = sigmoid(z[:, : 3 * hid])
            gate[:, 3 * hid:] = np.tanh(z[:, 3 * hid:])
            i, f, o, g = np.split(gate, 4, axis=1)
            self.cells[t + 1] = f * self.cells[t] + i * g
            h = o * np.tanh(self.cells[t + 1])
            out[:, t] = h
        self.gemm_mnk = (b * steps, 4 * hid, d + hid)
        self.kept_elems = self.xh.size + self.gates.size + self.cells[1:].size
        if self.training:
            self.cell_elems = b * steps * hid
        return out

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """Gate nonlinearities and the cell update of every step."""
        return lstm_cell_work(getattr(self, "cell_elems", 0))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Back-propagation through time; one wgrad GEMM over all steps."""
        b, steps, hid = dy.shape
        d = self.xh.shape[2] - hid
        w = self.weight.value()
        dz_all = np.empty_like(self.gates)
        dx = np.empty((b, steps, d), dy.dtype)
        dh_next = np.zeros((b, hid), dy.dtype)
        dc_next = np.zeros((b, hid), dy.dtype)
        for t in reversed(range(steps)):
            i, f, o, g = np.split(self.gates[t], 4, axis=1)
            tanh_c = np.tanh(self.cells[t + 1])
            dh = dy[:, t] + dh_next
            dc = dc_next + dh * o * (1.0 - tanh_c**2)
            dz = np.concatenate([dc * g * i * (1 - i), dc * self.cells[t] * f * (1 - f),
                                 dh * tanh_c * o * (1 - o), dc * i * (1 - g**2)], axis=1)
            dz_all[t] = dz = self.quant.grad(dz)
            dc_next = dc * f
            dxh = dz @ w.T
            dx[:, t] = dxh[:, :d]
            dh_next = dxh[:, d:]
        flat = dz_all.reshape(-1, 4 * hid)
        self.weight.grad += self.xh.reshape(-1, d + hid).T @ flat
        self.bias.grad += flat.sum(axis=0)
        return dx
