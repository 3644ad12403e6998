"""RCT against QAT and fp32 (and APT): accuracy, savings, and the papers' claims side by side.

    python studies/rct_vs_qat/run.py [--config studies/rct_vs_qat/config.yaml] [--retrain]
                                     [--cache-dir DIR]

Uses the bundled traces (made by the bundled trainer with the config's settings) unless
`--retrain`; trains the APT runs (cached by settings in the sweep trace cache, default
~/.cache/rctsim/traces). Writes `results.csv` (one row per model x hardware x policy: metrics
and savings against QAT and fp32), `curves.csv` (accuracy against energy spent), `claims.csv`,
`sram_sensitivity.csv`, `baselines.csv` (the counterfactual baselines of the config, and
RCT's savings against each), `results.md` and `figures/*.json` next to this file.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import measure
import report
from pydantic import BaseModel, ConfigDict, Field

from rctsim import InputError, Trace, TrainConfig, load_trace, study, trace_digest
from rctsim.baselines import parse_baseline
from rctsim.sweep import TraceCache, default_cache_dir
from rctsim.train import train

HERE = Path(__file__).resolve().parent
"""The study's folder (outputs are written here)."""

POLICIES: tuple[str, ...] = ("fp32", "qat", "rct")
"""Policies trained for every model."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ModelRuns(_Strict):
    """One model trained under every policy."""

    description: str
    """One line for the results."""
    train: dict[str, Any]
    """`TrainConfig` fields shared by the policies (policy excluded)."""
    traces: dict[Literal["fp32", "qat", "rct"], str]
    """The bundled trace of each policy (made with `train`)."""
    target_accuracy: Annotated[float, Field(gt=0, le=1)]
    """Test accuracy for the energy-to-target metric."""


class AptRuns(_Strict):
    """APT trained at several trade-offs on one of the models."""

    model: str
    """Key of `models`."""
    tradeoffs: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)]
    """APT's trade-off parameter values (docs/policies.md)."""


class StudyConfig(_Strict):
    """studies/rct_vs_qat/config.yaml."""

    hardware: Annotated[list[str], Field(min_length=1)]
    """Presets or hardware files."""
    models: Annotated[dict[str, ModelRuns], Field(min_length=1)]
    """Models by key."""
    apt: AptRuns
    """APT runs."""
    sram_sensitivity_kb: list[Annotated[float, Field(gt=0)]] = []
    """Global-buffer sizes (KB) for the parameter-movement sensitivity on the first hardware."""
    baselines: list[str] = []
    """Counterfactual baselines (docs/policies.md, e.g. `mixed-bf16`, `qat:dgrad_weights=master`)
    replayed on each model's RCT trace, beside the trained runs."""


def train_config(runs: ModelRuns, policy: str, params: dict[str, Any] | None = None,
                 source: str = "config.yaml: models.*.train") -> TrainConfig:
    """The trainer settings of one run (resolved); an InputError naming the field if bad."""
    data = {**runs.train, "policy": policy, "policy_params": params or {}}
    return study.validate(source, data, TrainConfig).resolved()


def check_config(cfg: StudyConfig, source: str) -> None:
    """Every trainer setting and reference, checked before anything runs."""
    if cfg.apt.model not in cfg.models:
        raise InputError(source, "apt.model", f"unknown model {cfg.apt.model!r}",
                         ", ".join(cfg.models))
    for key, runs in cfg.models.items():
        for policy in POLICIES:
            train_config(runs, policy, source=f"{source}: models.{key}.train")
            load_trace(runs.traces[policy])
    for tradeoff in cfg.apt.tradeoffs:
        train_config(cfg.models[cfg.apt.model], "apt", {"tradeoff": tradeoff},
                     source=f"{source}: models.{cfg.apt.model}.train")
    for i, name in enumerate(cfg.baselines):
        try:
            parse_baseline(name)
        except InputError as err:
            raise InputError(source, f"baselines[{i}]", err.problem, err.allowed) from None


def policy_traces(runs: ModelRuns, retrain: bool) -> tuple[dict[str, Trace], dict[str, str]]:
    """Each policy's trace (bundled, or trained again) and how it was obtained."""
    traces, how = {}, {}
    for policy in POLICIES:
        bundled = load_trace(runs.traces[policy])
        if not retrain:
            traces[policy], how[policy] = bundled, f"bundled `{runs.traces[policy]}`"
            continue
        trace = train(train_config(runs, policy))
        same = trace_digest(trace) == trace_digest(bundled)
        traces[policy] = trace
        how[policy] = f"re-trained ({'identical to' if same else 'differs from'} the bundled " \
                      f"`{runs.traces[policy]}`)"
    return traces, how


