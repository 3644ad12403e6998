"""Write docs/results.md: the studies' headline numbers, read from their committed outputs.

    python studies/summary.py

Every study's `run.py` calls this after writing its outputs, so the summary never disagrees with
the tables it quotes. Each section names the command that produced its numbers.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from rctsim import study

ROOT = Path(__file__).resolve().parents[1]
"""Repository root."""

STUDIES = ROOT / "studies"
"""The studies folder."""

OUT = ROOT / "docs" / "results.md"
"""The summary written."""


def _f(value: str) -> float:
    """A CSV cell as a float."""
    return float(value)


def _pct_range(values: list[float]) -> str:
    """'a% to b%' over the values (or one value)."""
    return study.pct_range(min(values), max(values))


def validation_section() -> list[str]:
    """Array model against SCALE-Sim; energy rules against their sources."""
    folder = STUDIES / "validation"
    cycles = study.read_csv(folder / "cycles.csv")
    lines = []
    for source, label in (("fixture", "the 324-case SCALE-Sim fixture (12 GEMM shapes x 9 "
                                      "arrays x ws/os/is)"),
                          ("resnet18", "45 ResNet-18 (CIFAR) layer cases (5 layers x 32x32, "
                                       "16x16, 12x14 x ws/os/is)")):
        sel = [r for r in cycles if r["source"] == source]
        exact = {m: sum(abs(_f(r["rel_error"])) <= 1e-9 for r in sel if r["metric"] == m)
                 for m in dict.fromkeys(r["metric"] for r in sel)}
        cases = sum(1 for r in sel if r["metric"] == "compute_cycles")
        raw_ofmap = sum(abs(_f(r["rel_error_raw"])) <= 1e-9 for r in sel
                        if r["metric"] == "ofmap_sram_writes")
        lines.append(
            f"- On {label}: compute cycles agree exactly with SCALE-Sim 3.0.0 in "
            f"{exact['compute_cycles']}/{cases} cases; IFMAP and filter SRAM reads in "
            f"{exact['ifmap_sram_reads']}/{cases} and {exact['filter_sram_reads']}/{cases}; "
            f"OFMAP writes in {exact['ofmap_sram_writes']}/{cases} after undoing SCALE-Sim's "
            f"double count for `os` ({raw_ofmap}/{cases} before); utilisation and mapping "
            f"efficiency to 1e-9 in {exact['overall_util_pct']}/{cases} and "
            f"{exact['mapping_efficiency_pct']}/{cases}.")
    energy = study.read_csv(folder / "energy.csv")
    loo = study.percentile_summary([_f(r["error_left_out"]) for r in energy
                                       if r["error_left_out"]])
    at = max(abs(_f(r["error_at_point"])) for r in energy)
    tables = ", ".join(dict.fromkeys(r["table"] for r in energy))
    lines.append(
        f"- Energy rules ({tables}): at every published point our scaling rules return the "
        f"point (max error {at:.1g}); predicting each point from the others (left out), the "
        f"error over {loo['n']} points has median |error| {study.pct(loo['median_abs'])}, "
        f"90th percentile {study.pct(loo['p90_abs'])} and max "
        f"{study.pct(loo['max_abs'])}: the uncertainty of an energy between table points.")
    hier = study.read_csv(folder / "hierarchy.csv")
    lines.append(
        "- `edge_npu`'s access energies per 16-bit word relative to a 16-bit MAC, against "
        "Eyeriss's normalised costs (65 nm): " + ", ".join(
            f"{r['level'].split(' (')[0]} "
            + (f"{_f(r['ours_x_mac']):.3g}x" if r["ours_x_mac"] else "not modelled")
            + f" (Eyeriss {_f(r['eyeriss_x_mac']):g}x)" for r in hier)
        + " (SRAM from the banked CACTI 45 nm model, DRAM from the LPDDR4 row).")
    sram_rows = study.read_csv(folder / "sram.csv")
    lines.append(
        "- CACTI 45 nm (one bank, itrs-hp, 64-bit words) against Horowitz's 64-bit SRAM reads: "
        + ", ".join(f"{int(r['size_bytes']) // 1024} KB {_f(r['cacti_one_bank_pj']):.3g} pJ vs "
                    f"{_f(r['published_pj']):g} pJ ({study.pct(_f(r['difference']))})"
                    for r in sram_rows) + ".")
    return ["## Validation", "", "`python studies/validation/run.py` "
            "([results](../studies/validation/results.md))", "", *lines, ""]


def rct_section() -> list[str]:
    """RCT against QAT and fp32; the papers' claims."""
    folder = STUDIES / "rct_vs_qat"
    rows = study.read_csv(folder / "results.csv")
    claims = study.read_csv(folder / "claims.csv")
    acc = []
    for model in dict.fromkeys(r["model"] for r in rows):
        sel = {r["policy"]: _f(r["accuracy"]) for r in rows
               if r["model"] == model and r["tradeoff"] == "" and r["hardware"] == "edge_npu"}
        acc.append(f"{model}: " + ", ".join(f"{p} {100 * v:.1f}%" for p, v in sel.items()))
    rct = [r for r in rows if r["policy"] == "rct"]
    to_target = _pct_range([_f(r["saving_vs_qat_energy_to_target"]) for r in rct])
    table = study.md_table(
        [(c["claim"], c["published"], c["ours"], c["verdict"]) for c in claims],
        ["claim (RCT/APT papers)", "published", "ours (image + text model x edge_npu, mcu_npu)",
         "verdict"], "lllr")
    return [
        "## RCT against QAT and fp32", "",
        "`python studies/rct_vs_qat/run.py` ([results](../studies/rct_vs_qat/results.md))", "",
        "- Test accuracy (bundled trainer, one seed): " + "; ".join(acc) + ".",
        "- RCT against QAT: GEMM energy "
        f"{_pct_range([_f(r['saving_vs_qat_gemm_energy']) for r in rct])}, parameter memory "
        f"{_pct_range([_f(r['saving_vs_qat_param_memory']) for r in rct])}, parameter movement "
        f"{_pct_range([_f(r['saving_vs_qat_param_movement_energy']) for r in rct])}, DRAM "
        f"traffic {_pct_range([_f(r['saving_vs_qat_dram_traffic']) for r in rct])}, total "
        f"energy {_pct_range([_f(r['saving_vs_qat_total_energy']) for r in rct])}, energy to "
        f"the target accuracy {to_target}.",
        "", table, "", _claim_ranges_line(folder), "",
        "Why we differ where we do (details in the study): parameter memory follows the "
        "hardware's storage packing: the presets store whole bytes (`packing: byte`, "
        "docs/model.md §1), so RCT's 9-16-bit weights take 2 bytes against QAT's 1 + 4; "
        "bit-tight packing (`packing: packed`) gives 73.4% instead of 60.0% on the default run "
        "(`rctsim run --hw edge_npu --trace resnet`, edited to `packing: packed`). Parameter "
        "movement depends on whether each policy's parameters stay on chip, which the papers' "
        "'about half' does not capture. APT's narrower weights buy a saving that depends on how "
        "much of the energy the weights cause: activations, gradients, non-GEMM work and "
        "leakage do not shrink with them. Our models are small (20k and 98k parameters) and "
        "trained on our own data sets: ratios set by bits and the energy table transfer, "
        "absolute numbers do not.", ""]


