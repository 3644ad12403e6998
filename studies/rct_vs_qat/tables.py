"""Markdown tables of the rct_vs_qat study (results.md is assembled in report.py)."""

from __future__ import annotations

from typing import Any

import claims

from rctsim import study

PJ_PER_MJ = 1e9
"""Picojoules per millijoule."""

ROW_COLUMNS: tuple[str, ...] = (
    "model", "hardware", "policy", "tradeoff", "accuracy", "mean_w_bits", "iterations",
    "target_iterations", "gemm_energy", "mac_energy", "sram_energy", "dram_energy",
    "leakage_energy", "total_energy", "energy_to_target", "param_movement_energy",
    "param_memory", "peak_memory", "dram_traffic", "latency",
    *(f"saving_vs_{b}_{m}" for b in ("qat", "fp32")
      for m in ("gemm_energy", "param_memory", "param_movement_energy", "dram_traffic",
                "total_energy", "peak_memory", "latency", "energy_to_target")),
)
"""Columns of results.csv (energies pJ, memory and traffic bytes, latency s)."""


def mj(value: float | None) -> str:
    """pJ as mJ, 3 significant digits."""
    return "n/a" if value is None else f"{value / PJ_PER_MJ:.3g}"


def kb(value: float) -> str:
    """Bytes as KB (1024), 3 significant digits."""
    return f"{value / 1024:.3g}"


def accuracy_table(result: dict[str, Any], cfg) -> str:
    """Accuracy, bits, and when each run first reached its model's target."""
    rows = []
    for r in result["rows"]:
        if r["hardware"] != cfg.hardware[0]:
            continue
        target = cfg.models[r["model"]].target_accuracy
        reached = "never" if r["target_iterations"] is None else f"{r['target_iterations']}"
        rows.append((r["model"], r["policy"], f"{100 * r['accuracy']:.1f}%",
                     f"{r['mean_w_bits']:.2f}", r["iterations"], f"{100 * target:g}%", reached,
                     result["how"][r["model"]][r["policy"]]))
    return study.md_table(rows, ["model", "policy", "test accuracy", "mean weight bits",
                                    "iterations", "target", "target reached at iteration",
                                    "trace"], "llrrrrrl")


BASELINE_COLUMNS: tuple[str, ...] = (
    "model", "hardware", "policy", "mean_w_bits", "iterations", "gemm_energy", "mac_energy",
    "sram_energy", "dram_energy", "leakage_energy", "total_energy", "param_movement_energy",
    "param_memory", "peak_memory", "dram_traffic", "latency",
    *(f"rct_saving_{m}" for m in ("gemm_energy", "param_memory", "param_movement_energy",
                                  "dram_traffic", "total_energy", "peak_memory", "latency")),
)
"""Columns of baselines.csv: each counterfactual baseline on each model's RCT trace and
hardware (units as results.csv), and RCT's saving against it."""


def baseline_csv_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The counterfactual baselines' rows with RCT's savings against each."""
    out = []
    for b in result["baselines"]:
        rct = next(r for r in result["rows"] if (r["model"], r["hardware"], r["policy"])
                   == (b["model"], b["hardware"], "rct"))
        out.append({**b, **{f"rct_saving_{m}": rct[f"saving_vs_{b['policy']}_{m}"]
                            for m in ("gemm_energy", "param_memory", "param_movement_energy",
                                      "dram_traffic", "total_energy", "peak_memory",
                                      "latency")}})
    return out


def ordered_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Trained runs of each model and hardware, each group followed by its counterfactual
    baselines."""
    out = []
    for r in result["rows"]:
        out.append(r)
        if r["policy"] == "rct":
            out += [b for b in result["baselines"]
                    if (b["model"], b["hardware"]) == (r["model"], r["hardware"])]
    return out


def _who(r: dict[str, Any], result: dict[str, Any]) -> str:
    return (f"{r['policy']} (counterfactual)" if r["policy"] in result["baseline_labels"]
            else r["policy"])


