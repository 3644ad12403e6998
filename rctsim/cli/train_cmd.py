"""`rctsim train`: train a model with the bundled numpy trainer and write its trace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rctsim.cli.app import app, check_outputs
from rctsim.errors import InputError


def _config(**fields: object):
    """A `TrainConfig` from the options; InputError naming the option when a value is bad."""
    from rctsim.train.config import TrainConfig

    try:
        return TrainConfig(**fields).resolved()
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "options"
        raise InputError("rctsim train", "--" + name.replace("_", "-"), first["msg"]) from None


@app.command()
def train(
    model: Annotated[str, typer.Option(help="mlp | cnn | resnet | lstm | transformer.")],
    out: Annotated[Path, typer.Option(help="Trace file to write.")],
    dataset: Annotated[str | None, typer.Option(
        help="mnist1d | strokes | text (default: the model's).")] = None,
    policy: Annotated[str, typer.Option(help="fp32 | qat | rct | apt.")] = "rct",
    policy_param: Annotated[list[str] | None, typer.Option(
        help="Policy parameter k=v (repeatable), e.g. t_low=0.02; see docs/policies.md.")] = None,
    dataset_param: Annotated[list[str] | None, typer.Option(
        help="Data set parameter k=v (repeatable), e.g. n_train=1000.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Default: the model's.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of init, shuffling and rounding.")] = 0,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Default: the model's.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (cosine decay).")] = None,
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = 0.9,
    warmup: Annotated[int | None, typer.Option(min=0, help="Warm-up iterations.")] = None,
    max_iterations: Annotated[int | None, typer.Option(
        min=1, help="Stop after this many iterations.")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train MODEL under POLICY with the numpy trainer; write the trace (same seed, same bytes)."""
    from rctsim.trace.io import write_trace
    from rctsim.train.loop import prepare, run
    from rctsim.train.params import split_pairs
    from rctsim.train.threads import single_threaded_blas

    check_outputs([(out, "--out")])
    config = _config(model=model, dataset=dataset, policy=policy,
                     policy_params=split_pairs(policy_param or [], "--policy-param"),
                     dataset_params=split_pairs(dataset_param or [], "--dataset-param"),
                     epochs=epochs, seed=seed, batch_size=batch_size, lr=lr, momentum=momentum,
                     warmup=warmup, max_iterations=max_iterations)
    session = prepare(config)
    console = Console(stderr=True)
    with single_threaded_blas(), _progress_bar(console, quiet) as bar:
        task = bar.add_task(f"{config.model}/{config.policy}", total=None, loss=float("nan"),
                            acc="-", bits=float("nan"))

        def show(p) -> None:
            acc = f"{p.eval_acc:.3f}" if p.eval_acc is not None else f"{p.train_acc:.3f} (train)"
            bar.update(task, completed=p.iteration, total=p.iterations, loss=p.loss, acc=acc,
                       bits=p.mean_w_bits)

        trace = run(session, on_progress=show)
    write_trace(trace, out)
    final = trace.metrics["eval_acc"].value[-1]
    console.print(f"wrote {out}: {trace.iterations} iterations, {len(trace.phase_start)} "
                  f"phases, eval accuracy {final:.4f}, mean weight bits "
                  f"{_mean_weight_bits(trace):.2f}", soft_wrap=True)


def _progress_bar(console: Console, quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3f}"),
                    TextColumn("acc {task.fields[acc]}"),
                    TextColumn("bits {task.fields[bits]:.2f}"), TimeElapsedColumn(),
                    console=console, disable=quiet)


def _mean_weight_bits(trace) -> float:
    """Parameter-weighted mean weight bits over the run."""
    params = [layer.params for layer in trace.layers]
    total = sum(params)
    w_bits = trace.mean_bits()[:, 0]
    return float(sum(b * p for b, p in zip(w_bits, params, strict=True)) / max(total, 1))
