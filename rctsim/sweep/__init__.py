"""Pareto sweeps over hardware (SRAM size, array, dataflow, DRAM, precision mode, energy table)
and bitwidth policies (given traces, or traces the bundled trainer makes), with a resumable
SQLite store and local or Dask executors. docs/sweeps.md describes the config and the store.
"""

from rctsim.sweep.cache import TraceCache, Trainer, default_cache_dir, train_with_rctsim
from rctsim.sweep.config import SweepConfig, load_sweep_config, parse_sweep_config
from rctsim.sweep.executors import DaskExecutor, Executor, LocalExecutor
from rctsim.sweep.pareto import Objective, pareto_front, pareto_mask, parse_objective
from rctsim.sweep.plan import Point, SweepPlan, plan_sweep
from rctsim.sweep.results import SweepResults, default_store, load, run
from rctsim.sweep.runner import SweepOutcome, SweepProgress, run_sweep
from rctsim.sweep.search_run import (
    SearchOutcome,
    SearchPlan,
    plan_search,
    run_search,
    search,
    search_rows,
)
from rctsim.sweep.store import SweepStore
from rctsim.sweep.table import sweep_table, table_columns, write_table

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Objective",
    "Point",
    "SearchOutcome",
    "SearchPlan",
    "SweepConfig",
    "SweepOutcome",
    "SweepPlan",
    "SweepProgress",
    "SweepResults",
    "SweepStore",
    "TraceCache",
    "Trainer",
    "default_cache_dir",
    "default_store",
    "load",
    "load_sweep_config",
    "pareto_front",
    "pareto_mask",
    "parse_objective",
    "parse_sweep_config",
    "plan_search",
    "plan_sweep",
    "run",
    "run_search",
    "run_sweep",
    "search",
    "search_rows",
    "sweep_table",
    "table_columns",
    "train_with_rctsim",
    "write_table",
]