def apt_traces(cfg: StudyConfig, cache: TraceCache | None) -> dict[float, Trace]:
    """APT traces at each trade-off, trained once and cached by their settings."""
    runs = cfg.models[cfg.apt.model]
    out = {}
    for tradeoff in cfg.apt.tradeoffs:
        tc = train_config(runs, "apt", {"tradeoff": tradeoff})
        settings = tc.model_dump(mode="json")
        cached = cache.get(settings) if cache is not None else None
        if cached is not None:
            out[tradeoff] = cached
            continue
        print(f"training APT tradeoff={tradeoff} ...", file=sys.stderr)
        out[tradeoff] = train(tc)
        if cache is not None:
            cache.put_trace(settings, out[tradeoff])
    return out


def measure_model(hw_names: list[str], runs: ModelRuns, traces: dict[str, Trace],
                  model: str) -> tuple[list[dict], list[dict]]:
    """Metrics and savings of every policy on every hardware; accuracy-energy curve points."""
    rows, curves = [], []
    for hw_name in hw_names:
        hw = measure.load_hw(hw_name)
        by_policy = {}
        for policy, trace in traces.items():
            metrics = measure.policy_metrics(hw, trace)
            curve = measure.accuracy_curve(hw, trace)
            hit = measure.energy_to_target(curve, runs.target_accuracy)
            metrics["energy_to_target"] = None if hit is None else hit["energy_pj"]
            metrics["target_iterations"] = None if hit is None else hit["iterations"]
            by_policy[policy] = metrics
            curves += [{"model": model, "hardware": hw_name, "policy": policy, **p}
                       for p in curve]
        rows += with_savings(model, hw_name, by_policy)
    return rows, curves


def with_savings(model: str, hw_name: str, by_policy: dict[str, dict]) -> list[dict]:
    """Rows of metrics plus savings against the qat and fp32 rows of the same model and hw."""
    rows = []
    for policy, metrics in by_policy.items():
        row = {"model": model, "hardware": hw_name, "policy": policy, **metrics}
        for base in ("qat", "fp32"):
            for name, value in measure.savings(metrics, by_policy[base]).items():
                row[f"saving_vs_{base}_{name}"] = value
        rows.append(row)
    return rows


CHECKED: tuple[str, ...] = ("gemm_energy", "total_energy", "param_memory",
                            "param_movement_energy", "dram_traffic", "latency")
"""Metrics on which the counterfactual `qat` is compared with the trained QAT run."""


def measure_baselines(hw_names: list[str], baselines: list[str], traces: dict[str, Trace],
                      model: str, rows: list[dict]) -> list[dict]:
    """Each counterfactual baseline on every hardware, replayed on the model's RCT trace, with
    RCT's savings against it (`saving_vs_<label>_<metric>` added to the RCT rows of `rows`).
    Also one `check` row per hardware: the largest relative gap, over CHECKED, between the
    counterfactual `qat` on the RCT trace and the trained QAT run (whether the two kinds of
    baseline compare)."""
    out = []
    for hw_name in hw_names:
        hw = measure.load_hw(hw_name)
        rct = next(r for r in rows if (r["model"], r["hardware"], r["policy"])
                   == (model, hw_name, "rct"))
        trained_qat = next(r for r in rows if (r["model"], r["hardware"], r["policy"])
                           == (model, hw_name, "qat"))
        as_qat = measure.baseline_metrics(hw, traces["rct"], "qat")
        out.append({"model": model, "hardware": hw_name, "policy": "qat", "check": True,
                    "gap": max(abs(as_qat[m] / trained_qat[m] - 1) for m in CHECKED)})
        for name in baselines:
            label = parse_baseline(name).label
            metrics = measure.baseline_metrics(hw, traces["rct"], name)
            out.append({"model": model, "hardware": hw_name, "policy": label, **metrics})
            for key, value in measure.savings(rct, metrics).items():
                rct[f"saving_vs_{label}_{key}"] = value
    return out


