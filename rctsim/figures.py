"""Figure functions for notebooks and scripts: each takes a Result (or a run JSON dict), a trace
or sweep points, and returns a plotly Figure (`fig.show()`, `fig.write_html(path)`).

    import rctsim, rctsim.figures as rf
    result = rctsim.simulate("edge_npu", "resnet")
    rf.energy_by_layer(result).show()

The run and sweep reports (`rctsim report`, docs/reports.md) are built from these same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from rctsim.report import baseline_figures, run_figures, sweep_figures, trace_figures
from rctsim.result import Result
from rctsim.trace.model import Trace

__all__ = [
    "baselines",
    "bits_heatmap",
    "energy_breakdown",
    "energy_by_layer",
    "energy_by_component_per_iteration",
    "energy_over_training",
    "energy_sram",
    "layer_components",
    "layer_utilisation",
    "memory_footprint",
    "pareto",
    "saving_over_training",
    "parallel_points",
    "step_timeline",
]


def _run(result: Result | dict) -> dict:
    return result.to_dict() if isinstance(result, Result) else result



def energy_by_layer(result: Result | dict, layer_order: list[str] | None = None) -> go.Figure:
    """Energy of each layer over the run (J), one bar per policy."""
    return run_figures.energy_by_layer_figure(_run(result), layer_order)


def energy_breakdown(result: Result | dict) -> go.Figure:
    """The total energy split by op, by component and by tensor class, per policy."""
    return run_figures.energy_breakdown_figure(_run(result))


def energy_over_training(result: Result | dict) -> go.Figure:
    """Energy of one iteration at each point of training (each phase of constant bits)."""
    return run_figures.energy_per_iteration_figure(_run(result))


def baselines(result: Result | dict) -> go.Figure:
    """The trace's policy against each baseline, one panel per headline metric."""
    return baseline_figures.baselines_figure(_run(result))


def saving_over_training(result: Result | dict) -> go.Figure:
    """The trace's policy's saving of energy per iteration against each baseline over
    training."""
    return baseline_figures.iteration_saving_figure(_run(result))


def energy_by_component_per_iteration(result: Result | dict) -> go.Figure:
    """Mean energy of one iteration by component, per policy."""
    return baseline_figures.iteration_components_figure(_run(result))


def layer_components(result: Result | dict) -> go.Figure:
    """Each layer's energy split by component (array, SRAMs, DRAM), per policy."""
    return run_figures.layer_component_figure(_run(result))


def layer_utilisation(result: Result | dict, *, pes: int) -> go.Figure:
    """Per layer: array utilisation and cycles the array waits for memory, in one step."""
    return run_figures.layer_utilisation_figure(_run(result), pes=pes)


def memory_footprint(result: Result | dict, *, on_chip_bytes: float | None = None) -> go.Figure:
    """Memory a training step needs per policy: its parts, and its peak on chip and off."""
    return run_figures.memory_figure(_run(result), on_chip_bytes=on_chip_bytes)


def step_timeline(result: Result | dict) -> go.Figure:
    """DMA and compute lanes of one simulated step per policy."""
    return run_figures.timeline_figure(_run(result))


def bits_heatmap(trace: Trace | str) -> go.Figure:
    """Bits of every layer over the iterations of a trace (a Trace, a file or a bundled name)."""
    from rctsim.trace import load_trace

    return trace_figures.bits_figure(trace if isinstance(trace, Trace) else load_trace(trace))


def _points(points) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Sequence, Sequence]:
    return list(points.ok()), points.front(), points.objectives, points.axes


def pareto(points) -> go.Figure:
    """The Pareto front of sweep points (`rctsim.sweep.run` / `load`), coloured by policy."""
    ok, front, objectives, axes = _points(points)
    return sweep_figures.pareto_figure(ok, front, objectives, axes)


def parallel_points(points) -> go.Figure:
    """Every sweep point as a line across its parameters and metrics, coloured by policy."""
    ok, front, objectives, axes = _points(points)
    return sweep_figures.parallel_figure(ok, front, objectives, axes)


def energy_sram(points) -> go.Figure:
    """Energy against global-buffer size, per policy point of a sweep."""
    return sweep_figures.energy_sram_figure(list(points.ok()))
