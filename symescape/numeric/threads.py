"""Thread limits for the small dense algebra of the claims and solvers."""

from __future__ import annotations

from contextlib import AbstractContextManager


def single_threaded_blas() -> AbstractContextManager:
    """One BLAS thread inside the block (``threadpoolctl``, the standard control of the BLAS
    pools NumPy loads). The products there are small stacks: with OpenBLAS threads on a loaded
    2-core machine a (1, 16, 2048) @ (1, 2048, 16) product took 0.16 s against 1e-4 s with one
    thread; several threads per product cost more than they give."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")
