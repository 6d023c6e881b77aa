"""Resident memory (and CPU time) of a server and all its child processes, sampled while a
benchmark runs.

psutil when it is installed, else ``/proc`` (Linux): a service is its process and every
descendant (Rasa may start workers), summed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

try:
    import psutil
except ImportError:  # not a dependency of the app; /proc does the same on Linux
    psutil = None


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    name: str
    rss_mb: float
    hwm_mb: float  # the kernel's peak RSS of this process (0 when unknown)


def _proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _kb_field(fields: Mapping[str, str], key: str) -> float:
    value = fields.get(key, "0 kB").split()[0]
    return int(value) / 1024


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces and brackets: the fields follow the last ")".
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[ProcessMemory]:
    """``pid`` and its descendants; processes that ended meanwhile are left out."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        out = []
        for process in processes:
            try:
                rss = process.memory_info().rss / 2**20
                out.append(ProcessMemory(process.pid, process.name(), rss, 0.0))
            except psutil.Error:
                continue
        return out
    children = _children_map()
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(children.get(current, []))
    out = []
    for current in pids:
        try:
            fields = _proc_status(current)
        except OSError:
            continue
        out.append(
            ProcessMemory(
                current,
                fields.get("Name", "?"),
                _kb_field(fields, "VmRSS"),
                _kb_field(fields, "VmHWM"),
            )
        )
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its live descendants so far."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
        return total
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for process in process_tree(pid):
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


@dataclass
class MemorySampler:
    """Samples each service's summed RSS every ``interval`` seconds in a background thread."""

    pids: Mapping[str, int]  # service name -> root pid
    interval: float = 1.0
    peak_mb: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> dict[str, float]:
        now = {name: sum(p.rss_mb for p in process_tree(pid)) for name, pid in self.pids.items()}
        for name, mb in now.items():
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), mb)
        self.samples += 1
        return now

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
