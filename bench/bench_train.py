"""Benchmark the numpy trainer: training iterations per second for each model and policy.

    python bench/bench_train.py [--iterations 40] [--policies fp32,qat,rct]

Each model trains on its default data set and batch size (rctsim.train.models.MODELS) with BLAS
single-threaded, as `rctsim train` runs. Data generation and the first (warm-up) iterations are
not timed. Prints the numbers measured in this one run (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import time

from rctsim.train.config import TrainConfig
from rctsim.train.loop import prepare, train_step
from rctsim.train.models import MODELS
from rctsim.train.threads import single_threaded_blas

WARMUP = 3
"""Untimed iterations before measuring."""


def iterations_per_second(model: str, policy: str, iterations: int) -> tuple[float, int]:
    """Measured training iterations per second, and the batch size used."""
    session = prepare(TrainConfig(model=model, policy=policy))
    data, batch = session.data, session.config.batch_size
    count = len(data.x_train) // batch
    for it in range(WARMUP + iterations):
        if it == WARMUP:
            start = time.perf_counter()
        lo = (it % count) * batch
        train_step(session, data.x_train[lo:lo + batch], data.y_train[lo:lo + batch], 0.01)
        session.policy.end_iteration(it)
    return iterations / (time.perf_counter() - start), batch


def main() -> None:
    """Print one row per model and policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--policies", default="fp32,qat,rct")
    args = parser.parse_args()
    print(f"{'model':<12} {'dataset':<8} {'batch':>5} {'policy':<6} {'it/s':>8} {'ms/it':>8}")
    with single_threaded_blas():
        for model, recipe in MODELS.items():
            for policy in args.policies.split(","):
                rate, batch = iterations_per_second(model, policy, args.iterations)
                print(f"{model:<12} {recipe.dataset:<8} {batch:>5} {policy:<6} {rate:>8.1f} "
                      f"{1000 / rate:>8.1f}")


if __name__ == "__main__":
    main()