def sram_sensitivity(cfg: StudyConfig, traces: dict[str, dict[str, Trace]]) -> list[dict]:
    """Parameter-movement energy of RCT and QAT at several global-buffer sizes (first hw)."""
    base = measure.load_hw(cfg.hardware[0])
    own = base.global_buffer.size_bytes
    sizes = sorted({own, *(int(kb * 1024) for kb in cfg.sram_sensitivity_kb)})
    rows = []
    for model, by_policy in traces.items():
        for size in sizes:
            hw = measure.with_global_buffer(base, size)
            rct, qat = (measure.replay(hw, by_policy[p]) for p in ("rct", "qat"))
            rows.append({
                "model": model, "hardware": cfg.hardware[0], "sram_bytes": size,
                "preset_size": size == own,
                "rct_param_movement_pj": rct.energy_pj["param_movement"],
                "qat_param_movement_pj": qat.energy_pj["param_movement"],
                "rct_param_dram_bytes": rct.traffic_bytes["param_dram"],
                "qat_param_dram_bytes": qat.traffic_bytes["param_dram"],
                "saving_param_movement": measure.saving(
                    rct.energy_pj["param_movement"], qat.energy_pj["param_movement"]),
                "qat_dgrad_weights_pj": measure.movement_pj(qat, "dgrad", "weights"),
            })
    return rows


def run(cfg: StudyConfig, *, retrain: bool = False, cache: TraceCache | None = None,
        out_dir: Path = HERE, write: bool = True) -> dict[str, Any]:
    """The whole study; outputs written to `out_dir` when `write`."""
    rows, curves, traces, how, baselines = [], [], {}, {}, []
    for model, runs in cfg.models.items():
        traces[model], how[model] = policy_traces(runs, retrain)
        r, c = measure_model(cfg.hardware, runs, traces[model], model)
        baselines += measure_baselines(cfg.hardware, cfg.baselines, traces[model], model, r)
        rows, curves = rows + r, curves + c
    apt = apt_traces(cfg, cache)
    apt_rows = measure_apt(cfg, apt, traces[cfg.apt.model])
    sensitivity = sram_sensitivity(cfg, traces)
    result = {"rows": rows, "curves": curves, "apt": apt_rows, "sensitivity": sensitivity,
              "how": how, "baselines": [b for b in baselines if not b.get("check")],
              "qat_gap": max((b["gap"] for b in baselines if b.get("check")), default=None),
              "baseline_labels": [parse_baseline(b).label for b in cfg.baselines],
              "targets": {k: m.target_accuracy for k, m in cfg.models.items()}}
    if write:
        report.write_all(out_dir, cfg, result)
    return result


def measure_apt(cfg: StudyConfig, apt: dict[float, Trace],
                others: dict[str, Trace]) -> list[dict]:
    """APT runs on every hardware, with savings against the same model's qat and fp32 runs."""
    rows = []
    for hw_name in cfg.hardware:
        hw = measure.load_hw(hw_name)
        base = {p: measure.policy_metrics(hw, others[p]) for p in ("qat", "fp32")}
        for tradeoff, trace in apt.items():
            metrics = measure.policy_metrics(hw, trace)
            row = {"model": cfg.apt.model, "hardware": hw_name, "policy": "apt",
                   "tradeoff": tradeoff, **metrics}
            for name in ("qat", "fp32"):
                for key, value in measure.savings(metrics, base[name]).items():
                    row[f"saving_vs_{name}_{key}"] = value
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "config.yaml"))
    parser.add_argument("--retrain", action="store_true",
                        help="train the fp32/qat/rct runs again instead of the bundled traces")
    parser.add_argument("--cache-dir", default=None,
                        help="trace cache for the APT runs (default: the sweep trace cache)")
    parser.add_argument("--no-cache", action="store_true", help="always train the APT runs")
    args = parser.parse_args(argv)
    cache = None if args.no_cache else TraceCache(args.cache_dir or default_cache_dir())
    try:
        cfg = study.load_config(args.config, StudyConfig)
        check_config(cfg, args.config)
        result = run(cfg, retrain=args.retrain, cache=cache)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for row in result["rows"]:
        if row["policy"] == "rct":
            print(f"{row['model']:6s} {row['hardware']:9s} rct vs qat: GEMM "
                  f"{study.pct(row['saving_vs_qat_gemm_energy'])}, params "
                  f"{study.pct(row['saving_vs_qat_param_memory'])}, total energy "
                  f"{study.pct(row['saving_vs_qat_total_energy'])}")
    print(f"wrote {HERE / 'results.md'}")
    return run_summary()


def run_summary() -> int:
    """Refresh docs/results.md from the studies' committed outputs (studies/summary.py)."""
    return runpy.run_path(str(HERE.parent / "summary.py"), run_name="summary")["main"]()


if __name__ == "__main__":
    sys.exit(main())
