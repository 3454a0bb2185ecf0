"""Run one measured step in a fresh interpreter and read its peak resident memory.

Each step runs in its own `multiprocessing` 'spawn' process, so its peak is its own: the
figure is VmHWM from /proc/self/status (the high-water mark of the process's resident set,
interpreter and imports included). getrusage(RUSAGE_SELF).ru_maxrss is the fallback off Linux;
it is not used on Linux because after fork+exec it can carry the parent's high-water mark.
A step that hands work to `worker_processes` processes of its own is charged for them too: its
peak plus that many times its largest worker's (getrusage(RUSAGE_CHILDREN): they were all
started by the fresh step process), an upper bound, as their peaks need not coincide.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

RSS_METHOD = "VmHWM of a fresh multiprocessing 'spawn' process per step (ru_maxrss fallback)"


def _proc_status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    peak = _proc_status_mb("VmHWM")
    if peak is None:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes on macOS, kB elsewhere
    return round(peak, 1)


def rss_mb() -> float:
    return round(_proc_status_mb("VmRSS") or peak_rss_mb(), 1)


@contextmanager
def stopwatch(into: dict, key: str):
    """Adds the block's wall time (seconds) to into[key]."""
    start = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - start


def _measured(fn, kwargs: dict, profile_to: str | None) -> dict:
    start_rss = rss_mb()
    started = time.perf_counter()
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(fn, **kwargs)
        profiler.dump_stats(profile_to)
    else:
        result = fn(**kwargs)
    result.setdefault("seconds", time.perf_counter() - started)
    own = peak_rss_mb()
    workers = result.get("worker_processes", 1)
    if workers <= 1:
        return {**result, "rss_start_mb": start_rss, "peak_rss_mb": own}
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    return {**result, "rss_start_mb": start_rss, "own_peak_rss_mb": own, "worker_peak_rss_mb": round(worker, 1),
            "peak_rss_mb": round(own + workers * worker, 1)}


def isolated(fn, profile_to: Path | None = None, **kwargs) -> dict:
    """fn(**kwargs) -> dict of figures, run in a fresh 'spawn' process; adds peak_rss_mb.
    A step that fails (or is killed, e.g. out of memory) gives {"error": ...} instead."""
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return pool.submit(_measured, fn, kwargs, str(profile_to) if profile_to else None).result()
    except Exception as exc:  # noqa: BLE001 - any failure of the step, OOM kills included, is a result
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return {"error": detail}
