"""The papers' claims as ranges across the modelling assumptions (rctsim sensitivity).

    python studies/rct_vs_qat/claim_ranges.py

For every claim of `claims.py` whose metric is a saving the sensitivity analysis reports, and
for each model (its bundled RCT trace) and hardware of `config.yaml`, runs
`rctsim.sensitivity(hw, trace, baseline)` against each baseline the claim names, and writes
`claim_ranges.csv` (one row per claim, model, hardware, baseline, assumption and setting) and
`claim_ranges.md` (per claim: the range over every setting and, per assumption, its range with
the setting the paper assumed marked). The papers' assumed settings are our reading of their
abstracts (`PAPER_SETTINGS`); an assumption the papers do not state is left unmarked.
Separate from run.py: it reads the same config and claims and writes only its own two files.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import claims
import yaml

import rctsim
from rctsim import study

HERE = Path(__file__).resolve().parent
"""The study's folder (outputs are written here)."""

CSV_NAME, MD_NAME = "claim_ranges.csv", "claim_ranges.md"
COLUMNS = ("claim", "model", "hardware", "baseline", "assumption", "setting", "value",
           "is_default", "paper_setting")
"""Columns of claim_ranges.csv."""

PAPER_SETTINGS: dict[str, tuple[str, str]] = {
    "qat_backward": ("qat", "the papers' QAT baseline: fake-quantised forward, fp32 backward "
                            "and master"),
    "packing": ("packed", "parameter memory counted in stored bits per parameter (RCT's "
                          "arbitrary widths bit-tight, QAT's 32 + 8)"),
    "first_layer_dgrad": ("counted", "GEMM energy from 3 x the forward MACs of every layer"),
}
"""The setting each paper assumed, where the abstracts let us tell (our reading), and why."""

SENSITIVITY_METRICS = ("gemm_energy", "param_memory", "param_movement_energy", "total_energy")
"""Claim metrics the sensitivity analysis reports (the others are left to results.md)."""


def measure(config: dict) -> list[dict]:
    """Rows for every claim x model x hardware x baseline x assumption x setting."""
    rows: list[dict] = []
    wanted = [c for c in claims.CLAIMS if c.metric in SENSITIVITY_METRICS]
    baselines = sorted({b for c in wanted for b in c.baselines})
    for model, runs in config["models"].items():
        for hw in config["hardware"]:
            for baseline in baselines:
                print(f"claim ranges: {model} on {hw} against {baseline}", file=sys.stderr)
                sens = rctsim.sensitivity(hw, runs["traces"]["rct"], baseline)
                for claim in wanted:
                    if baseline not in claim.baselines:
                        continue
                    for r in sens["rows"]:
                        if r["metric"] != claim.metric:
                            continue
                        paper = PAPER_SETTINGS.get(r["assumption"], (None,))[0]
                        rows.append({"claim": claim.key, "model": model, "hardware": hw,
                                     "baseline": baseline, "assumption": r["assumption"],
                                     "setting": r["setting"], "value": r["value"],
                                     "is_default": r["is_default"],
                                     "paper_setting": r["setting"] == paper})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "value": "" if row["value"] is None else repr(row["value"]),
                             "is_default": str(row["is_default"]).lower(),
                             "paper_setting": str(row["paper_setting"]).lower()})


def read_csv(path: Path) -> list[dict]:
    """claim_ranges.csv back as rows (values as floats or None, flags as bools)."""
    with path.open(encoding="utf-8") as fh:
        return [{**r, "value": float(r["value"]) if r["value"] else None,
                 "is_default": r["is_default"] == "true",
                 "paper_setting": r["paper_setting"] == "true"} for r in csv.DictReader(fh)]


def _span(values: list[float]) -> str:
    return study.pct_range(min(values), max(values)) if values else "n/a"


def _moves(rows: list[dict]) -> bool:
    """Whether any setting changes the value on some model x hardware (against its default)."""
    default = {(r["model"], r["hardware"]): r["value"] for r in rows if r["is_default"]}
    return any(r["value"] != default.get((r["model"], r["hardware"]), r["value"])
               for r in rows)


