"""Shared look of the report figures: colours, layout defaults, readable names.

One colour means one thing across a page: each policy has its own colour (the same in the run
and sweep reports), and categories (ops, components, tensor classes) take theirs from a separate
palette with no policy colour in it.
"""

from __future__ import annotations

import plotly.graph_objects as go

POLICY_COLOUR = {"rct": "#1f77b4", "qat": "#d62728", "fp32": "#4d4d4d", "apt": "#17becf",
                 "qat-fp16": "#f28e8e", "qat-bf16": "#a50f15", "qat-int8g": "#e6550d",
                 "mixed-fp16": "#9467bd", "mixed-bf16": "#8c564b"}
"""Colour of each policy and named baseline (docs/policies.md): blue RCT, red QAT (its
variants lighter, darker and orange-red), dark grey fp32, cyan APT, purple and brown the
mixed-precision baselines."""
OTHER_POLICY_COLOURS = ("#bcbd22", "#393b79", "#637939", "#7b4173")
"""Colours of labels that are no known policy, in order of appearance."""
POLICY_COLOURS = tuple(POLICY_COLOUR.values()) + OTHER_POLICY_COLOURS
"""Every colour a policy may get."""
OP_COLOURS = {"fwd": "#1b9e77", "dgrad": "#e6ab02", "wgrad": "#e7298a", "update": "#a6761d",
              "ew_fwd": "#66c2a5", "ew_bwd": "#fdd96a"}
"""Colours of the training-step ops (energy breakdown and timeline alike)."""
CATEGORY_PALETTE = ("#7570b3", "#66a61e", "#fdb462", "#bc80bd", "#b3de69", "#fccde5",
                    "#ffed6f", "#8dd3c7", "#bebada", "#cab2d6", "#b15928", "#6a3d9a",
                    "#ff7f00", "#ccebc5", "#d9d9d9", "#80b1d3")
"""Colours of other categories (components, tensor classes), none of them a policy colour."""
STEP_WIDE_COLOUR = "#bdbdbd"
"""Colour of step-wide energy (leakage, key `*`)."""
FIGURE_HEIGHT = 440
"""Default figure height in CSS pixels (fits a laptop screen with the page header)."""

READABLE = {
    "params": "parameters", "master_copy": "fp32 master copy", "optimizer": "optimiser state",
    "activations_peak": "activations (peak)", "gradients_peak": "gradients (peak)",
    "workspace_peak": "workspace (peak)", "array": "array (MACs)",
    "vector": "element-wise work (non-GEMM, update)", "dram": "DRAM",
    "*": "step-wide (leakage)", "fwd": "fwd", "dgrad": "dgrad", "wgrad": "wgrad",
    "update": "update", "ew_fwd": "non-GEMM fwd", "ew_bwd": "non-GEMM bwd",
}
"""Readable names of run-JSON keys shown in figures."""


def readable(key: str) -> str:
    """A run-JSON key as a person reads it: `workspace_peak` -> `workspace (peak)`,
    `sram:global_buffer` -> `SRAM global buffer`."""
    if key in READABLE:
        return READABLE[key]
    if key.startswith("sram:"):
        return "SRAM " + key.removeprefix("sram:").replace("_", " ")
    return key.replace("_", " ")


def policy_of(label: str) -> str:
    """The policy of a run label (`qat_baseline` -> `qat`)."""
    return label.removesuffix("_baseline")


def policy_colours(labels: list[str]) -> dict[str, str]:
    """A colour per policy label: the policy's own colour; unknown labels (a baseline with
    parameters, `qat:dgrad_weights=master`) in turn."""
    out, extra = {}, 0
    for label in labels:
        colour = POLICY_COLOUR.get(policy_of(label))
        if colour is None:
            colour = OTHER_POLICY_COLOURS[extra % len(OTHER_POLICY_COLOURS)]
            extra += 1
        out[label] = colour
    return out


def category_colours(keys: list[str]) -> dict[str, str]:
    """A colour per category key: ops their own, `*` grey, the rest from the palette in turn."""
    out, i = {}, 0
    for key in keys:
        if key in OP_COLOURS:
            out[key] = OP_COLOURS[key]
        elif key == "*":
            out[key] = STEP_WIDE_COLOUR
        elif key not in out:
            out[key] = CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)]
            i += 1
    return out


def base_layout(fig: go.Figure, *, title: str, height: int = FIGURE_HEIGHT) -> go.Figure:
    """Apply the common layout: title, white template, margins, horizontal legend."""
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=height,
                      margin={"l": 70, "r": 30, "t": 60, "b": 60}, font={"size": 13},
                      hoverlabel={"namelength": -1})
    return fig
