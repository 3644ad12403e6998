"""The building-block protocol: `Module` (forward/backward/params) and `TableLayer`.

A `TableLayer` is a module that appears in the trace's layer table (concepts §2): it has a name, a
kind, an `OperandQuant` the policy configures, and after a forward pass it knows its GEMM shape
(`gemm_mnk`) and how many activation elements it keeps for backward (`kept_elems`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rctsim.trace.model import LayerSpec, NonGemmWork
from rctsim.train.quantize import OperandQuant
from rctsim.train.storage import Param


class Module:
    """A differentiable block: `forward` caches what `backward` needs."""

    training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Output for input `x` (caches for backward when training)."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. the last input; accumulates parameter gradients."""
        raise NotImplementedError

    def children(self) -> list[Module]:
        """Sub-modules, in execution order."""
        return []

    def own_params(self) -> list[Param]:
        """Parameters held directly by this module."""
        return []

    def modules(self) -> Iterator[Module]:
        """This module and all sub-modules, depth first, in execution order."""
        yield self
        for child in self.children():
            yield from child.modules()

    def params(self) -> list[Param]:
        """All parameters of this module and its sub-modules."""
        return [p for m in self.modules() for p in m.own_params()]

    def set_training(self, training: bool) -> None:
        """Switch this module and its sub-modules between training and evaluation."""
        for m in self.modules():
            m.training = training

    def describe(self, preds: tuple[str, ...], out: list[LayerSpec]) -> tuple[str, ...]:
        """Append the layer-table entries of this module to `out`; return the output's producers."""
        for child in self.children():
            preds = child.describe(preds, out)
        attach(out, preds, self.nongemm())
        return preds

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """Non-GEMM work of this module itself in the last training forward pass (none)."""
        return ()


class Sequential(Module):
    """Modules applied one after another."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply each layer in turn."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Back-propagate through the layers in reverse."""
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def children(self) -> list[Module]:
        """The layers."""
        return self.layers


class TableLayer(Module):
    """A module with a row in the trace's layer table."""

    kind: str = ""

    def __init__(self, name: str):
        self.name = name
        self.quant = OperandQuant()
        self.gemm_mnk: tuple[int, int, int] = (0, 0, 0)
        self.kept_elems = 0

    def spec(self, preds: tuple[str, ...]) -> LayerSpec:
        """This layer's table entry, from the shapes of the last forward pass."""
        m, n, k = self.gemm_mnk
        params = sum(int(np.prod(p.shape)) for p in self.own_params())
        return LayerSpec(name=self.name, kind=self.kind, m=m, n=n, k=k, has_weights=params > 0,
                         params=params, act_elems=self.kept_elems, preds=preds,
                         nongemm=self.nongemm())

    def describe(self, preds: tuple[str, ...], out: list[LayerSpec]) -> tuple[str, ...]:
        """One table row fed by `preds`."""
        out.append(self.spec(preds))
        return (self.name,)


def attach(out: list[LayerSpec], preds: tuple[str, ...], work: tuple[NonGemmWork, ...]) -> None:
    """Charge `work` to the latest layer of `out` named in `preds` (the first layer when none
    is: work before any GEMM layer)."""
    if not work:
        return
    owners = [i for i, spec in enumerate(out) if spec.name in preds]
    if not out:
        raise ValueError("non-GEMM work before the first table layer")
    i = max(owners) if owners else 0
    out[i] = out[i].model_copy(update={"nongemm": out[i].nongemm + tuple(work)})


def with_loss(table: list[LayerSpec]) -> list[LayerSpec]:
    """The table with the softmax cross-entropy loss on the last layer's output (its M x N
    logits, rows of N classes)."""
    last = table[-1]
    attach(table, (last.name,), (NonGemmWork(kind="loss", elems=last.m * last.n,
                                             group=max(last.n, 1)),))
    return table


def table_layers(model: Module) -> list[TableLayer]:
    """The model's table layers in layer-table order."""
    return [m for m in model.modules() if isinstance(m, TableLayer)]


def layer_table(model: Module) -> list[LayerSpec]:
    """The model's layer table (call after a training forward pass)."""
    specs: list[LayerSpec] = []
    model.describe((), specs)
    return specs
