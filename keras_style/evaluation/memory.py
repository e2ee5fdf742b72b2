"""Peak resident memory of a block of code, sampled from a background thread."""

from __future__ import annotations

import math
import os
import threading

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> float:
    """This process's resident set size in bytes; NaN where it cannot be read.

    /proc/self/statm on Linux (cheap enough to poll every few ms), psutil
    elsewhere if it is installed.
    """
    try:
        with open("/proc/self/statm", "rb") as f:
            return float(int(f.read().split()[1]) * _PAGE_SIZE)
    except (OSError, IndexError, ValueError):
        pass
    try:
        import psutil
    except ImportError:
        return math.nan
    return float(psutil.Process().memory_info().rss)


class PeakRSS:
    """Context manager measuring the peak RSS increase over its block, in MiB.

    RSS is sampled every `interval` seconds on a daemon thread (TensorFlow's
    allocations are native, so `tracemalloc` would not see them).
    `peak_mib` = max sampled RSS − RSS on entry, so it includes everything
    the block allocated and still held at the peak, and excludes memory held
    before (loaded models, earlier images). A spike shorter than `interval`
    can be missed; memory freed to the allocator but not to the OS still
    counts. NaN where RSS cannot be read.

        with PeakRSS() as memory:
            run()
        print(memory.peak_mib)
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak_mib = math.nan
        self._stop = threading.Event()
        self._thread = None
        self._baseline = math.nan
        self._peak = math.nan

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, current_rss_bytes())

    def __enter__(self) -> PeakRSS:
        self._baseline = self._peak = current_rss_bytes()
        if not math.isnan(self._baseline):
            self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._peak = max(self._peak, current_rss_bytes())
            self.peak_mib = max(0.0, self._peak - self._baseline) / 2**20
        return False
