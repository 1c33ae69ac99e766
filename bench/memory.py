"""Peak resident memory of the bench process and of every process it starts, sampled while a block runs.

Processes are grouped by what they are (their command line): the spark-submit driver's JVM, the driver's
Python (the application's `main`), and the bench process itself, in which `dag.test()` runs Airflow and its
tasks. Only this process's own tree is sampled: other people's processes on a shared machine never count.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

import psutil

SPARK_JVM = "spark-submit driver (JVM)"
SPARK_PYTHON = "spark-submit driver (Python)"
AIRFLOW = "Airflow (dag.test in the bench process)"
OTHER = "other child processes"


def classify(proc: psutil.Process, root_pid: int) -> str:
    if proc.pid == root_pid:
        return AIRFLOW
    try:
        cmd = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return OTHER
    if "org.apache.spark.deploy.SparkSubmit" in cmd:
        return SPARK_JVM
    if cmd.endswith(".py") or ".py " in cmd:
        return SPARK_PYTHON if ("spark_jobs/" in cmd or "seed_pattern.py" in cmd) else OTHER
    return OTHER


class PeakMemory:
    """with PeakMemory() as m: ...; m.peaks_mb() -> {group: peak MB} (the group's summed RSS at its highest)."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peaks: dict[str, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-memory")
        self._root = psutil.Process(os.getpid())

    def _sample(self) -> None:
        now: dict[str, int] = defaultdict(int)
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in procs:
            try:
                now[classify(proc, self._root.pid)] += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        for group, rss in now.items():
            self.peaks[group] = max(self.peaks[group], rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peaks_mb(self) -> dict[str, float]:
        return {group: round(rss / 2**20, 1) for group, rss in sorted(self.peaks.items())}
