"""The results store: one SQLite row per finished point, one transaction per row.

WAL journal; a row is inserted complete and committed, so a sweep killed at any moment (even
`kill -9`) leaves whole rows only, and a rerun skips the points whose key is already there. The
key hashes everything a point's result depends on (docs/sweeps.md), so a changed input is a new
point, never a stale hit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rctsim.errors import InputError
from rctsim.sweep.metrics import METRIC_COLUMNS

STORE_SCHEMA_VERSION = 2
"""Version of the `points` table layout."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "TEXT PRIMARY KEY"), ("status", "TEXT NOT NULL"), ("error", "TEXT"),
    ("params", "TEXT NOT NULL"), ("trace_name", "TEXT"), ("trace_sha256", "TEXT NOT NULL"),
    ("model", "TEXT"), ("policy", "TEXT"), ("iterations", "INTEGER"),
    ("policy_params", "TEXT"), ("train_settings", "TEXT"),
    ("hw_name", "TEXT"), ("hw_sha256", "TEXT NOT NULL"), ("sram_bytes", "INTEGER"),
    ("sram_total_bytes", "INTEGER"), ("array_rows", "INTEGER"), ("array_cols", "INTEGER"),
    ("dataflow", "TEXT"), ("precision_mode", "TEXT"), ("clock_hz", "REAL"),
    ("dram_bytes_per_s", "REAL"), ("energy_table", "TEXT"), ("sram_area_mm2", "REAL"),
    ("baseline", "TEXT"), ("options", "TEXT"), ("rctsim_version", "TEXT"),
    *((name, "REAL") for name in METRIC_COLUMNS),
    ("elapsed_s", "REAL"), ("finished_at", "TEXT"),
)
"""The `points` table: name and SQL type of every column, in order."""

COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
"""Column names in order."""

JSON_COLUMNS = ("params", "policy_params", "train_settings", "options")
"""Columns holding JSON text (decoded when rows are read)."""

TIMING_COLUMNS = ("elapsed_s", "finished_at")
"""Columns that differ between two runs of the same point."""

_BATCH = 500


class SweepStore:
    """An SQLite file of finished points."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(str(path), "--store", "the folder does not exist",
                             "a path in an existing folder")
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._create()
        except sqlite3.DatabaseError as err:
            raise InputError(str(path), "--store", f"not a usable SQLite file: {err}",
                             "a sweep store or a new file") from None

    def _create(self) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, "
                              "value TEXT NOT NULL)")
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                              (str(STORE_SCHEMA_VERSION),))
            cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS points ({cols})")
        found = self.conn.execute("SELECT value FROM meta WHERE name = 'schema_version'"
                                  ).fetchone()[0]
        if found != str(STORE_SCHEMA_VERSION):
            raise InputError(str(self.path), "schema_version", f"store schema {found}",
                             f"{STORE_SCHEMA_VERSION} (use a new store file)")

    def finished(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` that have a row."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i:i + _BATCH]
            marks = ",".join("?" * len(chunk))
            found.update(k for (k,) in self.conn.execute(
                f"SELECT key FROM points WHERE key IN ({marks})", chunk))
        return found

    def insert(self, row: dict[str, Any]) -> None:
        """Insert one complete row in its own committed transaction (a present key is kept)."""
        values = [_encode(name, row.get(name)) for name in COLUMN_NAMES]
        marks = ",".join("?" * len(COLUMN_NAMES))
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute(f"INSERT INTO points ({','.join(COLUMN_NAMES)}) "
                              f"VALUES ({marks}) ON CONFLICT(key) DO NOTHING", values)

    def rows(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Rows by key for the keys that have one, JSON columns decoded."""
        keys = list(keys)
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i:i + _BATCH]
            marks = ",".join("?" * len(chunk))
            cursor = self.conn.execute(
                f"SELECT {','.join(COLUMN_NAMES)} FROM points WHERE key IN ({marks})", chunk)
            for values in cursor:
                row = {name: _decode(name, v) for name, v in zip(COLUMN_NAMES, values,
                                                                  strict=True)}
                out[row["key"]] = row
        return out

    def count(self) -> int:
        """Rows in the store."""
        return int(self.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _encode(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        return None if value is None else json.dumps(value, sort_keys=True)
    return value


def _decode(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS and value is not None:
        return json.loads(value)
    return value