def _claim_texts() -> dict[str, str]:
    """Claim key -> the claim in words (studies/rct_vs_qat/claims.py, the study's own list)."""
    claims = runpy.run_path(str(STUDIES / "rct_vs_qat" / "claims.py"), run_name="claims")
    return {c.key: c.text for c in claims["CLAIMS"]}


def _claim_ranges_line(folder: Path) -> str:
    """Each claim's range over every setting of every modelling assumption (claim_ranges.csv)."""
    rows = study.read_csv(folder / "claim_ranges.csv")
    texts = _claim_texts()
    words = []
    for claim, baseline in dict.fromkeys((r["claim"], r["baseline"]) for r in rows):
        values = [_f(r["value"]) for r in rows
                  if (r["claim"], r["baseline"]) == (claim, baseline)]
        words.append(f"{texts.get(claim, claim)} (vs {baseline}): {_pct_range(values)}")
    return ("- Each claim over every setting of every modelling assumption (`python studies/"
            "rct_vs_qat/claim_ranges.py`, [ranges](../studies/rct_vs_qat/claim_ranges.md), "
            "each assumption varied alone, both models and presets): " + "; ".join(words) + ".")


def speed_section() -> list[str]:
    """Speed against SCALE-Sim and ZigZag; growth."""
    folder = STUDIES / "speed"
    rows = study.read_csv(folder / "results.csv")
    tools = [r for r in rows if r["table"] == "tools"]
    scalesim = [_f(r["ratio_to_rctsim"]) for r in tools if r["tool"].startswith("SCALE-Sim")]
    zigzag = [_f(r["ratio_to_rctsim"]) for r in tools if r["tool"].startswith("ZigZag")]
    growth = [r for r in rows if r["table"] == "growth"]
    it = [r for r in growth if r["series"] == "iterations"]
    ph = [r for r in growth if r["series"] == "phases"]
    command = "python studies/speed/run.py --scalesim-python /tmp/ssvenv/bin/python " \
              "--zigzag-python /tmp/zzvenv/bin/python"
    lines = ["## Speed", "", f"`{command}` ([results](../studies/speed/results.md)); "
             "timings are not reproducible to the digit: the ratios and orders of magnitude "
             "are the result.", ""]
    if scalesim:
        agree = all(r["note"] == "cycles agree" for r in tools if r["tool"].startswith("SCALE"))
        lines.append(f"- SCALE-Sim takes {min(scalesim):,.0f}x to {max(scalesim):,.0f}x "
                     "rctsim's array model's time for five ResNet-18 layers on a 32x32 array "
                     f"(ws, os, is), {'the cycle counts identical' if agree else 'CYCLES DIFFER'}"
                     " in the same run.")
    if zigzag:
        lines.append(f"- ZigZag (mapping search on its TPU-like preset) takes "
                     f"{zigzag[0]:,.0f}x.")
    lines.append(
        f"- {int(_f(it[-1]['iterations']) / _f(it[0]['iterations'])):,}x more iterations cost "
        f"{_f(it[-1]['seconds']) / _f(it[0]['seconds']):.2f}x the replay time; replay time is "
        f"linear in distinct phases (about {_f(ph[-1]['seconds_per_phase']) * 1e3:.0f} ms per "
        "phase of ResNet-18 CIFAR on one core).")
    return [*lines, ""]


