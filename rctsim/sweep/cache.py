"""The trained-trace cache: a trace per trainer settings, keyed by the settings' content hash.

A trace is trained once and found again by any later sweep with the same settings and rctsim
version. Files are `<sha256>.trace` (written atomically) with a `<sha256>.json` beside it holding
the settings, so the cache can be read by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rctsim import __version__
from rctsim.atomic import write_atomic
from rctsim.trace.io import trace_to_bytes
from rctsim.trace.model import FORMAT_VERSION, Trace

Trainer = Callable[[dict[str, Any]], Trace]
"""Trains a model from resolved trainer settings (`TrainConfig` fields) and returns its trace."""

CACHE_ENV = "RCTSIM_CACHE_DIR"
"""Environment variable naming the cache root (default: XDG cache, else ~/.cache)."""


def train_with_rctsim(settings: dict[str, Any]) -> Trace:
    """The bundled numpy trainer (`rctsim.train`): the default `Trainer`."""
    from rctsim.train.config import TrainConfig
    from rctsim.train.loop import train

    return train(TrainConfig.model_validate(settings))


def train_job(trainer: Trainer, settings: dict[str, Any]) -> bytes:
    """Worker task: train and return the trace's file bytes."""
    return trace_to_bytes(trainer(settings))


def default_cache_dir() -> Path:
    """`$RCTSIM_CACHE_DIR/traces`, else `$XDG_CACHE_HOME/rctsim/traces`, else ~/.cache/..."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "traces"
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "rctsim" / "traces"


def settings_digest(settings: dict[str, Any]) -> str:
    """sha256 of the settings' canonical JSON, the rctsim version that trains them and the trace
    format it writes (a trace cached by an older format lacks what a newer one records, such as
    the non-GEMM work of format 2)."""
    canonical = json.dumps({"settings": settings, "rctsim": __version__,
                            "trace_format": FORMAT_VERSION}, sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class TraceCache:
    """A folder of trained traces keyed by settings digest."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, settings: dict[str, Any]) -> Path:
        """Where the trace of `settings` lives (whether or not it exists yet)."""
        return self.folder / f"{settings_digest(settings)}.trace"

    def has(self, settings: dict[str, Any]) -> bool:
        """Whether the trace of `settings` is cached."""
        return self.path(settings).is_file()

    def get(self, settings: dict[str, Any]) -> Trace | None:
        """The cached trace of `settings`, or None."""
        from rctsim.trace import load_trace

        return load_trace(self.path(settings)) if self.has(settings) else None

    def put_trace(self, settings: dict[str, Any], trace: Trace) -> Path:
        """Cache a trace under its settings; returns the path."""
        from rctsim.trace.io import trace_to_bytes

        return self.put(settings, trace_to_bytes(trace))

    def put(self, settings: dict[str, Any], data: bytes) -> Path:
        """Store trace bytes (atomically) with the settings beside them; returns the path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path(settings)
        write_atomic(target.with_suffix(".json"),
                      json.dumps(settings, indent=2, sort_keys=True).encode("utf-8"))
        write_atomic(target, data)
        return target
