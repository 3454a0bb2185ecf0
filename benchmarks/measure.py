"""Run one measured step in a fresh interpreter and read its peak resident memory.

Each step runs in its own `multiprocessing` 'spawn' process, so its peak is its own: the
figure is VmHWM from /proc/self/status (the high-water mark of the process's resident set,
interpreter and imports included). getrusage(RUSAGE_SELF).ru_maxrss is the fallback off Linux;
it is not used on Linux because after fork+exec it can carry the parent's high-water mark.
A step that hands work to processes of its own (`worker_processes` > 1) is charged for them
too: its resident set and its workers' are summed every 0.2 s, and the largest sum is the
step's peak if it is above the step's own VmHWM (Linux /proc; getrusage cannot tell a spawned
worker's own peak from the one it inherits at fork).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

RSS_METHOD = "VmHWM of a fresh multiprocessing 'spawn' process per step (ru_maxrss fallback)"


def _proc_status_mb(field: str, pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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


class _TreeRss:
    """The largest resident set of this process and its descendants together, sampled."""

    def __init__(self, every: float = 0.2):
        self.peak_mb, self._every, self._done = 0.0, every, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def _sample(self):
        while not self._done.wait(self._every):
            self.peak_mb = max(self.peak_mb, sum(_proc_status_mb("VmRSS", pid) or 0 for pid in _tree(os.getpid())))


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        try:
            todo += [
                int(c) for t in Path(f"/proc/{found[-1]}/task").iterdir() for c in (t / "children").read_text().split()
            ]
        except OSError:
            pass  # ended meanwhile, or no /proc
    return found


def _measured(fn, kwargs: dict, profile_to: str | None) -> dict:
    start_rss = rss_mb()
    started = time.perf_counter()
    with _TreeRss() as tree:
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(fn, **kwargs)
            profiler.dump_stats(profile_to)
        else:
            result = fn(**kwargs)
    result.setdefault("seconds", time.perf_counter() - started)
    own = peak_rss_mb()
    if result.get("worker_processes", 1) <= 1:
        return {**result, "rss_start_mb": start_rss, "peak_rss_mb": own}
    return {
        **result,
        "rss_start_mb": start_rss,
        "own_peak_rss_mb": own,
        "peak_rss_mb": round(max(own, tree.peak_mb), 1),
    }


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
