"""The results store: one SQLite row per finished point, one transaction per row.

WAL journal; a row is inserted complete and committed, so a sweep killed at any moment (even
`kill -9`) leaves whole rows only, and a rerun skips the points whose key is already there. The
key hashes everything a point's result depends on (docs/sweeps.md), so a changed input is a new
point, never a stale hit.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rctsim.errors import InputError
from rctsim.fileread import is_regular_file
from rctsim.sweep.metrics import METRIC_COLUMNS

STORE_SCHEMA_VERSION = 3
"""Version of the `points` table layout. 3: `saving_param_memory_with_optimizer`."""

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

SEARCH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("search", "TEXT NOT NULL"), ("idx", "INTEGER NOT NULL"), ("trial", "INTEGER NOT NULL"),
    ("params", "TEXT NOT NULL"), ("key", "TEXT"), ("status", "TEXT NOT NULL"),
    ("reason", "TEXT"), ("finished_at", "TEXT"),
)
"""The `search_evals` table (rctsim sweep --search): one row per distinct point a search
evaluated: its search id, evaluation index (0, 1, ...), the optimiser's trial number, the axis
values, the `points` row it reads (null for an impossible point), `ok`, `error` (the model
rejected it) or `infeasible` (the hardware schema or the trainer did), and the reason."""

SEARCH_RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("search", "TEXT PRIMARY KEY"), ("name", "TEXT"), ("method", "TEXT NOT NULL"),
    ("seed", "INTEGER NOT NULL"), ("batch", "INTEGER NOT NULL"), ("objectives", "TEXT"),
    ("axes", "TEXT"), ("started_at", "TEXT"),
)
"""The `searches` table: one row per search (its id hashes what its points depend on)."""

_BATCH = 500

LEASE_SECONDS = 600.0
"""How long a claimed point stays reserved without renewal. A sweep renews its leases as
results come in; a lease of a dead sweep on this host ends at once (its process is gone)."""


def new_owner() -> str:
    """A lease owner id for this sweep: host, process id and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def lease_alive(owner: str, expires: float, *, now: float) -> bool:
    """Whether a lease still holds: not expired, and its process alive if on this host."""
    if expires < now:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def damaged(path: str | Path, err: BaseException, field: str = "store") -> InputError:
    """The one line for a store SQLite cannot read or whose rows do not decode."""
    return InputError(str(path), field, f"the store is damaged: {err}; move it aside "
                      "(a new store file recomputes its points)",
                      "a sweep store written by rctsim sweep, or a new file")


LOCK_WAIT_S = 30.0
"""How long opening or writing the store waits for another sweep's lock on it."""


def _while_locked(step: Callable[[], object], wait_s: float = LOCK_WAIT_S) -> None:
    """Run `step`, again while SQLite says the database is locked (up to `wait_s`). Sweeps that
    open one new store at the same moment race to create it: switching it to WAL and creating
    its tables can be refused at once, without SQLite's own wait, while the other holds it."""
    deadline = time.monotonic() + wait_s
    pause = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(0.2, pause * 2)


@contextmanager
def _guard(path: Path) -> Iterator[None]:
    """SQLite and decoding failures of a damaged store as one InputError line."""
    try:
        yield
    except sqlite3.IntegrityError:  # a row this code built wrongly: a bug, not damage
        raise
    except (sqlite3.DatabaseError, json.JSONDecodeError, RecursionError, ValueError,
            TypeError) as err:
        raise damaged(path, err) from None


