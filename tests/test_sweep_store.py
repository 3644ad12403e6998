"""The SQLite store: whole rows, one per key, JSON columns round-trip, bad files refused."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from rctsim.errors import InputError
from rctsim.sweep.store import COLUMN_NAMES, SweepStore


def _row(key: str, energy: float) -> dict:
    return {"key": key, "status": "ok", "params": {"sram_kb": 64, "t_low": 0.01},
            "trace_sha256": "t" * 64, "hw_sha256": "h" * 64, "energy_pj": energy,
            "options": {"workspace_fraction": 0.25}, "sram_bytes": 65536}


def test_rows_round_trip_exactly(tmp_path):
    """Floats, integers and JSON columns come back as they went in; absent columns are None."""
    with SweepStore(tmp_path / "s.db") as store:
        store.insert(_row("a", 0.1 + 0.2))
        store.insert(_row("b", 1e300))
        rows = store.rows(["a", "b", "missing"])
    assert set(rows) == {"a", "b"}
    assert rows["a"]["energy_pj"] == 0.1 + 0.2 and rows["b"]["energy_pj"] == 1e300
    assert rows["a"]["params"] == {"sram_kb": 64, "t_low": 0.01}
    assert rows["a"]["sram_bytes"] == 65536 and rows["a"]["latency_s"] is None
    assert list(rows["a"]) == list(COLUMN_NAMES)


def test_a_key_is_stored_once_and_found_after_reopening(tmp_path):
    """The first row of a key stays; a reopened store knows which keys are finished."""
    with SweepStore(tmp_path / "s.db") as store:
        store.insert(_row("a", 1.0))
        store.insert(_row("a", 2.0))
    with SweepStore(tmp_path / "s.db") as store:
        keys = [f"k{i}" for i in range(1200)] + ["a"]
        assert store.finished(keys) == {"a"} and store.count() == 1
        assert store.rows(["a"])["a"]["energy_pj"] == 1.0


def test_wal_mode_and_a_failed_insert_leaves_nothing(tmp_path):
    """The journal is WAL; a row missing a NOT NULL column is rolled back, not half-written."""
    with SweepStore(tmp_path / "s.db") as store:
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError):
            store.insert({"key": "x", "status": "ok"})
        assert mode == "wal" and store.count() == 0 and not store.conn.in_transaction


def test_a_batch_lands_whole_or_not_at_all(tmp_path):
    """insert_many: one transaction; a present key keeps its row, the batch's leases go; a bad
    row in the batch rolls back every row of it."""
    with SweepStore(tmp_path / "s.db") as store:
        store.insert(_row("a", 1.0))
        assert store.claim(["b", "c"], "me", limit=10) == ["b", "c"]
        store.insert_many([_row("a", 2.0), _row("b", 3.0), _row("c", 4.0)])
        rows = store.rows(["a", "b", "c"])
        assert {k: r["energy_pj"] for k, r in rows.items()} == {"a": 1.0, "b": 3.0, "c": 4.0}
        assert store.conn.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
        with pytest.raises(sqlite3.IntegrityError):
            store.insert_many([_row("d", 5.0), {"key": "e", "status": "ok"}])
        assert store.count() == 3 and not store.conn.in_transaction


def test_bad_store_files_are_one_line(tmp_path):
    """Not a database, a newer layout, or a missing folder: InputError naming --store."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="--store: the store is damaged: .*; move it aside"):
        SweepStore(junk)
    old = tmp_path / "old.db"
    with SweepStore(old):
        pass
    with closing(sqlite3.connect(old)) as conn, conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(InputError, match="store schema 99"):
        SweepStore(old)
    with pytest.raises(InputError, match="folder does not exist"):
        SweepStore(tmp_path / "nope" / "s.db")


_OPEN_AT = """
import sys, time
from rctsim.sweep.store import SweepStore
from rctsim.errors import InputError
start = float(sys.argv[2])
while time.time() < start:
    pass
try:
    with SweepStore(sys.argv[1]) as store:
        store.insert({"key": sys.argv[3], "status": "ok", "params": {}, "trace_sha256": "t",
                      "hw_sha256": "h", "options": {}})
except InputError as err:
    print(err)
    sys.exit(2)
"""


def test_sweeps_that_open_one_new_store_at_once_all_open_it(tmp_path):
    """Processes that create the same new store at the same moment (two sweeps started
    together) all open it and write: none is told the store is damaged because the other held
    its lock (before the fix about a third of such opens failed with 'database is locked')."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for round_ in range(5):
        path = tmp_path / f"s{round_}.db"
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AT, str(path), str(start),
                                   f"k{i}"], cwd=root, stdout=subprocess.PIPE, text=True)
                 for i in range(3)]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outs
        with SweepStore(path) as store:
            assert store.count() == 3