def cost_table(result: dict[str, Any]) -> str:
    """Absolute costs of each run and counterfactual baseline (energies in mJ, memories in
    KB)."""
    rows = ordered_rows(result)
    out = [(r["model"], r["hardware"], _who(r, result), mj(r["gemm_energy"]), mj(r["mac_energy"]),
            mj(r["sram_energy"]), mj(r["dram_energy"]), mj(r["leakage_energy"]),
            mj(r["total_energy"]), mj(r["energy_to_target"]), mj(r["param_movement_energy"]),
            kb(r["param_memory"]), kb(r["peak_memory"]), f"{r['dram_traffic'] / 1e6:.3g}",
            f"{r['latency']:.3g}") for r in rows]
    return study.md_table(out, [
        "model", "hw", "policy", "GEMM mJ", "all MACs mJ", "SRAM mJ", "DRAM mJ", "leakage mJ",
        "total mJ", "to target mJ", "param movement mJ", "param memory KB", "peak memory KB",
        "DRAM MB", "latency s"], "lll" + "r" * 12)


SAVING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("gemm_energy", "GEMM energy"), ("param_memory", "param memory"),
    ("param_movement_energy", "param movement"), ("dram_traffic", "DRAM traffic"),
    ("total_energy", "total energy"), ("energy_to_target", "energy to target"),
    ("peak_memory", "peak memory"), ("latency", "latency"))
"""Savings shown in the savings table."""


def savings_table(result: dict[str, Any], policy: str) -> str:
    """Savings of `policy` against the trained qat and fp32 runs and each counterfactual
    baseline, for every model and hardware."""
    out = []
    for r in result["rows"]:
        if r["policy"] != policy:
            continue
        for base in ("qat", "fp32", *result["baseline_labels"]):
            if f"saving_vs_{base}_gemm_energy" not in r:
                continue
            who = f"{base} (counterfactual)" if base in result["baseline_labels"] else base
            out.append((r["model"], r["hardware"], who, *(
                study.pct(r.get(f"saving_vs_{base}_{key}")) for key, _ in SAVING_COLUMNS)))
    return study.md_table(out, ["model", "hw", "against", *(t for _, t in SAVING_COLUMNS)],
                             "lll" + "r" * len(SAVING_COLUMNS))


def ours_range(claim: claims.Claim, result: dict[str, Any], base: str) -> tuple[float, float]:
    """Min and max of our number for a claim over models x hardware."""
    if claim.metric == "mean_w_bits":
        values = [r["mean_w_bits"] for r in result["rows"] if r["policy"] == "rct"]
    elif claim.metric == "apt_tradeoff":
        values = [t["energy_per_point"] for t in apt_slopes(result["apt"])]
    elif claim.key.startswith("apt"):
        values = [r[f"saving_vs_{base}_{claim.metric}"] for r in result["apt"]]
    else:
        values = [r[f"saving_vs_{base}_{claim.metric}"] for r in result["rows"]
                  if r["policy"] == "rct"]
    return min(values), max(values)


