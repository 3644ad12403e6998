"""Shared look of the report figures: colours, layout defaults, readable category names."""

from __future__ import annotations

import plotly.graph_objects as go

POLICY_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
"""Colours of the run's policies, in the order they appear in the run JSON."""
OP_COLOURS = {"fwd": "#4c78a8", "dgrad": "#f58518", "wgrad": "#54a24b", "update": "#b279a2",
              "ew_fwd": "#9ecae9", "ew_bwd": "#ffbf79"}
"""Colours of the training-step ops in the timeline."""
FIGURE_HEIGHT = 440
"""Default figure height in CSS pixels (fits a laptop screen with the page header)."""


def policy_colours(labels: list[str]) -> dict[str, str]:
    """A colour per policy label, stable for the run's policy order."""
    return {label: POLICY_COLOURS[i % len(POLICY_COLOURS)] for i, label in enumerate(labels)}


def base_layout(fig: go.Figure, *, title: str, height: int = FIGURE_HEIGHT) -> go.Figure:
    """Apply the common layout: title, white template, margins, horizontal legend."""
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=height,
                      margin={"l": 70, "r": 30, "t": 60, "b": 60}, font={"size": 13},
                      hoverlabel={"namelength": -1})
    return fig
