"""The run report: inputs, headline cards and the run's figures on one HTML page."""

from __future__ import annotations

from html import escape
from pathlib import Path

from hwmodels.schema import HardwareSpec
from hwmodels.summary import hardware_line
from rctsim.report.baseline_figures import (
    baseline_labels,
    baselines_figure,
    baselines_table_html,
    iteration_components_figure,
    iteration_saving_figure,
    missing_metrics_note,
)
from rctsim.report.cards import cards_html, headline_cards
from rctsim.report.inputs import RunInputs, gather_inputs, run_dict
from rctsim.report.page import FigureBlock, code, render_page
from rctsim.report.run_figures import (
    energy_breakdown_figure,
    energy_by_layer_figure,
    energy_per_iteration_figure,
    layer_component_figure,
    layer_utilisation_figure,
    memory_figure,
    timeline_figure,
)
from rctsim.report.trace_figures import (
    bits_figure,
    downsampling_notes,
    energy_accuracy_figure,
    mean_rate_caveat,
)
from rctsim.result import Result, write_atomic
from rctsim.summary import role_label
from rctsim.trace.model import Trace

RUN_FIGURES = ("fig-baselines", "fig-energy-layer", "fig-energy-breakdown",
               "fig-energy-iteration", "fig-iteration-saving", "fig-iteration-components",
               "fig-layer-components", "fig-bits", "fig-memory", "fig-timeline",
               "fig-layer-utilisation", "fig-energy-accuracy")
"""Element ids of every figure a run report can hold, in page order."""


def _global_buffer_bytes(spec: HardwareSpec | None) -> float | None:
    if spec is None:
        return None
    sizes = [m.size_bytes for m in spec.memories if m.role == "global"]
    return float(sum(sizes)) if sizes else None


def run_figure_blocks(inputs: RunInputs) -> tuple[list[FigureBlock], list[str]]:
    """The figures the inputs allow, and notes on those left out or approximated."""
    run, trace, notes = inputs.run, inputs.trace, []
    order = [layer.name for layer in trace.layers] if trace else None
    bases = baseline_labels(run)
    blocks = []
    if bases:
        blocks.append(FigureBlock(
            "fig-baselines", baselines_figure(run),
            f"{run['trace']['policy']} against each baseline of the run ({', '.join(bases)}), "
            "one panel per headline metric; the table gives the numbers and the saving "
            "1 - ours/baseline against each.", html=baselines_table_html(run)))
        missing = missing_metrics_note(run)
        notes += [missing] if missing else []
    blocks += [
        FigureBlock("fig-energy-layer", energy_by_layer_figure(run, order),
                    "Energy of each layer over all iterations: MACs, SRAM and DRAM accesses "
                    "(leakage is step-wide, shown as *)."),
        FigureBlock("fig-energy-breakdown", energy_breakdown_figure(run),
                    "The same total energy split three ways. Tensor '-' is energy not tied to "
                    "a tensor class (arithmetic, PE scratchpads); op and layer '*' is leakage."),
    ]
    if all(p.get("phase_energy") for p in run["policies"].values()):
        blocks.append(FigureBlock(
            "fig-energy-iteration", energy_per_iteration_figure(run),
            "Energy of one training iteration at each point of the run (leakage included): it "
            "changes where the bits change (a counterfactual baseline has one phase)."))
        if bases:
            blocks.append(FigureBlock(
                "fig-iteration-saving", iteration_saving_figure(run),
                f"Energy of one iteration saved by {run['trace']['policy']} against each "
                "baseline at each point of training (1 - ours/baseline, per interval of "
                "constant bits in both): how the changing bitwidths move the per-iteration "
                "cost."))
    blocks.append(FigureBlock(
        "fig-iteration-components", iteration_components_figure(run),
        "Energy of one iteration by component, mean over the run (the component totals / "
        "iterations). The run JSON records the per-phase energy as a total only, so for a "
        "policy whose bits change this is the mean, not any one phase's split; a "
        "counterfactual baseline has one phase, so its bar is every iteration's split."))
    if all(p.get("per_layer") for p in run["policies"].values()):
        blocks.append(FigureBlock(
            "fig-layer-components", layer_component_figure(run),
            "Each layer's energy over the run, split by component: the array's MACs, each "
            "SRAM, DRAM; step-wide leakage as *."))
    if trace is not None:
        blocks.append(FigureBlock("fig-bits", bits_figure(trace),
                                  "Bits per layer over the iterations of the trace (each column "
                                  "a phase of constant bits); switch operand with the buttons."))
    blocks += [
        FigureBlock("fig-memory", memory_figure(
            run, on_chip_bytes=_global_buffer_bytes(inputs.hardware)),
            "Bytes one training step needs, peak over the run's phases. Off chip = peak total "
            "minus peak on chip."),
        FigureBlock("fig-timeline", timeline_figure(run),
                    "DMA (DRAM channel) and compute lanes of one step from the SimPy "
                    "simulation; hover a bar for its op and cycles."),
    ]
    policies = run["policies"].values()
    if inputs.hardware is not None and all(p.get("per_layer") and p["timeline"]
                                           for p in policies):
        pes = inputs.hardware.array.rows * inputs.hardware.array.cols
        blocks.append(FigureBlock(
            "fig-layer-utilisation", layer_utilisation_figure(run, pes=pes),
            "From the step above: share of the array's PEs doing a MAC while the layer's GEMMs "
            "run (MACs / (PEs x busy cycles)), and the cycles the array sat idle before the "
            "layer's ops waiting for data from DRAM."))
    odd = [p for p, s in run["policies"].items()
           if s["memory_bytes"]["peak_on_chip"] > s["memory_bytes"]["peak_total"]]
    if odd:
        notes.append(f"{', '.join(odd)}: the run's peak on chip exceeds its peak total (the two "
                     "peaks are taken at different ops); off chip is shown as 0.")
    if trace is not None:
        notes += downsampling_notes(run, trace)
        fig = energy_accuracy_figure(run, trace, inputs.baseline_trace)
        if fig is None:
            notes.append("The trace has no accuracy or loss metric: energy-to-accuracy figure "
                          "left out.")
        else:
            caveat = mean_rate_caveat(run)
            notes += [caveat] if caveat else []
            blocks.append(FigureBlock(
                "fig-energy-accuracy", fig,
                "Energy spent up to each measurement of the trace's metric: read off the energy "
                "each policy needs to reach a given accuracy."))
    return blocks, notes


