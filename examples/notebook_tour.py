"""A tour of rctsim from Python, as you would write it in a notebook.

    python examples/notebook_tour.py [OUT_FOLDER]

Simulates the bundled RCT trace on the edge NPU against QAT, looks at the result as a table
(pandas), draws three figures to HTML files, then runs a small sweep over the global-buffer size
and prints its Pareto front. Needs the `pandas` extra (`pip install 'rctsim[pandas]'`).
"""

import sys
from pathlib import Path

import rctsim
import rctsim.figures as rf
import rctsim.sweep

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")

# 1. One run: RCT (the bundled trace) against a QAT counterfactual on the same layers.
result = rctsim.simulate("edge_npu", "resnet", baseline="qat")
print(result)  # one line; in Jupyter the result shows as the summary table
print("savings:", {k: round(v, 3) for k, v in result.comparison["savings"].items()})

# 2. The per-op rows as a DataFrame: energy by policy and component, in joules.
rows = result.to_dataframe()
by_component = rows.groupby(["policy", "component"])["energy_pj"].sum().unstack(0) * 1e-12
print(by_component.round(6))

# 3. Figures (plotly): show them in a notebook with .show(); here written as HTML files.
rf.energy_over_training(result).write_html(out / "energy_over_training.html")
rf.layer_components(result).write_html(out / "layer_components.html")
rf.energy_breakdown(result).write_html(out / "energy_breakdown.html")

# 4. A sweep: three global-buffer sizes x the RCT and QAT traces; resumable store on disk.
points = rctsim.sweep.run({
    "name": "tour",
    "hardware": {"base": "edge_npu", "axes": {"sram_kb": [32, 64, 128]}},
    "policies": {"traces": ["resnet", "resnet_qat"]},
    "objectives": ["energy", "sram"],
}, store=out / "tour.db", workers=1)
print(points)
table = points.to_dataframe()
print(table[["sram_kb", "policy", "energy_pj", "on_front"]].to_string(index=False))
rf.pareto(points).write_html(out / "pareto.html")
