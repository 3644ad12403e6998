"""Validation study: our array model against SCALE-Sim, our energy rules against their sources.

    python studies/validation/run.py [--config studies/validation/config.yaml]
                                     [--scalesim-python /tmp/ssvenv/bin/python]

Writes, next to this file: `cycles.csv` (one row per case and metric: SCALE-Sim's number, ours,
the relative error), `energy.csv` (published energy points against our scaling rules, at the
points and left out), `hierarchy.csv` (edge_npu's access energies against Eyeriss's),
`sram.csv` (Horowitz's SRAM points against the CACTI-calibrated banked model), `cacti_fit.csv`
(the banked model against CACTI's multi-bank runs),
`training_chip.csv` (a published training processor's TFLOPS/W against rctsim's on its preset),
`training_chip_factors.csv` (the chip's published fp16/fp8 factors against rctsim's),
`results.md` (the error distributions) and `figures/*.json` (plotly).
Without `--scalesim-python` the ResNet-18 cases compare with the committed SCALE-Sim output
(`scalesim_resnet18.json`); with it, SCALE-Sim is re-run (~4 min) and that file rewritten first.
"""

from __future__ import annotations

import argparse
import json
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hwmodels import energy, sram
from hwmodels.components import build_cost_models
from hwmodels.load import load_energy_table, load_hardware
from hwmodels.schema import ArraySpec, EnergyTable
from hwmodels.systolic import SystolicArray
from rctsim import InputError, study
from rctsim.gemm import gemm_report

HERE = Path(__file__).resolve().parent
"""The study's folder (outputs are written here)."""
ROOT = HERE.parents[1]
"""Repository root: paths in the config are relative to it."""


METRICS: tuple[str, ...] = ("compute_cycles", "ifmap_sram_reads", "filter_sram_reads",
                            "ofmap_sram_writes", "overall_util_pct", "mapping_efficiency_pct")
"""SCALE-Sim report fields compared (docs/array-model.md §3)."""

EYERISS_NORMALISED: dict[str, float] = {"pe_local": 1.0, "inter_pe": 2.0, "global": 6.0,
                                         "dram": 200.0}
"""Access energy relative to one MAC: Chen, Emer, Sze, "Eyeriss: A Spatial Architecture for
Energy-Efficient Dataflow for CNNs", ISCA 2016, table "normalized energy cost relative to a MAC
operation extracted from a commercial 65nm process": RF (0.5 kB) 1x, PE array (inter-PE) 2x (not
modelled by rctsim), global buffer (>100 kB) 6x, DRAM 200x; 16-bit operands."""

HOROWITZ_SRAM_CELLS = "itrs-hp"
"""CACTI cell type compared with Horowitz's SRAM points (a general-purpose 45 nm process)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ResnetLayers(_Strict):
    """The ResNet-18 layers re-run through SCALE-Sim."""

    model: str = "resnet18_cifar"
    """Shape-only model (workloads/shapes) the layers come from."""
    batch_size: Annotated[int, Field(ge=1)] = 1
    """Batch folded into M."""
    layers: Annotated[list[str], Field(min_length=1)]
    """Layer names (their forward GEMMs)."""
    arrays: Annotated[list[tuple[int, int]], Field(min_length=1)]
    """Array sizes (rows, cols)."""
    dataflows: Annotated[list[Literal["ws", "os", "is"]], Field(min_length=1)]
    """Dataflows."""
    reference: str
    """SCALE-Sim's output for these cases (committed; rewritten by --scalesim-python)."""


class EnergyChecks(_Strict):
    """Energy tables checked against their published points."""

    tables: Annotated[list[str], Field(min_length=1)]
    """Bundled table names or files."""
    hierarchy_hw: str = "edge_npu"
    """Hardware whose access-energy hierarchy is compared with Eyeriss's normalised costs."""


class PublishedEfficiency(_Strict):
    """One published energy-efficiency figure of a training processor."""

    precision: Literal["fp8", "fp16"]
    """MAC format the figure is measured at (rctsim's `gemm --bits` format)."""
    tflops_per_w: Annotated[float, Field(gt=0)]
    """Published (or derived, see `source`) TFLOPS/W."""
    source: str
    """Paper, table/figure, and any derivation."""


class PublishedFactor(_Strict):
    """A published ratio between two operating points of the chip."""

    value: Annotated[float, Field(gt=0)]
    """The published factor."""
    source: str
    """Paper, section or figure, and the sentence it is read from."""