def claim_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each claim and baseline: the published value, our range over models x hw, a verdict."""
    out = []
    known = {"qat", "fp32", "-", *result.get("baseline_labels", [])}
    for claim in claims.CLAIMS:
        for base in (b for b in claim.baselines if b in known):
            lo, hi = ours_range(claim, result, base)
            ours = (f"{lo:.2f}-{hi:.2f} bits" if claim.metric == "mean_w_bits"
                    else study.pct_range(lo, hi))
            out.append({"claim": claim.text, "source": claim.source,
                        "published": claims.published(claim), "baseline": base,
                        "ours_low": lo, "ours_high": hi,
                        "ours": ours + ("" if base == "-" else f" vs {base}"),
                        "verdict": claims.verdict(claim, lo, hi),
                        "comparable": claim.comparable})
    return out


def claims_table(result: dict[str, Any]) -> str:
    """Each claim, the published value, our range and a verdict."""
    out = [(r["claim"], r["source"], r["published"], r["ours"], r["verdict"], r["comparable"])
           for r in claim_rows(result)]
    return study.md_table(out, ["claim", "source", "published", "ours (all models x hw)",
                                   "verdict", "comparable?"], "llllll")


def apt_slopes(apt_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Between neighbouring APT trade-offs: energy and peak memory saved per accuracy point."""
    out = []
    for hw in dict.fromkeys(r["hardware"] for r in apt_rows):
        runs = sorted((r for r in apt_rows if r["hardware"] == hw), key=lambda r: r["accuracy"])
        for lo, hi in zip(runs, runs[1:], strict=False):
            points = 100 * (hi["accuracy"] - lo["accuracy"])
            if points <= 0:
                continue
            out.append({
                "hardware": hw, "from": hi["tradeoff"], "to": lo["tradeoff"],
                "accuracy_points": points,
                "energy_saved": 1 - lo["total_energy"] / hi["total_energy"],
                "memory_saved": 1 - lo["peak_memory"] / hi["peak_memory"],
                "energy_per_point": (1 - lo["total_energy"] / hi["total_energy"]) / points,
                "memory_per_point": (1 - lo["peak_memory"] / hi["peak_memory"]) / points,
            })
    return out


def apt_table(apt_rows: list[dict[str, Any]]) -> str:
    """APT runs: accuracy, bits and savings against fp32 and QAT."""
    out = [(r["hardware"], f"{r['tradeoff']:g}", f"{100 * r['accuracy']:.1f}%",
            f"{r['mean_w_bits']:.2f}", study.pct(r["saving_vs_fp32_total_energy"]),
            study.pct(r["saving_vs_fp32_peak_memory"]),
            study.pct(r["saving_vs_fp32_param_memory"]),
            study.pct(r["saving_vs_qat_total_energy"]),
            study.pct(r["saving_vs_qat_peak_memory"])) for r in apt_rows]
    return study.md_table(out, ["hw", "tradeoff", "test accuracy", "mean weight bits",
                                   "energy saved vs fp32", "peak memory saved vs fp32",
                                   "param memory saved vs fp32", "energy saved vs QAT",
                                   "peak memory saved vs QAT"], "l" + "r" * 8)


def slope_table(apt_rows: list[dict[str, Any]]) -> str:
    """The trade-off between neighbouring APT runs."""
    out = [(s["hardware"], f"{s['from']:g} -> {s['to']:g}", f"{s['accuracy_points']:.1f}",
            study.pct(s["energy_saved"]), study.pct(s["memory_saved"]),
            study.pct(s["energy_per_point"]), study.pct(s["memory_per_point"]))
           for s in apt_slopes(apt_rows)]
    return study.md_table(out, ["hw", "tradeoff", "accuracy points given up",
                                   "energy saved", "peak memory saved", "energy per point",
                                   "memory per point"], "llrrrrr")


def sensitivity_table(rows: list[dict[str, Any]]) -> str:
    """Parameter movement of RCT and QAT at several global-buffer sizes."""
    out = [(r["model"], f"{r['sram_bytes'] // 1024} KB" + (" (preset)" if r["preset_size"]
                                                            else ""),
            mj(r["rct_param_movement_pj"]), mj(r["qat_param_movement_pj"]),
            f"{r['rct_param_dram_bytes'] / 1e6:.3g}", f"{r['qat_param_dram_bytes'] / 1e6:.3g}",
            study.pct(r["saving_param_movement"])) for r in rows]
    return study.md_table(out, ["model", "global buffer", "RCT param movement mJ",
                                   "QAT param movement mJ", "RCT param DRAM MB",
                                   "QAT param DRAM MB", "saved"], "llrrrrr")