def render(rows: list[dict]) -> str:
    """claim_ranges.md from the rows (deterministic: tests compare it with the committed file)."""
    out = ["# The papers' claims as ranges across the modelling assumptions", "",
           "Generated by `python studies/rct_vs_qat/claim_ranges.py` from `claim_ranges.csv`: "
           "`rctsim sensitivity` (docs/sensitivity.md) on each model's bundled RCT trace, on "
           "each hardware of config.yaml, against each baseline a claim names. Each assumption "
           "is varied alone over its documented range (docs/model.md, \"Assumptions\"), the "
           "others at their defaults. **Bold** marks the setting the paper assumed where the "
           "abstracts let us tell (our reading; the full texts are not available here):", ""]
    for name, (setting, why) in PAPER_SETTINGS.items():
        out.append(f"- `{name}` = `{setting}`: {why}.")
    out += ["", "Verdicts as in results.md §4, here over every setting: *meets*: the whole "
            "range satisfies the claim; *partly*: some settings do; *below* / *above*: none.",
            ""]
    by_claim: dict[str, list[dict]] = {}
    for r in rows:
        by_claim.setdefault(r["claim"], []).append(r)
    for claim in claims.CLAIMS:
        mine = by_claim.get(claim.key)
        if not mine:
            continue
        for baseline in dict.fromkeys(r["baseline"] for r in mine):
            sub = [r for r in mine if r["baseline"] == baseline and r["value"] is not None]
            values = [r["value"] for r in sub]
            defaults = [r["value"] for r in sub if r["is_default"]]
            verdict = claims.verdict(claim, min(values), max(values))
            out += [f"## {claim.text} (against {baseline})", "",
                    f"Published: {claims.published(claim)} ({claim.source}). Ours over every "
                    f"setting, model and hardware: **{_span(values)}** ({verdict}); at the "
                    f"defaults {_span(defaults)}.", "",
                    "| assumption | range over its settings | per setting (min to max over "
                    "models x hardware) |", "| --- | --- | --- |"]
            still = []
            for assumption in dict.fromkeys(r["assumption"] for r in sub):
                these = [r for r in sub if r["assumption"] == assumption]
                if not _moves(these) and not any(r["paper_setting"] for r in these):
                    still.append(f"`{assumption}`")
                    continue
                cells = []
                for setting in dict.fromkeys(r["setting"] for r in these):
                    at = [r for r in these if r["setting"] == setting]
                    text = f"{setting}: {_span([r['value'] for r in at])}"
                    if any(r["paper_setting"] for r in at):
                        text = f"**{text} (paper)**"
                    elif all(r["is_default"] for r in at):
                        text += " (default)"
                    elif any(r["is_default"] for r in at):
                        text += " (default on some hardware)"
                    cells.append(text)
                out.append(f"| `{assumption}` | {_span([r['value'] for r in these])} | "
                           f"{'; '.join(cells)} |")
            if still:
                out += ["", f"No setting of {', '.join(still)} moves it on any model or "
                        "hardware."]
            out.append("")
    left = [c.text for c in claims.CLAIMS if c.metric not in SENSITIVITY_METRICS]
    out += ["Not here (not a saving the sensitivity analysis reports; see results.md §4): "
            + "; ".join(left) + ".",
            "",
            "The APT claim on training energy is shown for RCT's trace (APT's runs are trained "
            "by run.py, not bundled); APT shares RCT's mechanism.", ""]
    return "\n".join(out)


def main() -> None:
    config = yaml.safe_load((HERE / "config.yaml").read_text(encoding="utf-8"))
    rows = measure(config)
    write_csv(rows, HERE / CSV_NAME)
    (HERE / MD_NAME).write_text(render(read_csv(HERE / CSV_NAME)), encoding="utf-8")
    print(f"wrote {HERE / CSV_NAME} ({len(rows)} rows) and {HERE / MD_NAME}", file=sys.stderr)


if __name__ == "__main__":
    main()