class ZeroInputs(_Strict):
    """The published share of zero operands a chip skips (its sparsity exploitation)."""

    low: Annotated[float, Field(ge=0, lt=1)]
    """Smallest published share of zero inputs."""
    high: Annotated[float, Field(ge=0, lt=1)]
    """Largest published share of zero inputs."""
    source: str
    """Paper, section or figure."""

    @model_validator(mode="after")
    def _ordered(self) -> ZeroInputs:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class TrainingChip(_Strict):
    """A published on-device training processor modelled by a preset."""

    hw: str = "lnpu"
    """Preset modelling the chip."""
    gemm: tuple[int, int, int] = (256, 256, 256)
    """M, N, K of the GEMM whose energy per FLOP is compared (one FLOP = half a MAC)."""
    published: Annotated[list[PublishedEfficiency], Field(min_length=1)]
    """The chip's published efficiency at its precisions."""
    zero_inputs: ZeroInputs | None = None
    """Published share of skipped zero inputs: rctsim's dense efficiency is also shown crediting
    the skipped MACs as performed at no energy (an upper bound of what zero-skipping buys)."""
    fp16_over_fp8_energy: PublishedFactor | None = None
    """Published energy of an FP16 operation over an FP8 one, checked against the energy table."""
    mixed_over_fp16_efficiency: PublishedFactor | None = None
    """Published efficiency of the mixed FP8/FP16 operating point over sparse FP16, checked
    against rctsim's all-fp8 over fp16 efficiency (an upper bound for any FP8/FP16 mix)."""


class ValidationConfig(_Strict):
    """studies/validation/config.yaml."""

    fixture: str
    """SCALE-Sim fixture JSON (tests/fixtures/scalesim_cycles.json)."""
    resnet: ResnetLayers
    """ResNet-18 layers compared with SCALE-Sim."""
    energy: EnergyChecks
    """Energy-table checks."""
    training_chip: TrainingChip
    """A published training processor's efficiency against rctsim's."""


# ---------------------------------------------------------------- cycles against SCALE-Sim


