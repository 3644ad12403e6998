"""Build CACTI from the `hwcomponents-cacti` sdist and sweep SRAM banks into a CSV table.

Runs by hand, never in the tests (rctsim reads only the committed table). CACTI's C++ sources ship
inside the `hwcomponents-cacti` source distribution on PyPI; this script builds them with the
system C++ compiler in a temporary folder and never copies them into the project:

    pip download --no-deps --no-binary :all: hwcomponents-cacti==1.0.40 -d /tmp/cacti
    # (pip needs Python >= 3.12 to resolve it; the sdist is also the plain file
    #  hwcomponents_cacti-1.0.40.tar.gz on files.pythonhosted.org)
    python tools/cacti_sweep.py /tmp/cacti/hwcomponents_cacti-1.0.40.tar.gz \
        hwmodels/memory/cacti_45nm_sram.csv

The table has two kinds of rows, both from CACTI's own CSV output (`<config>.out`):

- single-bank rows (`banks` = 1): one SRAM bank of `size_bytes` with `word_bits`-wide accesses,
  for every power-of-two size from 64 B to 8 MiB (or the `--sizes` given) and word from 8 to
  2048 bits that CACTI can organise (it needs at least 32 rows), for each cell type;
- multi-bank rows (`banks` > 1): a memory of `size_bytes` split into `banks` banks (CACTI's UCA
  bank count), used to fit the wiring term of rctsim's banked-SRAM model (docs/hardware.md);
  left out with `--no-banked`.

The committed tables: `cacti_45nm_sram.csv` (the default run) and `cacti_45nm_sram_16mib.csv`
(`--sizes 16777216 --no-banked`: 16 MiB banks, ~10 s of CACTI each); rctsim reads both.

Every run uses the same configuration (CONFIG below): 45 nm, one read-write port, scratch RAM
(`cache type "ram"`, no tags), 300 K, and the design objective, deviations and ED^2 optimisation of
the `default_cfg.cfg` that hwcomponents-cacti ships (the settings Accelergy/Timeloop users get).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

NODE_UM = 0.045
"""Technology node in micrometres."""

CELLS = ("itrs-hp", "itrs-lop", "itrs-lstp")
"""CACTI cell/peripheral device types swept (high performance, low operating power, low standby
power)."""

SIZES = [2**k for k in range(6, 24)]
"""Single-bank sizes in bytes: 64 B .. 8 MiB (the default; `--sizes` picks others)."""

WORDS = [2**k for k in range(3, 12)]
"""Access widths in bits: 8 .. 2048."""

MIN_ROWS = 32
"""CACTI finds no organisation for fewer rows (size * 8 / word) than this."""

BANKED = [(size, word, banks) for size in (65536, 262144, 1048576, 4194304)
          for word in (32, 64, 256) for banks in (2, 4, 8, 16, 64)]
"""(total size, word bits, banks) of the multi-bank runs that calibrate the wiring term."""

CONFIG = """\
-size (bytes) {size}
-block size (bytes) {block}
-associativity 1
-read-write port 1
-exclusive read port 0
-exclusive write port 0
-single ended read ports 0
-UCA bank count {banks}
-technology (u) {node}
-page size (bits) 0
-burst length 8
-internal prefetch width 8
-Data array cell type - "{cell}"
-Data array peripheral type - "{cell}"
-Tag array cell type - "{cell}"
-Tag array peripheral type - "{cell}"
-output/input bus width {word}
-operating temperature (K) 300
-cache type "ram"
-tag size (b) "default"
-access mode (normal, sequential, fast) - "fast"
-design objective (weight delay, dynamic power, leakage power, cycle time, area) 0:0:1000000:0:0
-deviate (delay, dynamic power, leakage power, cycle time, area) 20:10:100000:100:100
-NUCAdesign objective (weight delay, dynamic power, leakage power, cycle time, area) 100:100:0:0:100
-NUCAdeviate (delay, dynamic power, leakage power, cycle time, area) 10:10000:10000:10000:10000
-Optimize ED or ED^2 (ED, ED^2, NONE): "ED^2"
-Cache model (NUCA, UCA)  - "UCA"
-NUCA bank count 0
-Wire signaling (fullswing, lowswing, default) - "Global_30"
-Wire inside mat - "semi-global"
-Wire outside mat - "semi-global"
-Interconnect projection - "normal"
-Core count 1
-Add ECC - "false"
-Print level (DETAILED, CONCISE) - "CONCISE"
-Print input parameters - "false"
-Force cache config - "false"
-Ndwl 1
-Ndbl 1
-Nspd 0
-Ndcm 1
-Ndsam1 0
-Ndsam2 0
-Array Power Gating - "false"
-WL Power Gating - "false"
-CL Power Gating - "false"
-Bitline floating - "false"
-Interconnect Power Gating - "false"
-Power Gating Performance Loss 0.01
"""
"""CACTI input for one run; the off-chip I/O section of default_cfg.cfg is appended unchanged
(CACTI 7 parses it even for on-chip memories)."""

COLUMNS = ("cells", "size_bytes", "banks", "word_bits", "read_pj", "write_pj", "leakage_mw",
           "area_mm2", "access_ns", "cycle_ns")
"""Columns of the table: energies per access, leakage of all banks together, total area."""


def _build(sdist: Path, work: Path) -> tuple[Path, Path, str]:
    """Unpack the sdist, build CACTI; returns (cacti folder, default_cfg.cfg, version string)."""
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    cacti_dir = next(work.glob("*/hwcomponents_cacti/cacti"))
    subprocess.run(["make", "opt", "NTHREADS=1"], cwd=cacti_dir, check=True,
                   stdout=subprocess.DEVNULL)
    header = (cacti_dir / "version_cacti.h").read_text(encoding="utf-8")
    fields = dict(re.findall(r"#define\s+(VER_\w+)\s+(.+?)\s*(?:/\*.*)?$", header, re.M))
    version = (f"CACTI {fields['VER_MAJOR_CACTI']}.{fields['VER_MINOR_CACTI']} "
               f"{fields['VER_COMMENT_CACTI']} ({fields['VER_UPDATE_CACTI']})").replace('"', "")
    return cacti_dir, cacti_dir.parent / "default_cfg.cfg", version


def _io_section(default_cfg: Path) -> str:
    lines = default_cfg.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("-dram_type"))
    return "\n".join(line for line in lines[start:] if not line.startswith("//")) + "\n"


def _run(cacti_dir: Path, io_section: str, tmp: Path, *, cell: str, size: int, word: int,
         banks: int) -> dict[str, float] | None:
    """One CACTI run; None where CACTI finds no valid organisation."""
    config = CONFIG.format(size=size, block=word // 8, banks=banks, node=NODE_UM, cell=cell,
                           word=word) + io_section
    path = tmp / f"{cell}_{size}_{word}_{banks}.cfg"
    path.write_text(config, encoding="utf-8")
    out = Path(str(path) + ".out")
    subprocess.run(["./cacti", "-infile", str(path)], cwd=cacti_dir, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not out.is_file():
        return None
    with out.open(encoding="utf-8") as handle:
        row = {k.strip(): v.strip() for k, v in list(csv.DictReader(handle))[-1].items() if k}
    return {
        "read_pj": float(row["Dynamic read energy (nJ)"]) * 1e3,
        "write_pj": float(row["Dynamic write energy (nJ)"]) * 1e3,
        "leakage_mw": float(row["Standby leakage per bank(mW)"]) * banks,
        "area_mm2": float(row["Area (mm2)"]),
        "access_ns": float(row["Access time (ns)"]),
        "cycle_ns": float(row["Random cycle time (ns)"]),
    }


def main(sdist: Path, out: Path, sizes: list[int], banked: bool) -> None:
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="cacti_") as name:
        work = Path(name)
        cacti_dir, default_cfg, version = _build(sdist, work)
        io_section = _io_section(default_cfg)
        runs = [(cell, size, word, 1) for cell in CELLS for size in sizes for word in WORDS
                if size * 8 // word >= MIN_ROWS]
        if banked:
            runs += [(cell, size, word, banks) for cell in CELLS for size, word, banks in BANKED]
        rows = []
        for index, (cell, size, word, banks) in enumerate(runs):
            result = _run(cacti_dir, io_section, work, cell=cell, size=size, word=word,
                          banks=banks)
            if result is not None:
                rows.append({"cells": cell, "size_bytes": size, "banks": banks,
                             "word_bits": word, **result})
            if index % 50 == 0:
                print(f"{index}/{len(runs)}", file=sys.stderr)
        shutil.rmtree(cacti_dir / "obj_opt", ignore_errors=True)
    command = " ".join(["python tools/cacti_sweep.py", sdist.name, str(out)]
                       + ([f"--sizes {','.join(map(str, sizes))}"] if sizes != SIZES else [])
                       + ([] if banked else ["--no-banked"]))
    header = [
        f"# SRAM banks at {NODE_UM * 1000:.0f} nm from {version}, built from the PyPI sdist",
        f"# {sdist.name} (sha256 {digest}) with {_compiler()} on {platform.machine()}.",
        f"# Command: {command}",
        "# One read-write port, scratch RAM, 300 K, hwcomponents-cacti default_cfg.cfg objective",
        "# (0:0:1000000:0:0, deviate 20:10:100000:100:100, ED^2). Energies per access in pJ;",
        "# leakage of all banks in mW; area of the whole memory in mm^2; times in ns.",
        f"# {len(rows)} rows; runs CACTI could not organise are absent.",
    ]
    with out.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(header) + "\n")
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)


def _compiler() -> str:
    result = subprocess.run(["g++", "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else "g++"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdist", type=Path, help="hwcomponents-cacti source distribution")
    parser.add_argument("out", type=Path, help="CSV table to write")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated single-bank sizes in bytes (default 64 B .. 8 MiB)")
    parser.add_argument("--no-banked", action="store_true", help="leave out the multi-bank runs")
    args = parser.parse_args()
    main(args.sdist, args.out,
         [int(v) for v in args.sizes.split(",")] if args.sizes else SIZES, not args.no_banked)
