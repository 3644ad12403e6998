"""Interactive HTML reports: one self-contained page per run or sweep (docs/reports.md)."""

from rctsim.report.inputs import RunInputs, gather_inputs, read_run_json
from rctsim.report.page import figure_specs, page_manifest
from rctsim.report.run_report import (
    RUN_FIGURES,
    build_run_report,
    run_report_html,
    write_run_report,
)

__all__ = [
    "RUN_FIGURES",
    "RunInputs",
    "build_run_report",
    "figure_specs",
    "gather_inputs",
    "page_manifest",
    "read_run_json",
    "run_report_html",
    "write_run_report",
]