class SweepStore:
    """An SQLite file of finished points."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(str(path), "--store", "the folder does not exist",
                             "a path in an existing folder")
        if os.path.lexists(self.path) and not is_regular_file(self.path):
            raise InputError(str(path), "--store", "is not a regular file",
                             "a sweep store or a new file")
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=LOCK_WAIT_S)
            _while_locked(lambda: self.conn.execute("PRAGMA journal_mode=WAL"))
            self.conn.execute("PRAGMA synchronous=NORMAL")
            _while_locked(self._create)
            self._check_columns()
        except sqlite3.DatabaseError as err:
            raise damaged(self.path, err, "--store") from None

    def _check_columns(self) -> None:
        """The `points` table has every column of this schema (a dropped one is damage)."""
        found = {row[1] for row in self.conn.execute("PRAGMA table_info(points)")}
        missing = [name for name in COLUMN_NAMES if name not in found]
        if missing:
            raise sqlite3.DatabaseError(f"the points table lacks column {missing[0]}")

    def _create(self) -> None:
        with self.conn:  # the write lock first: a read that turns into a write can be refused
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, "
                              "value TEXT NOT NULL)")
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                              (str(STORE_SCHEMA_VERSION),))
            cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS points ({cols})")
            self.conn.execute("CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, "
                              "owner TEXT NOT NULL, expires REAL NOT NULL)")
            # Added beside schema 3 (old stores gain them on open; old readers ignore them).
            self.conn.execute("CREATE TABLE IF NOT EXISTS searches ("
                              + ", ".join(f"{n} {k}" for n, k in SEARCH_RUN_COLUMNS) + ")")
            self.conn.execute("CREATE TABLE IF NOT EXISTS search_evals ("
                              + ", ".join(f"{n} {k}" for n, k in SEARCH_COLUMNS)
                              + ", PRIMARY KEY (search, idx))")
        found = self.conn.execute("SELECT value FROM meta WHERE name = 'schema_version'"
                                  ).fetchone()[0]
        if found != str(STORE_SCHEMA_VERSION):
            raise InputError(str(self.path), "schema_version", f"store schema {found}",
                             f"{STORE_SCHEMA_VERSION} (use a new store file)")

    def finished(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` that have a row."""
        with _guard(self.path):
            return self._finished(list(keys))

    def insert(self, row: dict[str, Any]) -> None:
        """Insert one complete row in its own committed transaction (a present key is kept)."""
        self.insert_many([row])

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert complete rows in one committed transaction (present keys are kept): a worker's
        batch lands whole or not at all, and one commit serves the batch."""
        if not rows:
            return
        values = [[_encode(name, row.get(name)) for name in COLUMN_NAMES] for row in rows]
        marks = ",".join("?" * len(COLUMN_NAMES))
        with _guard(self.path), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(f"INSERT INTO points ({','.join(COLUMN_NAMES)}) "
                                  f"VALUES ({marks}) ON CONFLICT(key) DO NOTHING", values)
            self.conn.executemany("DELETE FROM leases WHERE key = ?",
                                  [(row["key"],) for row in rows])

    def rows(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Rows by key for the keys that have one, JSON columns decoded."""
        keys = list(keys)
        out: dict[str, dict[str, Any]] = {}
        with _guard(self.path):
            self._rows(keys, out)
        return out

    def _rows(self, keys: list[str], out: dict[str, dict[str, Any]]) -> None:
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i:i + _BATCH]
            marks = ",".join("?" * len(chunk))
            cursor = self.conn.execute(
                f"SELECT {','.join(COLUMN_NAMES)} FROM points WHERE key IN ({marks})", chunk)
            for values in cursor:
                row = {name: _decode(name, v) for name, v in zip(COLUMN_NAMES, values,
                                                                  strict=True)}
                out[row["key"]] = row

    def claim(self, keys: Iterable[str], owner: str, *, limit: int,
              ttl_s: float = LEASE_SECONDS,
              group: Callable[[str], Hashable] | None = None) -> list[str]:
        """Lease up to `limit` of `keys` that have no row and no live lease of another sweep
        (in one write transaction, so two sweeps never claim the same point), in the order of
        `keys`. `group`: a key's group (keys of a group next to each other in `keys`); the
        claim then goes past `limit` to the end of the last claimed key's group, so a round
        takes whole groups."""
        keys = list(keys)
        now = time.time()
        claimed: list[str] = []
        with _guard(self.path), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            held = {k: (o, e) for k, o, e in self.conn.execute(
                "SELECT key, owner, expires FROM leases")}
            done = self._finished(keys)
            for key in keys:
                if len(claimed) >= limit and (group is None or not claimed
                                              or group(key) != group(claimed[-1])):
                    break
                if key in done:
                    continue
                lease = held.get(key)
                if lease is not None and lease[0] != owner and lease_alive(*lease, now=now):
                    continue
                claimed.append(key)
            self.conn.executemany("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)",
                                  [(k, owner, now + ttl_s) for k in claimed])
        return claimed

    def leased_elsewhere(self, keys: Iterable[str], owner: str) -> set[str]:
        """The keys among `keys` without a row that another live sweep holds a lease on."""
        keys = list(keys)
        now = time.time()
        with _guard(self.path):
            done = self._finished(keys)
            held = {k: (o, e) for k, o, e in self.conn.execute(
                "SELECT key, owner, expires FROM leases WHERE owner != ?", (owner,))}
        return {k for k in keys if k not in done and k in held and lease_alive(*held[k],
                                                                               now=now)}

    def renew(self, owner: str, ttl_s: float = LEASE_SECONDS) -> None:
        """Extend every lease of `owner` (a sweep still working on its points)."""
        with _guard(self.path), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("UPDATE leases SET expires = ? WHERE owner = ?",
                              (time.time() + ttl_s, owner))

    def release(self, owner: str) -> None:
        """Drop every lease of `owner` (its points not finished go back to the pool)."""
        with _guard(self.path), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM leases WHERE owner = ?", (owner,))

    def failed(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` whose row has status `error` (reads that column only)."""
        keys = list(keys)
        found: set[str] = set()
        with _guard(self.path):
            for i in range(0, len(keys), _BATCH):
                chunk = keys[i:i + _BATCH]
                marks = ",".join("?" * len(chunk))
                found.update(k for k, status in self.conn.execute(
                    f"SELECT key, status FROM points WHERE key IN ({marks})", chunk)
                    if _decode("status", status) == "error")
        return found

    def _finished(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(keys), _BATCH):
            chunk = keys[i:i + _BATCH]
            marks = ",".join("?" * len(chunk))
            found.update(k for (k,) in self.conn.execute(
                f"SELECT key FROM points WHERE key IN ({marks})", chunk))
        return found

    def add_search(self, run: dict[str, Any]) -> None:
        """Record a search (kept if its id is already there)."""
        names = [n for n, _ in SEARCH_RUN_COLUMNS]
        values = [json.dumps(run[n], sort_keys=True) if n in ("objectives", "axes")
                  else run.get(n) for n in names]
        with _guard(self.path), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(f"INSERT INTO searches ({','.join(names)}) VALUES "
                              f"({','.join('?' * len(names))}) ON CONFLICT(search) DO NOTHING",
                              values)

    def searches(self) -> list[dict[str, Any]]:
        """Every recorded search, oldest first (`objectives`, `axes` decoded)."""
        names = [n for n, _ in SEARCH_RUN_COLUMNS]
        with _guard(self.path):
            rows = [dict(zip(names, values, strict=True)) for values in self.conn.execute(
                f"SELECT {','.join(names)} FROM searches ORDER BY rowid")]
            for row in rows:
                row["objectives"] = json.loads(row["objectives"] or "[]")
                row["axes"] = json.loads(row["axes"] or "[]")
        return rows

    def add_eval(self, row: dict[str, Any]) -> None:
        """Record one evaluation of a search in its own transaction (a present index is
        kept)."""
        names = [n for n, _ in SEARCH_COLUMNS]
        values = [json.dumps(row[n], sort_keys=True) if n == "params" else row.get(n)
                  for n in names]
        with _guard(self.path), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(f"INSERT INTO search_evals ({','.join(names)}) VALUES "
                              f"({','.join('?' * len(names))}) "
                              "ON CONFLICT(search, idx) DO NOTHING", values)

    def evals(self, search: str) -> list[dict[str, Any]]:
        """The evaluations of a search in index order (`params` decoded)."""
        names = [n for n, _ in SEARCH_COLUMNS]
        with _guard(self.path):
            rows = [dict(zip(names, values, strict=True)) for values in self.conn.execute(
                f"SELECT {','.join(names)} FROM search_evals WHERE search = ? ORDER BY idx",
                (search,))]
            for row in rows:
                row["params"] = json.loads(row["params"])
        return rows

    def count(self) -> int:
        """Rows in the store."""
        with _guard(self.path):
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


_KINDS = {name: kind.split()[0] for name, kind in COLUMNS}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"TEXT": (str,), "INTEGER": (int,),
                                              "REAL": (int, float)}


def _decode(name: str, value: Any) -> Any:
    """A stored value as Python, checked against its column's type (ValueError when not:
    a store edited or damaged outside rctsim)."""
    if value is None:
        if name in ("key", "status"):
            raise ValueError(f"column {name} is empty")
        return None
    wanted = _PYTHON_TYPES[_KINDS[name]]
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise ValueError(f"column {name} holds {type(value).__name__} {str(value)[:40]!r}, "
                         f"not {_KINDS[name]}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"column {name} holds {value}")
    if name == "status" and value not in ("ok", "error"):
        raise ValueError(f"column status holds {value[:40]!r}, not ok or error")
    if name in JSON_COLUMNS:
        return json.loads(value)
    return value
