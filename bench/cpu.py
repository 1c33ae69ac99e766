"""CPU seconds used by process trees, from /proc: what a minute of the pipeline costs, all processes included.

A tree's cumulative CPU is the sum, over its live processes, of their own user + system time and that of the
children they have reaped (`cutime`, `cstime`): a process that ends between two readings moves into its parent's
reaped time, so the difference of two readings counts it once. Linux only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    cpu: float  # own + reaped children's user and system seconds
    command: str


def processes() -> dict[int, Proc]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        found[int(entry.name)] = Proc(int(entry.name), int(fields[1]), ticks / _HZ, command)
    return found


def tree(root: int, procs: dict[int, Proc]) -> set[int]:
    """root and all its live descendants."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    members, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in procs and pid not in members:
            members.add(pid)
            todo.extend(children.get(pid, ()))
    return members


def reading(roots: dict[str, Iterable[int]]) -> dict[str, float]:
    """CPU seconds so far of each named group of process trees (a pid in two groups counts in the first)."""
    procs = processes()
    seen: set[int] = set()
    out = {}
    for name, pids in roots.items():
        members = set()
        for root in pids:
            members |= tree(root, procs)
        members -= seen
        seen |= members
        out[name] = sum(procs[p].cpu for p in members)
    return out


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in after}


def pid_from_file(path: Path) -> int | None:
    """The pid in a pid file (PostgreSQL's postmaster.pid: its first line), or None."""
    try:
        return int(path.read_text().splitlines()[0].strip())
    except (OSError, ValueError, IndexError):
        return None
