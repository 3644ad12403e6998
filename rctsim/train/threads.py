"""Run BLAS single-threaded while training: the trainer's GEMMs are small, and on a shared
machine BLAS worker threads spin-wait for cores (measured 30x slower on 2 busy cores)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread inside the block (no-op when threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: results are the same, only slower on busy machines
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
