"""The training loop: mini-batch SGD under a policy, evaluated each epoch, recorded as a trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

import rctsim
from rctsim.errors import InputError
from rctsim.trace.model import LayerSpec, PolicySpec, Trace, TraceHeader
from rctsim.train.capture import TraceRecorder
from rctsim.train.config import TrainConfig
from rctsim.train.datasets import Dataset, load_dataset
from rctsim.train.layers import softmax_cross_entropy
from rctsim.train.models import build_model
from rctsim.train.module import Module, layer_table, table_layers, with_loss
from rctsim.train.optim import SGDMomentum, cosine_lr
from rctsim.train.policies import Policy, make_policy
from rctsim.train.threads import single_threaded_blas

EVAL_BATCH = 500
"""Samples per evaluation forward pass."""


@dataclass(frozen=True)
class Progress:
    """What the progress bar shows after each iteration."""

    iteration: int
    iterations: int
    epoch: int
    loss: float
    train_acc: float
    """Running accuracy over the current epoch."""
    eval_acc: float | None
    """Last evaluation accuracy (None before the first evaluation)."""
    mean_w_bits: float
    """Parameter-weighted mean weight bits now."""


@dataclass(eq=False)
class Session:
    """Everything a run holds: the resolved config, data, model, policy and optimiser."""

    config: TrainConfig
    data: Dataset
    model: Module
    policy: Policy
    optimizer: SGDMomentum
    shuffle_rng: np.random.Generator
    """Draws each epoch's sample order."""

    @property
    def iterations_per_epoch(self) -> int:
        """Full mini-batches per epoch (the last partial batch is dropped)."""
        return len(self.data.x_train) // self.config.batch_size

    @property
    def iterations(self) -> int:
        """Iterations of the whole run."""
        total = self.config.epochs * self.iterations_per_epoch
        return min(total, self.config.max_iterations or total)


def prepare(config: TrainConfig) -> Session:
    """Resolve defaults, build data, model, policy and optimiser (seeded)."""
    config = config.resolved()
    init_seed, shuffle_seed, round_seed = np.random.SeedSequence(config.seed).spawn(3)
    data = load_dataset(config.dataset, dict(config.dataset_params))
    if len(data.x_train) < config.batch_size:
        raise InputError("--batch-size", "batch_size", f"{config.batch_size} exceeds the "
                         f"{len(data.x_train)} training samples", f"1..{len(data.x_train)}")
    model = build_model(config.model, data, np.random.default_rng(init_seed))
    policy = make_policy(config.policy, dict(config.policy_params), table_layers(model),
                         np.random.default_rng(round_seed))
    optimizer = SGDMomentum(model.params(), momentum=config.momentum,
                            state_bits=policy.opt_state_bits)
    return Session(config, data, model, policy, optimizer, np.random.default_rng(shuffle_seed))


def evaluate(model: Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean loss and accuracy on `(x, y)` in evaluation mode."""
    model.set_training(False)
    loss_sum, correct, count = 0.0, 0, 0
    for start in range(0, len(x), EVAL_BATCH):
        logits = model.forward(x[start:start + EVAL_BATCH])
        targets = y[start:start + EVAL_BATCH]
        loss, _, right = softmax_cross_entropy(logits, targets)
        loss_sum += loss * targets.size
        correct += right
        count += targets.size
    model.set_training(True)
    return loss_sum / count, correct / count


def train_step(session: Session, xb: np.ndarray, yb: np.ndarray, lr: float
               ) -> tuple[float, int]:
    """Forward, backward and the policy's update on one mini-batch; returns (loss, correct)."""
    logits = session.model.forward(xb)
    loss, dlogits, correct = softmax_cross_entropy(logits, yb)
    for param in session.policy.params():
        param.grad.fill(0)
    session.model.backward(dlogits.astype(logits.dtype, copy=False))
    session.policy.apply_updates(session.optimizer, lr)
    return loss, correct


def run(session: Session, on_progress: Callable[[Progress], None] | None = None) -> Trace:
    """Train and return the trace of the run."""
    recorder = TraceRecorder()
    table: list[LayerSpec] = []
    weights = np.array([sum(p.grad.size for p in layer.own_params())
                        for layer in session.policy.layers])
    seen = right = 0
    eval_acc = None
    for epoch, it, idx in _batches(session):
        loss, correct, bits = _iteration(session, recorder, it, idx)
        table = table or with_loss(layer_table(session.model))
        seen, right = seen + session.data.y_train[idx].size, right + correct
        if on_progress:
            on_progress(Progress(it + 1, session.iterations, epoch, loss, right / seen, eval_acc,
                                 _mean_bits(bits[:, 0], weights)))
        if (it + 1) % session.iterations_per_epoch == 0 or it + 1 == session.iterations:
            eval_acc = _end_of_epoch(session, recorder, it, right / seen)
            seen = right = 0
    return recorder.build(_header(session, session.iterations), table)


def _batches(session: Session) -> Iterator[tuple[int, int, np.ndarray]]:
    """`(epoch, iteration, sample indices)` of every iteration of the run."""
    size, it = session.config.batch_size, 0
    for epoch in range(session.config.epochs):
        order = session.shuffle_rng.permutation(len(session.data.x_train))
        for b in range(session.iterations_per_epoch):
            if it == session.iterations:
                return
            yield epoch, it, order[b * size:(b + 1) * size]
            it += 1


def _iteration(session: Session, recorder: TraceRecorder, it: int, idx: np.ndarray
               ) -> tuple[float, int, np.ndarray]:
    """One recorded iteration: bits in force, the step, its loss and the bit decisions."""
    cfg, policy = session.config, session.policy
    bits = policy.bits()
    recorder.bits(it, bits)
    lr = cosine_lr(cfg.lr, it, session.iterations, cfg.warmup)
    loss, correct = train_step(session, session.data.x_train[idx], session.data.y_train[idx], lr)
    recorder.metric("loss", it, loss)
    for layer, gavg in policy.end_iteration(it):
        recorder.signal("gavg", it, layer, gavg)
    return loss, correct, bits


def _end_of_epoch(session: Session, recorder: TraceRecorder, it: int, train_acc: float) -> float:
    """Evaluate on the test split and record the epoch's metrics; returns the test accuracy."""
    eval_loss, eval_acc = evaluate(session.model, session.data.x_test, session.data.y_test)
    for name, value in (("train_acc", train_acc), ("eval_loss", eval_loss),
                        ("eval_acc", eval_acc)):
        recorder.metric(name, it, value)
    return eval_acc


def _mean_bits(w_bits: np.ndarray, weights: np.ndarray) -> float:
    return float((w_bits * weights).sum() / max(weights.sum(), 1))


def _header(session: Session, iterations: int) -> TraceHeader:
    cfg = session.config
    params = {**session.policy.record(), "optimizer": session.optimizer.name,
              "momentum": cfg.momentum, "opt_state_per_param": session.optimizer.state_per_param,
              "lr": cfg.lr, "lr_schedule": "cosine", "warmup": cfg.warmup}
    notes = {"command": cfg.command(), **session.data.notes}
    return TraceHeader(producer="rctsim.train", producer_version=rctsim.__version__,
                       model=cfg.model, dataset=session.data.name,
                       policy=PolicySpec(name=cfg.policy, params=params),
                       batch_size=cfg.batch_size, seed=cfg.seed, iterations=iterations,
                       notes=notes)


def train(config: TrainConfig, on_progress: Callable[[Progress], None] | None = None) -> Trace:
    """Run `config` end to end (BLAS single-threaded) and return its trace."""
    with single_threaded_blas():
        return run(prepare(config), on_progress)