def sram_section() -> list[str]:
    """Where QAT spills and RCT does not."""
    folder = STUDIES / "sram_pareto"
    spills = study.read_csv(folder / "spills.csv")
    windows = study.read_csv(folder / "windows.csv") if (folder / "windows.csv").exists() \
        else []
    points = study.read_csv(folder / "results.csv")
    sizes = sorted({int(r["sram_kb"]) for r in points})
    swept = f"{_size(sizes[0])}-{_size(sizes[-1])}"
    lines = ["## SRAM size x policy", "", "`python studies/sram_pareto/run.py` "
             "([results](../studies/sram_pareto/results.md))", ""]
    for model in dict.fromkeys(s["model"] for s in spills):
        fits = {s["policy"]: s["fits_from_kb"] for s in spills if s["model"] == model}
        win = [w for w in windows if w["model"] == model]
        text = (f"- `{model}` on `edge_npu` (global buffer swept {swept}): parameters stay "
                "on chip from " + ", ".join(f"{p} {_size(int(kb))}" if kb else f"{p} never"
                                            for p, kb in fits.items()) + ".")
        if win:
            lo, hi = (f"{f(_f(w['qat_over_rct_energy']) for w in win):.2f}" for f in (min, max))
            text += (f" Where RCT fits and QAT spills, QAT uses {lo if lo == hi else lo + '-' + hi}"
                     "x RCT's energy; avoiding the spill takes QAT "
                     f"{int(win[0]['qat_fits_from_kb']) // int(win[0]['sram_kb'])}x the SRAM "
                     f"(+{_f(win[0]['qat_fit_extra_area_mm2']):.0f} mm² at 45 nm).")
        lines.append(text)
    lines.append("- " + _energy_optimum_words(points, sizes))
    return [*lines, ""]


def _energy_optimum_words(points: list[dict], sizes: list[int]) -> str:
    """Where the energy-optimal buffer lies, per model x policy, read from the study's points."""
    best: dict[tuple[str, str], tuple[float, int]] = {}
    ratio: list[float] = []
    for key in dict.fromkeys((r["model"], r["policy"]) for r in points):
        sel = [(_f(r["energy_pj"]), int(r["sram_kb"])) for r in points
               if (r["model"], r["policy"]) == key and r["status"] == "ok"]
        best[key] = min(sel)
        ratio.append(max(sel)[0] / best[key][0])
    at_smallest = [k for k, (_, kb) in best.items() if kb == sizes[0]]
    if len(at_smallest) == len(best):
        where = (f"the energy-optimal global buffer is the smallest swept ({_size(sizes[0])}) "
                 "for every model and policy")
    else:
        where = "the energy-optimal global buffer is " + ", ".join(
            f"{m} {p} {_size(kb)}" for (m, p), (_, kb) in best.items())
    return (f"Built of equal banks, {where}; the largest size costs "
            f"{min(ratio):.1f}-{max(ratio):.1f}x the optimum (every buffer access pays the "
            "wiring across a larger memory, docs/hardware.md).")


def search_section() -> list[str]:
    """Budgeted search against the brute force of an enumerable space."""
    folder = STUDIES / "search"
    rows = study.read_csv(folder / "results.csv")
    lines = ["## Search against brute force", "", "`python studies/search/run.py` "
             "([results](../studies/search/results.md))", ""]
    words = []
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [_f(r["fraction"]) for r in rows if r["method"] == method]
        words.append(f"{method} {study.pct(sum(sel) / len(sel))} (seeds "
                     f"{_pct_range(sel)})")
    budget = int(rows[0]["evaluations"])
    lines.append(f"- With a budget of {budget} evaluations, the mean share of the brute-force "
                 f"front's hypervolume over {len({r['seed'] for r in rows})} seeds: "
                 + "; ".join(words) + ".")
    return [*lines, ""]


def _size(kb: int) -> str:
    """KB as 'N KB' or 'N MB'."""
    return f"{kb // 1024} MB" if kb >= 1024 else f"{kb} KB"


def render() -> str:
    """The text of docs/results.md from the committed study outputs."""
    return "\n".join([
        "# Results of the studies", "",
        "Generated by `python studies/summary.py` from the studies' committed outputs (each "
        "study's `run.py` refreshes it). Every number below comes from the study whose "
        "command heads its section; `studies/README.md` says how to rerun them. The run JSON "
        "schema is in [run-json.md](run-json.md).", "",
        *validation_section(), *rct_section(), *speed_section(), *sram_section(),
        *search_section()])


def main() -> int:
    """Write docs/results.md."""
    study.write_text(OUT, render())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
