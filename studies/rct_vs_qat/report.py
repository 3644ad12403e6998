"""Outputs of the rct_vs_qat study: CSV tables, results.md (tables and the reasons) and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import claims
import figures
import tables

from hwmodels import energy
from hwmodels.components import build_cost_models
from hwmodels.load import load_energy_table, load_hardware
from rctsim import study

COMMAND = "python studies/rct_vs_qat/run.py"
"""The command that regenerates this study."""


def _rows(result: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
    """Rows of results matching every key=value."""
    return [r for r in result["rows"] if all(r[k] == v for k, v in match.items())]


def _range(values: list[float]) -> str:
    """'a to b' as percentages (or one value)."""
    lo, hi = min(values), max(values)
    return study.pct(lo) if abs(hi - lo) < 5e-4 else f"{study.pct(lo)} to {study.pct(hi)}"


def gemm_reason(result: dict[str, Any], hw_name: str) -> str:
    """The closed form behind the GEMM-energy saving."""
    table = load_energy_table(load_hardware(hw_name).energy_table)
    e8, e32 = energy.int_mac_pj(table, 8, 8, 32), energy.fp32_mac_pj(table)
    rct = _rows(result, policy="rct")
    return (
        f"- **GEMM energy** (claim: {'/'.join(_verdicts(result, 'gemm_energy').values())}). "
        "The saving is set by the energy table: with "
        f"`{table.name}` an int8 MAC (8x8 multiply + 32-bit add) costs {e8:.2f} pJ and an fp32 "
        f"MAC {e32:.1f} pJ. Every policy does the same MACs (3·M·N·K per layer and iteration); "
        "RCT runs fwd, dgrad and wgrad at about 8 bits, QAT runs fwd at int8 and dgrad/wgrad at "
        "fp32 (straight-through estimator), fp32 all three. The closed forms "
        f"1 - 3·e8/(e8 + 2·e32) = {study.pct(1 - 3 * e8 / (e8 + 2 * e32))} against QAT and "
        f"1 - e8/e32 = {study.pct(1 - e8 / e32)} against fp32 match the measured "
        f"{_range([r['saving_vs_qat_gemm_energy'] for r in rct])} and "
        f"{_range([r['saving_vs_fp32_gemm_energy'] for r in rct])}; the rest is RCT's wider "
        "phases (layers gain bits as the learning rate decays) and, on `mcu_npu`, its "
        "int8/int16 datapath, where a 9-16-bit weight runs (and costs) 16 bits.")


def _verdicts(result: dict[str, Any], metric: str) -> dict[str, str]:
    """Claim text -> verdicts (one per baseline shown, joined) of the claims on `metric`."""
    texts = {c.text for c in claims.CLAIMS if c.metric == metric}
    out: dict[str, list[str]] = {}
    for row in tables.claim_rows(result):
        if row["claim"] in texts:
            out.setdefault(row["claim"], []).append(row["verdict"])
    return {k: "/".join(dict.fromkeys(v)) for k, v in out.items()}


def param_memory_reason(result: dict[str, Any], hardware: list[str]) -> str:
    """Why the parameter-memory saving is what it is (verdicts as in the claims table)."""
    parts = []
    for model in dict.fromkeys(r["model"] for r in result["rows"]):
        r = _rows(result, model=model, policy="rct")[0]
        bits = 8 * r["param_memory"] / r["params"]
        parts.append(f"{model} {bits:.1f} bits ({study.pct(1 - bits / 40)})")
    verdicts = _verdicts(result, "param_memory")
    packing = ", ".join(f"`{h}` `{load_hardware(h).packing}`" for h in hardware)
    return (
        "- **Parameter memory** (claims: "
        + "; ".join(f"'{k}' {v}" for k, v in verdicts.items()) + "). It is the stored bits "
        "per parameter at the widest phase: QAT 32 + 8 = 40 (fp32 master + int8 copy), RCT its "
        f"widest phase's parameter-weighted stored bits: {', '.join(parts)}, i.e. 1 - b/40. "
        f"Stored bits follow the hardware's storage packing ({packing}; docs/model.md §1): "
        "RCT's 9-16-bit weights occupy 16 bits. The TNNLS range 63.5-80% corresponds to "
        "8-14.6 bits per parameter.")


def param_movement_reason(result: dict[str, Any]) -> str:
    """Why our parameter-movement saving exceeds the papers' 'about half', with QAT's dgrad
    reading the int8 copy (the numbers' default) and, counterfactual, the fp32 master."""
    sens = result["sensitivity"]
    both_fit = [s for s in sens if s["rct_param_dram_bytes"] == 0 == s["qat_param_dram_bytes"]]
    preset = [s for s in sens if s["preset_size"]]
    rct = _rows(result, policy="rct")
    master = "qat:dgrad_weights=master"
    with_master = (
        f" With QAT's dgrad reading the fp32 master instead (`--baseline {master}`, a "
        "counterfactual replay on the RCT trace; 32 bits per weight moved in dgrad) the "
        f"saving is {_range([r[f'saving_vs_{master}_param_movement_energy'] for r in rct])} "
        "(section 3)." if master in result["baseline_labels"] else "")
    return (
        "- **Parameter movement** (ours "
        f"{_range([r['saving_vs_qat_param_movement_energy'] for r in rct])} against QAT's "
        "'about half'). Two modelling choices drive it. (1) What an iteration touches: RCT "
        "reads its w-bit weights in fwd and dgrad and reads and writes them in the update; QAT "
        "reads the int8 copy in fwd and again in dgrad (the model's default "
        "`qat_dgrad_weights: quantised`, docs/model.md §1: a straight-through estimator "
        "multiplies by the quantised weights, as the bundled trainer does), reads and writes "
        "the fp32 master in the update and writes a new int8 copy. With both policies' "
        "parameters resident on chip the saving is still "
        f"{_range([s['saving_param_movement'] for s in both_fit])} (section 7), and not from "
        "the bytes per weight: QAT's fp32 dgrad runs on the hardware's float unit (edge_npu's "
        "fp32 vector unit), which reads its weight operand from the global buffer once per "
        "output row (docs/model.md §2), where RCT's integer dgrad on the array holds the "
        "weights in the PEs; QAT's dgrad weight reads are "
        f"{_range([s['qat_dgrad_weights_pj'] / s['qat_param_movement_pj'] for s in both_fit])}"
        " of its parameter movement there."
        f"{with_master} "
        "(2) Residency: at the presets' buffer sizes QAT's 40 bits per parameter spill to DRAM "
        "while RCT's fit (image model), or spill far more (text model), so QAT pays DRAM "
        f"energy, ~{_dram_over_sram():.0f}x SRAM's per byte, every iteration: "
        f"{_range([s['saving_param_movement'] for s in preset])} at the preset's buffer. The "
        "papers' 'about half' is closer to a same-level bit count that ignores residency; "
        "without their text we cannot tell which accounting they used. `studies/sram_pareto` "
        "maps where the spill happens.")


def _dram_over_sram() -> float:
    """DRAM read energy per byte over the edge_npu global buffer's (its cost models)."""
    costs = build_cost_models(load_hardware("edge_npu"))
    return costs.dram.read_pj_per_byte / costs.global_buffer.read_pj_per_byte


def total_reason(result: dict[str, Any]) -> str:
    """Why total energy and peak memory are saved less than GEMM energy."""
    rct = _rows(result, policy="rct")
    return (
        "- **Total energy, DRAM traffic, peak memory.** RCT saves "
        f"{_range([r['saving_vs_qat_total_energy'] for r in rct])} of total energy against "
        "QAT: less than the GEMM saving because SRAM traffic of activations and gradients, "
        "DRAM traffic of tensors that do not fit, and leakage over the run are a large share "
        "and shrink less (activations and gradients are 8-bit in RCT as in QAT's forward "
        "pass). Peak training memory is dominated by the activations kept for the backward "
        "pass at batch 32, so RCT saves only "
        f"{_range([r['saving_vs_qat_peak_memory'] for r in rct])} of it against QAT and "
        f"{_range([r['saving_vs_fp32_peak_memory'] for r in rct])} against fp32. "
        "*Energy to target* counts the iterations until the first evaluation at or above the "
        "target accuracy (evaluations at epoch ends only): RCT reaches it "
        f"{_target_words(result)}.")


def _target_words(result: dict[str, Any]) -> str:
    """When RCT reached the target compared with QAT, per model."""
    words = []
    for model in dict.fromkeys(r["model"] for r in result["rows"]):
        it = {r["policy"]: r["target_iterations"] for r in _rows(result, model=model)
              if r["hardware"] == result["rows"][0]["hardware"]}
        words.append(f"{model}: at iteration {it['rct']} (QAT {it['qat']}, fp32 {it['fp32']})")
    return ("; ".join(words) + ". With one evaluation per epoch, a few tenths of a point "
            "move the hit by a whole epoch (" + "; ".join(_near_misses(result)) + "), so "
            "these differences are within one seed's noise")


def _near_misses(result: dict[str, Any]) -> list[str]:
    """Evaluations that missed their model's target by less than one point."""
    hw = result["rows"][0]["hardware"]
    out = []
    for c in result["curves"]:
        row = next(r for r in _rows(result, model=c["model"], policy=c["policy"])
                   if r["hardware"] == hw)
        target = result["targets"][c["model"]]
        if c["hardware"] == hw and target - 0.01 < c["eval_acc"] < target \
                and c["iterations"] < (row["target_iterations"] or 0):
            out.append(f"{c['model']} {c['policy']}: {100 * c['eval_acc']:.1f}% at iteration "
                       f"{c['iterations']}")
    return out or ["no evaluation came within a point of a target without reaching it"]


def _cf(result: dict[str, Any], label: str, key: str) -> list[float]:
    """RCT's saving of `key` against the counterfactual baseline `label`, every model x hw."""
    return [r[f"saving_vs_{label}_{key}"] for r in _rows(result, policy="rct")]


def baselines_reason(result: dict[str, Any], hw_name: str) -> str:
    """RCT against the fp16/bf16 baselines: what the model prices, and why."""
    labels = [b for b in ("qat-fp16", "qat-bf16", "mixed-fp16", "mixed-bf16")
              if b in result["baseline_labels"]]
    if not labels:
        return ""
    table = load_energy_table(load_hardware(hw_name).energy_table)
    e8 = energy.int_mac_pj(table, 8, 8, 32)
    e16 = energy.fp_mult_pj(table, 16) + energy.fp_add_pj(table, 32)
    parts = "; ".join(f"`{b}` {_range(_cf(result, b, 'gemm_energy'))}" for b in labels)
    mem = "; ".join(f"`{b}` {_range(_cf(result, b, 'param_memory'))}" for b in labels)
    total = "; ".join(f"`{b}` {_range(_cf(result, b, 'total_energy'))}" for b in labels)
    traffic = "; ".join(f"`{b}` {_range(_cf(result, b, 'dram_traffic'))}" for b in labels)
    rct = _rows(result, policy="rct")
    half = sorted({r["hardware"] for r in rct if _has_half_unit(r["hardware"])})
    full = sorted({r["hardware"] for r in rct} - set(half))
    closed = (f"for an all-8-bit RCT step the closed forms are 1 - 3·e8/(e8 + 2·e16) = "
              f"{study.pct(1 - 3 * e8 / (e8 + 2 * e16))} against `qat-fp16` and 1 - e8/e16 = "
              f"{study.pct(1 - e8 / e16)} against `mixed-fp16` (e16 = {e16:.2f} pJ with "
              f"`{table.name}`: fp16 multiply + fp32 add)")
    where = []
    if half:
        where.append(f"on {_names(half)}, which has a half-precision unit, those GEMMs run on "
                     f"it: {closed}")
    if full:
        on = [r for r in rct if r["hardware"] in full]
        where.append(
            f"on {_names(full)}, which has no fp16 or bf16 unit, they run on the fp32 unit and "
            "are priced at fp32: against `qat-fp16` the GEMM saving there is that against QAT "
            f"({_range([r['saving_vs_qat_gemm_energy'] for r in on])}), against `mixed-*` "
            f"that against fp32 ({_range([r['saving_vs_fp32_gemm_energy'] for r in on])})")
    return (
        "- **Mixed precision and an fp16/bf16 backward** (counterfactual baselines, "
        "docs/policies.md: the RCT trace's layers and iterations priced under each baseline's "
        f"formats; {_qat_check(result)}). GEMM energy saved by RCT: "
        f"{parts}. " + _sentence("; ".join(where)) + " "
        f"Parameter memory saved: {mem} "
        "(`qat-fp16` keeps QAT's int8 copy + fp32 master, 40 bits per parameter; `mixed-*` a "
        "16-bit working copy + fp32 master, 48). DRAM traffic saved: "
        f"{traffic}; total energy saved: {total} (against QAT: "
        f"{_range([r['saving_vs_qat_dram_traffic'] for r in rct])} and "
        f"{_range([r['saving_vs_qat_total_energy'] for r in rct])}). `qat-fp16` keeps QAT's "
        "int8 weights and activations but stores its gradients at 16 bits instead of 32, so "
        "it moves fewer bytes than QAT and RCT saves less against it; `mixed-*` store "
        "activations at 16 bits (QAT: 8) and gradients at 16 (QAT: 32)."
        + (" `mixed-fp16` and `mixed-bf16` cost the same here: both store 16 bits, and each "
           "preset computes both on the same unit at the same energy (the energy table prices "
           "float arithmetic by width)." if _same(result, "mixed-fp16", "mixed-bf16")
           else ""))


def _has_half_unit(hw_name: str) -> bool:
    """Whether a preset has a compute unit that does fp16 natively."""
    return any("fp16" in u.formats for u in load_hardware(hw_name).compute_units)


def _sentence(text: str) -> str:
    """`text` with its first letter upper-case and a full stop."""
    return text[:1].upper() + text[1:] + "."


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _qat_check(result: dict[str, Any]) -> str:
    """How the counterfactual `qat` on the RCT trace compares with the trained QAT run."""
    gap = result.get("qat_gap")
    if gap is None:
        return "not checked against the trained QAT run"
    if gap < 1e-9:
        return ("the counterfactual `qat` replayed the same way costs exactly what the trained "
                "QAT run costs on every model and hardware, so the two kinds of row compare")
    return (f"the counterfactual `qat` replayed the same way differs from the trained QAT run "
            f"by up to {study.pct(gap, 2)} in GEMM energy, total energy, parameter memory and "
            "movement, DRAM traffic or latency")


def _same(result: dict[str, Any], a: str, b: str) -> bool:
    """Whether two counterfactual baselines cost the same in every row."""
    rows = {(r["model"], r["hardware"], r["policy"]): r for r in result["baselines"]}
    keys = [k for k in rows if k[2] == a]
    return bool(keys) and all(
        (k[0], k[1], b) in rows and all(rows[k][m] == rows[(k[0], k[1], b)][m]
                                        for m in ("total_energy", "param_memory", "latency"))
        for k in keys)


def apt_reason(result: dict[str, Any]) -> str:
    """APT's claims against our runs."""
    slopes = tables.apt_slopes(result["apt"])
    edge = [s for s in slopes if s["hardware"] == result["apt"][0]["hardware"]]
    return (
        "- **APT.** Against fp32 (our assumption of APT's baseline) APT saves "
        f"{_range([r['saving_vs_fp32_total_energy'] for r in result['apt']])} of training "
        f"energy and {_range([r['saving_vs_fp32_peak_memory'] for r in result['apt']])} of "
        "peak training memory: the > 50% claims hold. The trade-off is flatter than '+20% for "
        "1%': lowering the trade-off parameter gives up accuracy for narrower weights, but "
        "weights are a small part of the energy and memory (activations, gradients, leakage "
        f"dominate), so we measure {_range([s['energy_per_point'] for s in edge])} less energy "
        f"and {_range([s['memory_per_point'] for s in edge])} less peak memory per accuracy "
        "point on the first hardware. On `mcu_npu` (int8/int16 only) weights below 8 bits run "
        "and cost 8 bits, so narrower weights save no MAC energy there. APT's operands follow "
        "the weight bits (`operand_bits=adaptive`), so at larger trade-offs its activations "
        "widen past QAT's 8 bits and its peak memory exceeds QAT's (section 6).")


def setup_section(cfg, result: dict[str, Any]) -> list[str]:
    """The study's inputs: models, hardware, how runs are replayed and compared."""
    models = "\n".join(f"- `{k}`: {m.description}; trainer settings `{m.train}`"
                       for k, m in cfg.models.items())
    hws = "\n".join(f"- `{h}`: {load_hardware(h).description}" for h in cfg.hardware)
    labels = result["baseline_labels"]
    counterfactual = (
        " Beside the trained runs, counterfactual baselines "
        f"({', '.join(f'`{b}`' for b in labels)}; docs/policies.md) are replayed on each "
        "model's RCT trace with `rctsim.simulate(hw, trace, baseline=B)`: the same layers and "
        "iterations priced under the baseline's formats. They never trained, so they have no "
        "accuracy and no energy to the target accuracy (n/a)." if labels else "")
    return [
        "## Setup", "", "Models (bundled numpy trainer, docs/trainer.md):", "", models, "",
        "Hardware (docs/hardware.md):", "", hws, "",
        "Each trace is replayed with `rctsim.simulate(hw, trace, baseline=None)` (default "
        "options; QAT's dgrad reads the int8 copy, `qat_dgrad_weights: quantised`, "
        "docs/model.md §1); savings are `1 - ours/baseline` between the trained runs of the "
        f"same model.{counterfactual} Energies in mJ over the whole run.", ""]


def sections(cfg, result: dict[str, Any]) -> list[list[str]]:
    """results.md's sections in order, each a list of lines (a new section is one more
    entry)."""
    return [
        setup_section(cfg, result),
        ["## 1. Accuracy", "", tables.accuracy_table(result, cfg)],
        ["## 2. What each run costs", "", tables.cost_table(result)],
        ["## 3. What RCT saves", "", tables.savings_table(result, "rct")],
        ["## 4. Against the papers' claims", "",
         "Claims as docs/concepts.md quotes the papers' abstracts (the full texts are not "
         "available here). *meets*: our whole range satisfies the claim (an 'about' claim "
         "within 10 points); *partly*: some runs do; *below* / *above*: none does, every run "
         "is below / above. Each claim as a range over the settings of every modelling "
         "assumption (`rctsim sensitivity`), with the paper's setting marked: "
         "[claim_ranges.md](claim_ranges.md) (`python studies/rct_vs_qat/claim_ranges.py`).",
         "", tables.claims_table(result)],
        ["## 5. Where we differ, and why", "",
         gemm_reason(result, cfg.hardware[0]), param_memory_reason(result, cfg.hardware),
         param_movement_reason(result), total_reason(result),
         *filter(None, [baselines_reason(result, cfg.hardware[0])]), apt_reason(result), ""],
        ["## 6. APT at three trade-offs (image model)", "", tables.apt_table(result["apt"]),
         tables.slope_table(result["apt"])],
        [f"## 7. Parameter movement against global-buffer size (`{cfg.hardware[0]}`)", "",
         tables.sensitivity_table(result["sensitivity"])],
        ["## What is comparable with the papers, and what is not", "",
         "- Comparable: ratios that depend on bits and the energy table only (GEMM energy, "
         "parameter memory, the bits RCT settles at). These transfer to other models.",
         "- Not comparable: absolute energies and accuracies. Our models have 20k and 98k "
         "parameters and train for 4 and 10 epochs on generated stroke digits and the Python "
         "reference text, not ResNet/ImageNet or CIFAR; one seed each, so accuracy differences "
         "below about half a point are noise. The hardware is our presets with a 45 nm table, "
         "not the papers' energy model. Savings that depend on residency (parameter movement, "
         "DRAM traffic, total energy) change with model size against SRAM size.", "",
         "Figures (plotly JSON, `plotly.io.read_json(path).show()`): `figures/energy_breakdown."
         "json`, `figures/accuracy_vs_energy.json`, `figures/apt_tradeoff.json`.", ""],
    ]


def results_md(cfg, result: dict[str, Any]) -> str:
    """The whole results.md."""
    head = ["# RCT against QAT and fp32 (and APT)", "",
            f"Generated by `{COMMAND}` (config `studies/rct_vs_qat/config.yaml`; "
            f"`{COMMAND} --retrain` trains the six runs again). Do not edit by hand.", ""]
    return "\n".join(head + [line for section in sections(cfg, result) for line in section])


def write_all(out_dir: Path, cfg, result: dict[str, Any]) -> None:
    """results.csv, curves.csv, claims.csv, sram_sensitivity.csv, baselines.csv, results.md,
    figures/*.json."""
    rows = result["rows"] + result["apt"]
    study.write_text(out_dir / "results.csv", study.csv_text(rows, tables.ROW_COLUMNS))
    study.write_text(out_dir / "curves.csv", study.csv_text(
        result["curves"], ["model", "hardware", "policy", "iterations", "eval_acc",
                           "energy_pj"]))
    claim_rows = tables.claim_rows(result)
    study.write_text(out_dir / "claims.csv",
                        study.csv_text(claim_rows, list(claim_rows[0])))
    sens = result["sensitivity"]
    study.write_text(out_dir / "sram_sensitivity.csv", study.csv_text(sens, list(sens[0])))
    study.write_text(out_dir / "baselines.csv", study.csv_text(
        tables.baseline_csv_rows(result), tables.BASELINE_COLUMNS))
    study.write_text(out_dir / "results.md", results_md(cfg, result))
    for name, fig in figures.all_figures(result).items():
        study.write_figure(out_dir / "figures" / f"{name}.json", fig)
