"""Cost of `run`, `report` and `trace info` on a trace whose bits toggle every iteration.

Builds a trace on the layers of the bundled `resnet` trace with `--iterations` iterations
(default 1,000,000) whose w bits (every layer's) alternate between two patterns every iteration
(as many phases as iterations, two distinct phases), with a loss every 10 iterations. Then
times `rctsim run --json`, `rctsim report` and `rctsim trace info` on it as separate processes
and prints each one's wall time and peak RSS (resource.getrusage of the child), the sizes of the
trace, JSON and HTML, and the acceptance limits of issue 14:

    run <= 10 s and <= 500 MB; report <= 30 s and <= 1 GB, HTML < 20 MB; trace info <= 3 s.

Plain script: `python bench/bench_huge_trace.py [--iterations N] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rctsim.trace import Series, Trace, load_trace, write_trace

LIMITS = {"run": (10.0, 500.0), "report": (30.0, 1024.0), "trace info": (3.0, None)}
"""Acceptance limits: (seconds, peak RSS in MB or None)."""
HTML_LIMIT_MB = 20.0
"""Largest acceptable report HTML."""


def build_toggling_trace(iterations: int) -> Trace:
    """resnet's layers; two bit patterns alternating every iteration; loss every 10."""
    base = load_trace("resnet")
    first = base.phase_bits[0].astype(np.int16)
    other = first.copy()
    other[:, 0] = np.clip(first[:, 0] - 2, 2, 32)  # every layer's w two bits lower
    patterns = np.stack([first, other]).astype(np.uint8)
    phase_bits = patterns[np.arange(iterations) % 2]
    header = base.header.model_copy(update={"iterations": iterations,
                                            "schedule_source": "bench: toggling every iteration"})
    loss_at = np.arange(0, iterations, 10)
    loss = 2.3 * np.exp(-loss_at / iterations) + 0.01 * (loss_at % 7)
    return Trace.build(header=header, layers=base.layers, phase_start=np.arange(iterations),
                       phase_bits=phase_bits, metrics={"loss": Series(loss_at, loss)})


WRAPPER = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[2:]); "
           "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
           ".ru_maxrss)); sys.exit(done.returncode)")
"""Runs one command in a fresh parent, so the children's peak RSS is that command's alone."""


def measure(label: str, argv: list[str], folder: Path) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one command; exits if it fails."""
    rss_file = folder / "rss.txt"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAPPER, str(rss_file), *argv],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{label} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, int(rss_file.read_text()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="Folder to keep the files in.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="rctsim-huge-"))
    folder.mkdir(parents=True, exist_ok=True)
    trace_path, json_path, html_path = (folder / "toggle.trace", folder / "run.json",
                                        folder / "report.html")
    start = time.perf_counter()
    write_trace(build_toggling_trace(args.iterations), trace_path)
    print(f"trace: {args.iterations:,} iterations, {trace_path.stat().st_size / 1e6:.1f} MB, "
          f"built in {time.perf_counter() - start:.1f} s")
    cli = [sys.executable, "-m", "rctsim"]
    results = {
        "trace info": measure("trace info", [*cli, "trace", "info", str(trace_path), "--json"],
                              folder),
        "run": measure("run", [*cli, "run", "--hw", "edge_npu", "--trace", str(trace_path),
                               "--json", str(json_path)], folder),
        "report": measure("report", [*cli, "report", str(json_path), "--trace",
                                     str(trace_path), "-o", str(html_path)], folder),
    }
    ok = True
    for label, (seconds, rss) in results.items():
        limit_s, limit_mb = LIMITS[label]
        passed = seconds <= limit_s and (limit_mb is None or rss <= limit_mb)
        ok &= passed
        print(f"{label:10s} {seconds:7.2f} s (limit {limit_s:g})  peak RSS {rss:8.1f} MB"
              f" (limit {limit_mb if limit_mb is not None else '-'})  "
              f"{'ok' if passed else 'OVER'}")
    html_mb = html_path.stat().st_size / 1e6
    ok &= html_mb < HTML_LIMIT_MB
    print(f"run JSON {json_path.stat().st_size / 1e6:.2f} MB; report HTML {html_mb:.2f} MB "
          f"(limit {HTML_LIMIT_MB:g})")
    print("all within limits" if ok else "SOME LIMIT EXCEEDED")


if __name__ == "__main__":
    main()