def _input_rows(inputs: RunInputs) -> list[tuple[str, str]]:
    run = inputs.run
    hw, tr = run["hardware"], run["trace"]
    label = hw.get("label", hw["name"])
    rows = [("Hardware", f"{escape(label)} — sha256 {code(hw['sha256'])}")]
    spec = inputs.hardware
    if spec is not None:
        rows.append(("", escape(hardware_line(spec))))
    rows.append(("Trace", f"{escape(str(tr['name']))} — sha256 {code(tr['sha256'])}"))
    detail = (f"model {tr['model']}, policy {tr['policy']}, {tr['iterations']:,} iterations, "
              f"{tr['layers']} layers, {tr['phases']} phases")
    if inputs.trace is not None:
        h = inputs.trace.header
        detail += f", data set {h.dataset}, batch {h.batch_size}, seed {h.seed}, {h.producer}"
    rows.append(("", escape(detail)))
    bases = [f"{b} ({role_label(run['policies'][b]['role'])})" for b in baseline_labels(run)]
    rows.append(("Baselines" if len(bases) > 1 else "Baseline",
                 escape(", ".join(bases) or "none")))
    options = ", ".join(f"{k}={v}" for k, v in run.get("options", {}).items())
    rows.append(("Options", escape(options or "defaults")))
    rows.append(("Run made by", escape(str(run.get("producer", "unknown")))))
    return rows


def run_report_html(inputs: RunInputs) -> str:
    """The run report page for gathered inputs."""
    run = inputs.run
    ours = run["trace"]["policy"]
    base = run["comparison"].get("baseline")
    bases = baseline_labels(run)
    heading = f"<h2>{escape(ours)} against {escape(base)}</h2>" if base else \
        f"<h2>{escape(ours)}</h2>"
    if len(bases) > 1:
        heading += (f"<p>The cards compare with the first baseline, {escape(base)}; the "
                    "several-baselines figure and table below compare with each of "
                    f"{escape(', '.join(bases))}.</p>")
    summary = heading + cards_html(headline_cards(run), ours_label=ours, base_label=base)
    blocks, notes = run_figure_blocks(inputs)
    title = f"rctsim run report: {run['trace']['model']} on {run['hardware']['name']}"
    return render_page(title=title, kind="run", inputs=_input_rows(inputs), summary_html=summary,
                       figures=blocks, notes=list(inputs.notes) + notes)


def build_run_report(result: Result | dict, *, trace: Trace | str | Path | None = None,
                     baseline_trace: Trace | str | Path | None = None,
                     hardware: HardwareSpec | str | Path | None = None,
                     search_dir: Path | None = None) -> str:
    """The run report page of a Result or run JSON object; finds the trace and hardware."""
    run = run_dict(result)
    inputs = gather_inputs(run, trace=trace, baseline_trace=baseline_trace, hardware=hardware,
                           search_dir=search_dir)
    return run_report_html(inputs)


def write_run_report(result: Result | dict, path: str | Path, *,
                     trace: Trace | str | Path | None = None,
                     baseline_trace: Trace | str | Path | None = None,
                     hardware: HardwareSpec | str | Path | None = None,
                     search_dir: Path | None = None) -> None:
    """Write the run report of `result` to `path` atomically (arguments as build_run_report)."""
    write_atomic(path, build_run_report(result, trace=trace, baseline_trace=baseline_trace,
                                        hardware=hardware, search_dir=search_dir))