def ours_for_case(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> dict[str, float]:
    """Our numbers for one SCALE-Sim case, from the engine's array component at native bits."""
    spec = ArraySpec(rows=rows, cols=cols, dataflow=dataflow, clock_hz=1e9, int_bits=[8],
                     pe_area_um2=1.0, pe_leakage_uw=0.0, area_source="timing only",
                     source="validation study")
    t = SystolicArray(spec, source="validation").gemm(m, n, k, 8, 8, False)
    return {"compute_cycles": t.compute_cycles, "ifmap_sram_reads": t.a_reads,
            "filter_sram_reads": t.b_reads, "ofmap_sram_writes": t.out_writes,
            "overall_util_pct": 100.0 * t.utilization,
            "mapping_efficiency_pct": 100.0 * t.mapping_efficiency}


def scalesim_adjusted(case: dict[str, Any]) -> dict[str, float]:
    """SCALE-Sim's numbers with its one known counting quirk undone.

    For `os` its OFMAP writes are M*N + folds*(rows + cols): `create_ofmap_demand_mat` counts each
    fold a second time by the padded tile's rows + cols (docs/array-model.md §3).
    """
    out = {metric: case[metric] for metric in METRICS}
    if case["dataflow"] == "os":
        folds = -(-case["m"] // case["rows"]) * -(-case["n"] // case["cols"])
        out["ofmap_sram_writes"] = case["ofmap_sram_writes"] - folds * (case["rows"] + case["cols"])
    return out


def rel_error(ours: float, theirs: float) -> float:
    """(ours - theirs) / theirs; 0 when both are 0."""
    if theirs == 0:
        return 0.0 if ours == 0 else float("inf")
    return (ours - theirs) / theirs


def compare_cases(cases: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """One row per case and metric: SCALE-Sim raw, adjusted, ours, relative errors."""
    rows = []
    for case in cases:
        ours = ours_for_case(case["m"], case["n"], case["k"], case["rows"], case["cols"],
                             case["dataflow"])
        adjusted = scalesim_adjusted(case)
        for metric in METRICS:
            rows.append({
                "source": source, "layer": case.get("layer", ""), "m": case["m"],
                "n": case["n"], "k": case["k"], "array": f"{case['rows']}x{case['cols']}",
                "dataflow": case["dataflow"], "metric": metric, "scalesim": case[metric],
                "scalesim_adjusted": adjusted[metric], "ours": ours[metric],
                "rel_error_raw": rel_error(ours[metric], case[metric]),
                "rel_error": rel_error(ours[metric], adjusted[metric]),
            })
    return rows


def resnet_spec(cfg: ResnetLayers, source: str = "config.yaml") -> dict[str, Any]:
    """The SCALE-Sim job: the named layers' forward GEMMs, arrays and dataflows."""
    return {"model": cfg.model, "batch_size": cfg.batch_size,
            "layers": study.gemm_layers(cfg.model, cfg.batch_size, cfg.layers,
                                           f"{source}: resnet.layers"),
            "arrays": [list(a) for a in cfg.arrays], "dataflows": list(cfg.dataflows)}


def run_scalesim(python: str, spec: dict[str, Any], out_path: Path) -> None:
    """Run studies/validation/scalesim_layers.py under `python` (a venv with SCALE-Sim)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        subprocess.run([python, str(HERE / "scalesim_layers.py"), str(spec_path), str(out_path)],
                       check=True, cwd=ROOT)


def load_reference(path: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """The SCALE-Sim reference JSON; an error if it does not hold exactly the spec's cases."""
    data = json.loads(path.read_text())
    want = {(la["name"], la["m"], la["n"], la["k"], r, c, d) for la in spec["layers"]
            for r, c in spec["arrays"] for d in spec["dataflows"]}
    have = {(x["layer"], x["m"], x["n"], x["k"], x["rows"], x["cols"], x["dataflow"])
            for x in data["cases"]}
    if want != have:
        raise InputError(str(path), "cases", "does not match config.yaml's resnet section",
                         "re-run with --scalesim-python to regenerate it")
    return data


# ---------------------------------------------------------------- energy against the tables

FAMILIES: dict[str, tuple[str, str]] = {
    "int_add": ("bits", "linear in bits"),
    "int_mult": ("bits", "power law in a*b"),
    "fp_add": ("bits", "linear in bits"),
    "fp_mult": ("bits", "power law in bits^2"),
    "sram_64b": ("size_bytes", "power law in size"),
}
"""Table families, the key of their points and the scaling rule (docs/hardware.md §3)."""


def rule_value(table: EnergyTable, family: str, key: float) -> float:
    """Our scaling rule's energy (pJ) for `family` at `key` (bits or bytes)."""
    if family == "int_add":
        return energy.int_add_pj(table, key)
    if family == "int_mult":
        return energy.int_mult_pj(table, key, key)
    if family == "fp_add":
        return energy.fp_add_pj(table, key)
    if family == "fp_mult":
        return energy.fp_mult_pj(table, key)
    return energy.sram_64b_pj(table, key)


def energy_rows(table: EnergyTable) -> list[dict[str, Any]]:
    """Each published point against our rule: with the full table, and with the point left out."""
    rows = []
    for family, (key_name, rule) in FAMILIES.items():
        entries = getattr(table, family)
        for i, entry in enumerate(entries):
            key = float(getattr(entry, key_name))
            others = [e for j, e in enumerate(entries) if j != i]
            loo = (rule_value(table.model_copy(update={family: others}), family, key)
                   if others else None)
            at = rule_value(table, family, key)
            rows.append({
                "table": table.name, "family": family, "key": key_name, "at": int(key),
                "published_pj": entry.energy_pj, "ours_at_point_pj": at,
                "error_at_point": rel_error(at, entry.energy_pj),
                "left_out_pj": loo, "from_points": len(others),
                "error_left_out": None if loo is None else rel_error(loo, entry.energy_pj),
                "rule": rule if len(others) > 1 else "proportional (one point left)",
            })
    return rows


def hierarchy_rows(hw_name: str) -> list[dict[str, Any]]:
    """Access energy per 16-bit word relative to a 16-bit MAC: ours against Eyeriss's table."""
    spec = load_hardware(hw_name)
    costs = build_cost_models(spec)
    mac = costs.mac.mac_energy_pj(a_bits=16, b_bits=16, is_float=False, acc_bits=16)
    rows = []
    for mem in spec.memories:
        per_word = costs.sram[mem.name].read_pj_per_byte * 2
        rows.append({"level": f"{mem.name} ({mem.role}, {mem.size_bytes} B)",
                     "role": mem.role, "ours_pj": per_word, "ours_x_mac": per_word / mac,
                     "eyeriss_x_mac": EYERISS_NORMALISED[mem.role]})
    rows.append({"level": "PE array (inter-PE forwarding)", "role": "inter_pe", "ours_pj": None,
                 "ours_x_mac": None, "eyeriss_x_mac": EYERISS_NORMALISED["inter_pe"]})
    per_word = costs.dram.read_pj_per_byte * 2
    rows.append({"level": f"DRAM ({spec.dram.technology or 'energy table'}, read)",
                 "role": "dram", "ours_pj": per_word,
                 "ours_x_mac": per_word / mac, "eyeriss_x_mac": EYERISS_NORMALISED["dram"]})
    return [{"mac_pj": mac, **r} for r in rows]


def sram_rows(table: EnergyTable) -> list[dict[str, Any]]:
    """The energy table's 64-bit SRAM reads against CACTI (one bank, and the banked model)."""
    rows = []
    for entry in table.sram_64b:
        size = int(entry.size_bytes or 0)
        one = sram.banked_sram(HOROWITZ_SRAM_CELLS, size, 1, 64)
        banks = max(1, size // 32768)
        banked = sram.banked_sram(HOROWITZ_SRAM_CELLS, size, banks, 64)
        rows.append({"table": table.name, "size_bytes": size, "published_pj": entry.energy_pj,
                     "cacti_one_bank_pj": one.read_pj,
                     "difference": rel_error(one.read_pj, entry.energy_pj),
                     "banks_of_32kb": banks, "cacti_banked_pj": banked.read_pj,
                     "difference_banked": rel_error(banked.read_pj, entry.energy_pj)})
    return rows


def cacti_fit_rows() -> list[dict[str, Any]]:
    """The banked model against CACTI's own multi-bank runs (the rows k_wire is fitted to)."""
    table = sram.cacti_table()
    rows = []
    for row in sram.multibank_rows():
        cells, size, banks, word = (row["cells"], int(row["size_bytes"]), int(row["banks"]),
                                    int(row["word_bits"]))
        model = sram.banked_sram(cells, size, banks, word, table)
        rows.append({"cells": cells, "size_bytes": size, "banks": banks, "word_bits": word,
                     "cacti_pj": float(row["read_pj"]), "model_pj": model.read_pj,
                     "rel_error": rel_error(model.read_pj, float(row["read_pj"]))})
    return rows


def training_chip_rows(cfg: TrainingChip) -> list[dict[str, Any]]:
    """rctsim's TFLOPS/W for one GEMM on the chip's preset at each published precision.

    `gemm_report` runs the GEMM with its operands starting in DRAM; the chip figure is compared
    with rctsim's on-chip energy (MACs + registers + buffer + leakage, DRAM left out, as a chip's
    TFLOPS/W is measured at its supply) and with the MAC arithmetic alone.
    """
    m, n, k = cfg.gemm
    rows = []
    for pub in cfg.published:
        report = gemm_report(m, n, k, hw=cfg.hw, bits=pub.precision)
        flops = 2 * report["macs"]
        on_chip = report["energy_pj"] - report["dram_energy_pj"]
        ours = flops / on_chip  # FLOP per pJ = TFLOP/J = TFLOPS/W
        rows.append({
            "hw": cfg.hw, "precision": pub.precision, "gemm": f"{m}x{n}x{k}",
            "unit": report["unit"], "published_tflops_per_w": pub.tflops_per_w,
            "ours_on_chip_tflops_per_w": ours,
            "ours_mac_only_tflops_per_w": flops / report["mac_energy_pj"],
            "ours_with_dram_tflops_per_w": flops / report["energy_pj"],
            "ratio_on_chip": ours / pub.tflops_per_w,
            "mac_share": report["mac_energy_pj"] / on_chip,
            "sram_share": report["sram_energy_pj"] / on_chip,
            "leakage_share": report["leakage_energy_pj"] / on_chip,
            **zero_skip_credit(ours, pub.tflops_per_w, cfg.zero_inputs),
            "source": pub.source})
    return rows


def zero_skip_credit(ours: float, published: float,
                     zeros: ZeroInputs | None) -> dict[str, float | None]:
    """rctsim's dense efficiency with the skipped MACs counted as performed at no energy.

    A chip that skips a share s of its MACs (zero inputs) and reports the dense operation count
    reaches at most 1 / (1 - s) times the dense efficiency, if every skipped MAC saved all of its
    on-chip energy; the columns give that bound at the published low and high s.
    """
    if zeros is None:
        return {"ours_crediting_skipped_low": None, "ours_crediting_skipped_high": None,
                "ratio_crediting_skipped_high": None}
    high = ours / (1 - zeros.high)
    return {"ours_crediting_skipped_low": ours / (1 - zeros.low),
            "ours_crediting_skipped_high": high,
            "ratio_crediting_skipped_high": high / published}


def training_chip_factor_rows(cfg: TrainingChip,
                              chip: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Published ratios between the chip's precisions against rctsim's on its preset.

    `fp16_over_fp8_energy` is compared with the MAC-arithmetic energy ratio (the table's fp16 MAC
    over its fp8 MAC) and with the on-chip energy ratio per FLOP; `mixed_over_fp16_efficiency`
    with rctsim's all-fp8 over fp16 on-chip efficiency. Needs rows at both fp8 and fp16.
    """
    by = {r["precision"]: r for r in chip}
    if not {"fp8", "fp16"} <= set(by):
        return []
    fp8, fp16 = by["fp8"], by["fp16"]
    mac = fp8["ours_mac_only_tflops_per_w"] / fp16["ours_mac_only_tflops_per_w"]
    on_chip = fp8["ours_on_chip_tflops_per_w"] / fp16["ours_on_chip_tflops_per_w"]
    rows = []
    if cfg.fp16_over_fp8_energy is not None:
        pub = cfg.fp16_over_fp8_energy
        rows.append({"factor": "fp16 / fp8 energy per operation", "published": pub.value,
                     "ours_mac_only": mac, "ours_on_chip": on_chip, "source": pub.source})
    if cfg.mixed_over_fp16_efficiency is not None:
        pub = cfg.mixed_over_fp16_efficiency
        rows.append({"factor": "FP8/FP16 mix / FP16 efficiency (ours: all fp8 / fp16)",
                     "published": pub.value, "ours_mac_only": mac, "ours_on_chip": on_chip,
                     "source": pub.source})
    return rows


# ---------------------------------------------------------------- report


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Error distribution per source and metric."""
    out = []
    for source in sorted({r["source"] for r in rows}):
        for metric in METRICS:
            sel = [r for r in rows if r["source"] == source and r["metric"] == metric]
            adj = study.percentile_summary([r["rel_error"] for r in sel])
            raw = study.percentile_summary([r["rel_error_raw"] for r in sel])
            out.append({"source": source, "metric": metric, "cases": adj["n"],
                        "exact_share": _exact_share(sel, "scalesim_adjusted"),
                        "exact_share_raw": _exact_share(sel, "scalesim"),
                        "max_abs_rel_error": adj["max_abs"], "p90_abs_rel_error": adj["p90_abs"],
                        "max_abs_rel_error_raw": raw["max_abs"]})
    return out


def _exact_share(rows: list[dict[str, Any]], column: str) -> float:
    """Share of rows whose ours equals the column (integers exactly, floats to 1e-9)."""
    def same(r: dict[str, Any]) -> bool:
        return abs(r["ours"] - r[column]) <= 1e-9 * max(1.0, abs(r[column]))
    return sum(same(r) for r in rows) / len(rows)


def _fmt(value: float | None, spec: str) -> str:
    return "not modelled" if value is None else format(value, spec)


def cacti_section(s_rows: list[dict], fit_rows: list[dict]) -> list[str]:
    """results.md section: the CACTI-calibrated banked SRAM against Horowitz and CACTI itself."""
    rows = [(r["table"], r["size_bytes"], r["published_pj"], f"{r['cacti_one_bank_pj']:.4g}",
             study.pct(r["difference"]), r["banks_of_32kb"], f"{r['cacti_banked_pj']:.4g}",
             study.pct(r["difference_banked"])) for r in s_rows]
    fit = study.percentile_summary([r["rel_error"] for r in fit_rows])
    header = sram.cacti_table().header
    wire = sram.cacti_table().wire_pj_per_bit_mm
    return [
        "## 3. Banked SRAM (CACTI 45 nm) against Horowitz's SRAM points",
        "",
        "The banked SRAM model (docs/hardware.md §3) reads "
        f"`hwmodels/memory/{sram.TABLE_FILES[0]}` (and the 16 MiB banks of "
        f"`{sram.TABLE_FILES[1]}`): "
        f"{header[0].split(' from ', 1)[1].split(', built')[0]}. Horowitz's 64-bit reads against "
        f"CACTI's one bank of the same size ({HOROWITZ_SRAM_CELLS} cells, 64-bit words), and "
        "against the banked model with 32 KB banks (bank energy + wiring):",
        "",
        study.md_table(rows, ["table", "bytes", "published pJ", "CACTI, 1 bank",
                                 "difference", "banks", "banked model", "difference"],
                          "lrrrrrrr"),
        "The wiring term's k_wire (least squares over CACTI's multi-bank runs): "
        + ", ".join(f"{cells} {k:.3g} pJ/bit/mm" for cells, k in wire.items())
        + f". Against those {fit['n']} CACTI multi-bank memories the banked model's read "
        f"energy is within {study.pct(fit['median_abs'])} (median), "
        f"{study.pct(fit['p90_abs'])} (90th percentile), {study.pct(fit['max_abs'])} "
        "(max) of CACTI's (`cacti_fit.csv`).",
        "",
    ]


def markdown(summary: list[dict], energy_table_rows: list[dict], hierarchy: list[dict],
             reference: dict[str, Any], resnet_rows: list[dict],
             cacti: list[str] | None = None) -> str:
    """results.md: the error distributions and the energy comparison."""
    sim_rows = [(s["source"], s["metric"], s["cases"], study.pct(s["exact_share_raw"]),
                 study.pct(s["exact_share"]), f"{s['max_abs_rel_error_raw']:.3g}",
                 f"{s['max_abs_rel_error']:.3g}") for s in summary]
    cyc = [r for r in resnet_rows if r["metric"] == "compute_cycles"]
    per_layer = [(r["layer"], f"{r['m']}x{r['n']}x{r['k']}", r["array"], r["dataflow"],
                  r["scalesim"], r["ours"]) for r in cyc]
    e_rows = [(r["table"], r["family"], r["at"], r["published_pj"],
               f"{r['ours_at_point_pj']:.4g}", study.pct(r["error_at_point"], 2),
               "-" if r["left_out_pj"] is None else f"{r['left_out_pj']:.4g}",
               study.pct(r["error_left_out"]), r["rule"]) for r in energy_table_rows]
    loo = [abs(r["error_left_out"]) for r in energy_table_rows if r["error_left_out"] is not None]
    loo_sum = study.percentile_summary(loo)
    h_rows = [(r["level"], _fmt(r["ours_pj"], ".3g"),
               _fmt(r["ours_x_mac"], ".3g") + ("x" if r["ours_x_mac"] is not None else ""),
               f"{r['eyeriss_x_mac']:g}x") for r in hierarchy]
    dram = hierarchy[-1]
    dram_ratio = dram["ours_x_mac"] / dram["eyeriss_x_mac"]
    gb_ratio, rf_ratio = (next(r["ours_x_mac"] / r["eyeriss_x_mac"] for r in hierarchy
                               if r["role"] == role) for role in ("global", "pe_local"))
    header = reference["header"]
    ss_seconds = sum(r["seconds"] for r in reference["runs"])
    return "\n".join([
        "# Validation: cycles against SCALE-Sim, energies against their sources",
        "",
        "Generated by `python studies/validation/run.py` (config: "
        "`studies/validation/config.yaml`). Do not edit by hand.",
        "",
        "## 1. Array model against SCALE-Sim",
        "",
        f"Sources: `fixture` = the 324-case SCALE-Sim fixture (12 GEMM shapes x 9 arrays x "
        f"ws/os/is, `tests/fixtures/scalesim_cycles.json`); `resnet18` = {len(cyc)} cases: "
        f"layers {', '.join(dict.fromkeys(r['layer'] for r in cyc))} of `{header['model']}` "
        f"(batch {header['batch_size']}) on arrays "
        f"{', '.join(dict.fromkeys(r['array'] for r in cyc))} x ws/os/is, SCALE-Sim "
        f"{header['scalesim_version']} output committed in `scalesim_resnet18.json` "
        f"({ss_seconds:.0f} s of SCALE-Sim when it was made). *exact* counts a case as equal "
        "when integers match exactly and percentages to 1e-9. *adjusted* undoes SCALE-Sim's "
        "one counting quirk (os OFMAP writes counted a second time per fold by rows + cols; "
        "docs/array-model.md §3).",
        "",
        study.md_table(sim_rows, ["source", "metric", "cases", "exact (raw)",
                                     "exact (adjusted)", "max rel. error (raw)",
                                     "max rel. error (adjusted)"], "llrrrrr"),
        "Compute cycles per ResNet-18 case (SCALE-Sim's 'Total Cycles' with 0 stall cycles "
        "against ours):",
        "",
        study.md_table(per_layer, ["layer", "M x N x K", "array", "dataflow", "SCALE-Sim",
                                      "ours"], "lllrrr"),
        "## 2. Energy rules against the published table points",
        "",
        "*at point*: our rule evaluated at a published point with the whole table (must return "
        "the point). *left out*: the point removed from the table and predicted by our rule from "
        "the remaining points of its family (interpolation when it lies between them, "
        "extrapolation at the ends, proportional scaling when one point is left): the error of "
        "our scaling rules where the table has no point. Horowitz, ISSCC 2014 (45 nm); TPUv4i "
        "paper's 7 nm column (Jouppi et al., ISCA 2021, via secondary sources: docs/hardware.md).",
        "",
        study.md_table(e_rows, ["table", "family", "bits / bytes", "published pJ",
                                   "ours at point", "error", "ours, left out",
                                   "error left out", "rule used"], "llrrrrrrl"),
        f"Left-out error distribution over {loo_sum['n']} points: median |error| "
        f"{study.pct(loo_sum['median_abs'])}, 90th percentile "
        f"{study.pct(loo_sum['p90_abs'])}, max {study.pct(loo_sum['max_abs'])}. "
        "DRAM: Horowitz gives a range, 1.3-2.6 nJ per 64-bit access; we take the midpoint, "
        "1.95 nJ (-25% / +50% against the ends).",
        "",
        "### Access-energy hierarchy of `edge_npu` against Eyeriss",
        "",
        "Energy per 16-bit access relative to a 16x16-bit MAC (16-bit accumulate; "
        f"{hierarchy[0]['mac_pj']:.3g} pJ with our table), against Eyeriss's normalised costs "
        "(Chen et al., ISCA 2016: commercial 65 nm; RF 0.5 kB, global buffer >100 kB). A "
        "different process and a measured chip: this compares the *shape* of the hierarchy.",
        "",
        study.md_table(h_rows, ["level", "ours pJ / 16-bit access", "ours x MAC",
                                   "Eyeriss x MAC"], "lrrr"),
        f"Our DRAM/MAC ratio is {dram_ratio:.2f}x Eyeriss's (DRAM from the hardware's "
        "technology row, docs/hardware.md §3, against a 45 nm MAC); the global buffer is "
        f"{gb_ratio:.2f}x Eyeriss's ratio, the PE scratchpad {rf_ratio:.2f}x (SRAM from the "
        "banked CACTI 45 nm model). Eyeriss's 2x for forwarding between PEs has no counterpart "
        "in rctsim (operands move through the PE-local memory and the global buffer only). The "
        "ratios follow the description (`dram.technology`, memory `cells` and banks; overrides "
        "replace them).",
        "",
        *(cacti or []),
    ])


def training_chip_markdown(chip: list[dict[str, Any]], factors: list[dict[str, Any]],
                           zeros: ZeroInputs | None) -> str:
    """Section 3 of results.md: a published training processor against rctsim."""
    hw = chip[0]["hw"]
    t_rows = [(r["precision"], r["gemm"], r["unit"], f"{r['published_tflops_per_w']:.3g}",
               f"{r['ours_on_chip_tflops_per_w']:.3g}", f"{r['ratio_on_chip']:.3g}",
               f"{r['ours_mac_only_tflops_per_w']:.3g}",
               f"{study.pct(r['mac_share'])} / {study.pct(r['sram_share'])} / "
               f"{study.pct(r['leakage_share'])}") for r in chip]
    sources = [f"- {r['precision']}: {r['source']}" for r in chip]
    skip: list[str] = []
    if zeros is not None:
        s_rows = [(r["precision"], f"{r['ours_on_chip_tflops_per_w']:.3g}",
                   f"{r['ours_crediting_skipped_low']:.3g}",
                   f"{r['ours_crediting_skipped_high']:.3g}",
                   f"{r['published_tflops_per_w']:.3g}",
                   f"{r['ratio_crediting_skipped_high']:.3g}") for r in chip]
        skip = [
            f"Crediting zero-skipping: the chip skips {study.pct(zeros.low, 0)} to "
            f"{study.pct(zeros.high, 0)} zero inputs ({zeros.source}) and reports dense "
            "operations. rctsim's dense efficiency divided by (1 - s) is what skipping can buy "
            "at most (every skipped MAC saving all of its on-chip energy):",
            "",
            study.md_table(s_rows, ["precision", "ours, dense", f"ours / (1 - {zeros.low:g})",
                                    f"ours / (1 - {zeros.high:g})", "published",
                                    "bound / published"], "lrrrrr"),
        ]
    f_part: list[str] = []
    if factors:
        f_rows = [(f["factor"], f"{f['published']:.3g}", f"{f['ours_mac_only']:.3g}",
                   f"{f['ours_on_chip']:.3g}") for f in factors]
        f_part = [
            "Published factors between the chip's precisions against rctsim's:",
            "",
            study.md_table(f_rows, ["factor", "published", "ours, MAC arithmetic",
                                    "ours, on chip"], "lrrr"),
            *[f"- {f['factor']}: {f['source']}" for f in factors],
            "",
        ]
    energy = [f for f in factors if f["factor"].startswith("fp16 / fp8 energy")]
    fp_note = (f" (the table's fp16/fp8 MAC energy is {energy[0]['ours_mac_only']:.2f}x where "
               f"the paper states {energy[0]['published']:g}x)" if energy else "")
    return "\n".join([
        "",
        f"## 3. A published training processor: `{hw}` against its paper",
        "",
        "rctsim's energy efficiency for one dense GEMM on the preset (operands from DRAM, "
        f"`rctsim gemm M N K --hw {hw} --bits fp8|fp16`), on-chip energy (MACs, PE registers, "
        "global buffer, leakage; DRAM left out, as a chip's TFLOPS/W is measured at its core "
        "supply), against the published figure. One FLOP = half a MAC.",
        "",
        study.md_table(t_rows, ["precision", "GEMM", "unit", "published TFLOPS/W",
                                   "ours TFLOPS/W (on chip)", "ours / published",
                                   "ours, MAC arithmetic only",
                                   "MAC / SRAM / leakage share"], "lllrrrrr"),
        "Published figures:",
        "",
        *sources,
        "",
        *skip,
        *f_part,
        "Why rctsim is lower (reasons, not fitted corrections): (1) the published 25.3 TFLOPS/W "
        "counts operations skipped by LNPU's zero-skipping of sparse inputs as performed, "
        "rctsim counts a dense GEMM; the table above bounds what that accounts for (at most "
        "1 / (1 - s)), which leaves most of the gap; (2) the MAC and SRAM energies are "
        "Horowitz's 45 nm, 0.9 V figures with no node or voltage scaling: LNPU's process node "
        "and supply are not in the sources reachable here (its sibling training chips from the "
        "same group, DF-LNPU and GANPU, are 65 nm, sources in the preset; a 65 nm datapath "
        "costs more per operation than 45 nm, so node scaling would widen the gap, and the "
        "chip's low-voltage operating point is unknown), and FP8 is extrapolated from "
        "Horowitz's FP16/FP32 points"
        f"{fp_note}; (3) every MAC reads both operands "
        "and reads and writes its partial sum in the PE registers at the table's small-SRAM "
        "energy (extrapolated below its 8 KB point), which a custom datapath with latches and "
        "operand reuse does not pay (SRAM is "
        f"{study.pct(min(r['sram_share'] for r in chip), 0)} or more of rctsim's on-chip "
        "energy here); "
        f"(4) the preset's organisation (PE count, clock, buffer, DRAM) is assumed (marked in "
        f"hwmodels/presets/{hw}.yaml: the paper's chip summary is not reachable here), which "
        "moves the leakage and buffer shares. The MAC-arithmetic-only column bounds what the "
        "table alone allows.",
        "",
    ])


def figures(rows: list[dict[str, Any]], e_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Plotly figures: our cycles against SCALE-Sim's (log-log), and left-out energy errors."""
    import plotly.graph_objects as go

    cyc = [r for r in rows if r["metric"] == "compute_cycles"]
    scatter = go.Figure()
    for source in sorted({r["source"] for r in cyc}):
        sel = [r for r in cyc if r["source"] == source]
        scatter.add_trace(go.Scatter(
            x=[r["scalesim"] for r in sel], y=[r["ours"] for r in sel], mode="markers",
            name=source, text=[f"{r['layer']} {r['m']}x{r['n']}x{r['k']} {r['array']} "
                               f"{r['dataflow']}" for r in sel]))
    scatter.update_layout(title="Compute cycles: rctsim against SCALE-Sim",
                          xaxis={"type": "log", "title": "SCALE-Sim cycles"},
                          yaxis={"type": "log", "title": "rctsim cycles"})
    loo = [r for r in e_rows if r["error_left_out"] is not None]
    bars = go.Figure(go.Bar(
        x=[f"{r['table']} {r['family']} {r['at']}" for r in loo],
        y=[100 * r["error_left_out"] for r in loo]))
    bars.update_layout(title="Energy rules: error predicting a left-out table point",
                       yaxis={"title": "error, %"})
    return {"cycles_vs_scalesim": scatter, "energy_left_out": bars}


def run(cfg: ValidationConfig, *, out_dir: Path = HERE, scalesim_python: str | None = None,
        write: bool = True, source: str = "config.yaml") -> dict[str, Any]:
    """Run the whole study; write its outputs when `write`; return the tables."""
    spec = resnet_spec(cfg.resnet, source)
    reference_path = study.root_path(cfg.resnet.reference, ROOT)
    if scalesim_python:
        run_scalesim(scalesim_python, spec, reference_path)
    reference = load_reference(reference_path, spec)
    fixture = json.loads(study.root_path(cfg.fixture, ROOT).read_text())
    rows = (compare_cases(fixture["cases"], "fixture")
            + compare_cases(reference["cases"], "resnet18"))
    e_rows = [r for name in cfg.energy.tables for r in energy_rows(load_energy_table(name))]
    hierarchy = hierarchy_rows(cfg.energy.hierarchy_hw)
    s_rows = sram_rows(load_energy_table("horowitz_45nm"))
    fit_rows = cacti_fit_rows()
    chip = training_chip_rows(cfg.training_chip)
    factors = training_chip_factor_rows(cfg.training_chip, chip)
    summary = summary_rows(rows)
    result = {"cycles": rows, "summary": summary, "energy": e_rows, "hierarchy": hierarchy,
              "sram": s_rows, "cacti_fit": fit_rows, "training_chip": chip,
              "training_chip_factors": factors}
    if write:
        cols = ["source", "layer", "m", "n", "k", "array", "dataflow", "metric", "scalesim",
                "scalesim_adjusted", "ours", "rel_error_raw", "rel_error"]
        study.write_text(out_dir / "cycles.csv", study.csv_text(rows, cols))
        study.write_text(out_dir / "energy.csv", study.csv_text(e_rows, list(e_rows[0])))
        study.write_text(out_dir / "hierarchy.csv",
                         study.csv_text(hierarchy, list(hierarchy[0])))
        study.write_text(out_dir / "sram.csv", study.csv_text(s_rows, list(s_rows[0])))
        study.write_text(out_dir / "cacti_fit.csv", study.csv_text(fit_rows, list(fit_rows[0])))
        study.write_text(out_dir / "training_chip.csv",
                         study.csv_text(chip, list(chip[0])))
        if factors:
            study.write_text(out_dir / "training_chip_factors.csv",
                             study.csv_text(factors, list(factors[0])))
        study.write_text(out_dir / "results.md", markdown(
            summary, e_rows, hierarchy, reference,
            [r for r in rows if r["source"] == "resnet18"], cacti_section(s_rows, fit_rows))
            + training_chip_markdown(chip, factors, cfg.training_chip.zero_inputs))
        for name, fig in figures(rows, e_rows).items():
            study.write_figure(out_dir / "figures" / f"{name}.json", fig)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "config.yaml"))
    parser.add_argument("--scalesim-python", default=None,
                        help="a Python with SCALE-Sim installed: re-run it on the ResNet-18 layers")
    args = parser.parse_args(argv)
    try:
        cfg = study.load_config(args.config, ValidationConfig)
        result = run(cfg, scalesim_python=args.scalesim_python, source=args.config)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for s in result["summary"]:
        print(f"{s['source']:9s} {s['metric']:24s} {s['cases']:4d} cases, exact "
              f"{100 * s['exact_share']:.1f}% (raw {100 * s['exact_share_raw']:.1f}%)")
    print(f"wrote {HERE / 'results.md'}")
    return run_summary()


def run_summary() -> int:
    """Refresh docs/results.md from the studies' committed outputs (studies/summary.py)."""
    return runpy.run_path(str(HERE.parent / "summary.py"), run_name="summary")["main"]()


if __name__ == "__main__":
    sys.exit(main())
