"""CPU time of process groups from /proc, to say who used the machine during a window.

A group is a process tree (a root and all its descendants) or all processes with a
given name. Its CPU time is the user + system time of its live members plus, for
tree roots, the time of children they have already reaped (`cutime` + `cstime`), so
a worker or backend that exits inside the window is still counted. The difference of
two samples is the CPU used between them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    comm: str
    ticks: int  # utime + stime
    child_ticks: int  # cutime + cstime: reaped children

    @property
    def cmdline(self) -> str:
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as handle:
                return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            return ""


def read_proc(pid: int) -> ProcInfo | None:
    """One process's counters, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode(errors="replace")
    except OSError:
        return None
    # comm is in parentheses and may contain spaces or parentheses itself.
    left, right = data.index("("), data.rindex(")")
    fields = data[right + 2 :].split()
    # fields[0] is field 3 (state) of proc(5): ppid is 4, utime..cstime are 14..17.
    return ProcInfo(
        pid=pid,
        ppid=int(fields[1]),
        comm=data[left + 1 : right],
        ticks=int(fields[11]) + int(fields[12]),
        child_ticks=int(fields[13]) + int(fields[14]),
    )


def all_processes() -> dict[int, ProcInfo]:
    """Every process visible in /proc, by pid."""
    result = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = read_proc(int(name))
            if info is not None:
                result[info.pid] = info
    return result


def tree(procs: dict[int, ProcInfo], roots: set[int]) -> set[int]:
    """The roots and all their descendants."""
    members = {pid for pid in roots if pid in procs}
    changed = True
    while changed:
        changed = False
        for info in procs.values():
            if info.ppid in members and info.pid not in members:
                members.add(info.pid)
                changed = True
    return members


def named_roots(procs: dict[int, ProcInfo], comm: str) -> set[int]:
    """Processes called `comm` whose parent is not: e.g. the postmaster."""
    return {
        info.pid
        for info in procs.values()
        if info.comm == comm and procs.get(info.ppid, ProcInfo(0, 0, "", 0, 0)).comm != comm
    }


# A PostgreSQL client backend titles itself `postgres: [cluster: ]user database host(port)
# activity` (host `[local]` on a Unix socket); auxiliary processes have no host part.
_PG_CLIENT = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def postgres_process_of(database: str) -> Callable[[ProcInfo], bool]:
    """A filter keeping the cluster's own processes and the backends of `database`.

    Other people's tests share this cluster; their backends must not be billed to us."""

    def keep(info: ProcInfo) -> bool:
        match = _PG_CLIENT.match(info.cmdline)
        return match is None or match.group(1) == database

    return keep


@dataclass(frozen=True)
class Group:
    """A set of processes to account for: explicit tree roots and/or a process name.

    `keep` filters the members; `reaped` adds the roots' reaped children, which is
    only right when every child of the roots belongs to the group."""

    name: str
    roots: tuple[int, ...] = ()
    comm: str | None = None
    keep: Callable[[ProcInfo], bool] | None = None
    reaped: bool = True

    def root_pids(self, procs: dict[int, ProcInfo]) -> set[int]:
        roots = set(self.roots)
        if self.comm is not None:
            roots |= named_roots(procs, self.comm)
        return roots

    def ticks(self, procs: dict[int, ProcInfo]) -> int:
        roots = self.root_pids(procs)
        members = tree(procs, roots)
        if self.keep is not None:
            members = {pid for pid in members if pid in roots or self.keep(procs[pid])}
        live = sum(procs[pid].ticks for pid in members)
        if not self.reaped:
            return live
        return live + sum(procs[pid].child_ticks for pid in roots if pid in procs)


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    # guest time is already included in user time; steal is counted as busy.
    total = sum(values[:8])
    return total - idle, total


@dataclass(frozen=True)
class Sample:
    wall: float
    ticks: dict[str, int]
    machine: tuple[int, int]


def sample(groups: list[Group]) -> Sample:
    """Counters of every group (and of the whole machine) now."""
    wall = time.monotonic()
    procs = all_processes()
    return Sample(
        wall=wall, ticks={g.name: g.ticks(procs) for g in groups}, machine=machine_busy_ticks()
    )


def cpu_percent(start: Sample, end: Sample) -> dict[str, float]:
    """CPU used per group between two samples, in % of one core.

    `machine` is every CPU of the machine, `other` what none of the groups used: other
    people's processes on this shared box, when it is large."""
    elapsed = end.wall - start.wall
    if elapsed <= 0:
        return {}
    result = {
        name: 100.0 * (end.ticks[name] - start.ticks.get(name, 0)) / CLOCK_TICKS / elapsed
        for name in end.ticks
    }
    # Same unit as the groups: 200 % is both cores of this machine fully busy.
    result["machine"] = 100.0 * (end.machine[0] - start.machine[0]) / CLOCK_TICKS / elapsed
    result["other"] = max(0.0, result["machine"] - sum(result[name] for name in end.ticks))
    return result
