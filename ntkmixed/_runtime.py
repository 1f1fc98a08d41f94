"""How long work runs, in one place: progress bars, CPU thread limits for BLAS and torch,
and the conversion of results to plain Python values (for JSON and R).

Progress bars follow one rule everywhere: ``progress=None`` shows a bar only when stderr
is a terminal (and, where an estimate is known, only for work expected to take a while);
``True``/``False`` force it on or off.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

#: environment variables that size the thread pools of BLAS/OpenMP libraries loaded later
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# --- progress ---------------------------------------------------------------------------
def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def show_progress(progress: bool | None) -> bool:
    """Whether a bar is shown: the caller's choice, else only on a terminal."""
    return stderr_is_terminal() if progress is None else bool(progress)


def progress_bar(total: int, desc: str, progress: bool | None, unit: str = "it", leave: bool = True):
    """A tqdm bar (use as a context manager, call ``update``), or None when not shown."""
    if not show_progress(progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=leave)


def progress_context(total: int, desc: str, progress: bool | None, unit: str = "it"):
    """Like :func:`progress_bar`, but always a context manager (yielding None when hidden)."""
    bar = progress_bar(total, desc, progress, unit)
    return nullcontext() if bar is None else bar


# --- threads ----------------------------------------------------------------------------
@contextmanager
def limit_threads(threads: int | None) -> Iterator[None]:
    """At most ``threads`` CPU threads for BLAS (already loaded: threadpoolctl; loaded
    later: the environment variables) and torch (when loaded). ``None`` changes nothing."""
    if threads is None:
        yield
        return
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with _blas_limit(threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(torch_threads)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def set_torch_threads(threads: int | None) -> None:
    """Limit torch's intra-op threads (imports torch: call it just before torch work, since
    :func:`limit_threads` can set torch only when it is already loaded)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` for the block (imports torch)."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def single_threaded_blas(n_tasks: int):
    """``(context, workers)``: a context limiting BLAS to one thread, and how many parallel
    workers replace its threads (1 without threadpoolctl, then the context does nothing).

    Many medium-sized BLAS calls in a chain wait for all BLAS threads at each call; on a
    busy machine running independent tasks side by side on single-threaded BLAS is much
    faster (measured ~20x for the KRR band reduction at n = 2000, 2 threads, load 6)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return nullcontext(), 1
    threads = max((info.get("num_threads", 1) for info in threadpool_info() if info.get("user_api") == "blas"), default=1)
    return threadpool_limits(limits=1, user_api="blas"), max(1, min(n_tasks, threads))


def _blas_limit(threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # BLAS already loaded keeps its setting
        return nullcontext()
    return threadpool_limits(limits=threads)


# --- memory ------------------------------------------------------------------------------
def available_memory() -> int | None:
    """Bytes of memory this process can still use (Linux: MemAvailable, capped by a cgroup
    limit), or None where it cannot be told."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            limit = handle.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as handle:
            used = int(handle.read().strip())
        if limit != "max":
            cap = max(int(limit) - used, 0)
            available = cap if available is None else min(available, cap)
    except (OSError, ValueError):
        pass
    return available


def format_bytes(count: float) -> str:
    """``"800 TB"``, ``"3.2 GB"`` (decimal units)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(count) < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" or count >= 100 else f"{count:.3g} {unit}"
        count /= 1000.0
    return f"{count:.3g} PB"


# --- plain values -----------------------------------------------------------------------
def plain_scalar(value: Any) -> Any:
    """A NumPy scalar as the Python scalar of the same kind; anything else unchanged."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.str_):
        return str(value)
    return value


def json_plain(value: Any) -> Any:
    """Nested dicts/lists of Python scalars that ``json.dump(..., allow_nan=False)``
    accepts: arrays and indexes become lists, NumPy scalars Python ones, and NaN or
    infinite numbers ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_plain(value.tolist())
    value = plain_scalar(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
