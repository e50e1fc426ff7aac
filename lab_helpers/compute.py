"""How the kit uses the CPU: one PyTorch thread while training, and never more threads than the CPU quota allows.

Binder and container limits give a notebook one CPU *by quota* while the machine shows many cores; PyTorch then
starts one thread per visible core, and the threads fight over one CPU (the same call 0.6 s with 1 thread, 2.0 s
with 8, and 0.7-29 s on a busy machine). `cpu_budget` reads the quota (cgroup v2 `cpu.max`, cgroup v1
`cpu.cfs_quota_us`) and the process's CPU affinity, and an explicit `OMP_NUM_THREADS` caps them (a user, a class
hub or the test suite that runs several kernels at once asked for fewer threads: more would fight over the cores,
the same attack 6x slower with 2 threads in each of 3 processes on 2 cores than with 1); `use_cpu_budget` sets
PyTorch's threads from them the first time the kit trains or attacks (never on import). `python -m lab_helpers
doctor` prints what it chose and why.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class CpuBudget:
    """The CPUs this process may really use, and the PyTorch threads the kit runs with."""

    visible: int  # cores the machine shows
    affinity: int  # cores this process may run on
    quota: float | None  # CPUs the container's quota allows (None: no quota)
    source: str  # where the quota came from
    threads: int  # PyTorch threads: the smallest of affinity, quota and the cap, at least 1
    cap: int | None = None  # OMP_NUM_THREADS, when set to a whole number

    def describe(self) -> str:
        """One line: what was found and what was chosen."""
        quota = "no CPU quota" if self.quota is None else f"a quota of {self.quota:g} CPU ({self.source})"
        cap = "" if self.cap is None else f", OMP_NUM_THREADS={self.cap}"
        return (f"{self.visible} core(s) visible, {self.affinity} usable, {quota}{cap}: PyTorch uses {self.threads} "
                f"thread(s)")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroup_dirs(root: Path) -> list[Path]:
    """The cgroup folders that apply to this process: its own (from /proc/self/cgroup), then the root."""
    dirs = []
    text = _read(Path("/proc/self/cgroup")) if root == Path(CGROUP_ROOT) else None
    for line in (text or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[2] not in ("", "/"):
            controllers = parts[1].split(",")
            if parts[1] == "":  # cgroup v2
                dirs.append(root / parts[2].lstrip("/"))
            elif "cpu" in controllers:
                for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                    dirs.append(root / name / parts[2].lstrip("/"))
    return dirs + [root]


def cpu_quota(root: str | Path | None = None) -> tuple[float | None, str]:
    """(CPUs the cgroup quota allows, where it was read) — (None, 'none') without a quota."""
    root = Path(root or os.environ.get("LAB_CGROUP_ROOT") or CGROUP_ROOT)
    for folder in _own_cgroup_dirs(root):
        v2 = _read(folder / "cpu.max")
        if v2:
            quota, _, period = v2.partition(" ")
            if quota == "max":
                return None, "cgroup v2 cpu.max: max"
            try:
                return int(quota) / int(period or 100_000), "cgroup v2 cpu.max"
            except ValueError:
                continue
        for name in ("", "cpu", "cpu,cpuacct"):
            base = folder / name if name else folder
            q, p = _read(base / "cpu.cfs_quota_us"), _read(base / "cpu.cfs_period_us")
            if q is not None and p is not None:
                try:
                    q_us, p_us = int(q), int(p)
                except ValueError:
                    continue
                if q_us <= 0:
                    return None, "cgroup v1 cpu.cfs_quota_us: -1"
                return q_us / p_us, "cgroup v1 cpu.cfs_quota_us"
    return None, "none"


def thread_cap() -> int | None:
    """OMP_NUM_THREADS as a whole number of threads (None when unset or not a positive whole number)."""
    try:
        cap = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return cap if cap >= 1 else None


def cpu_budget(root: str | Path | None = None) -> CpuBudget:
    """The CPUs this process may use (cores, affinity, quota, OMP_NUM_THREADS) and the PyTorch threads that fit them."""
    visible = os.cpu_count() or 1
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else visible
    quota, source = cpu_quota(root)
    allowed = affinity if quota is None else min(affinity, max(1, math.floor(quota + 1e-9)))
    cap = thread_cap()
    if cap is not None:
        allowed = min(allowed, cap)
    return CpuBudget(visible, affinity, quota, source, max(1, allowed), cap)


_CHOSEN: CpuBudget | None = None


def use_cpu_budget() -> CpuBudget:
    """Set PyTorch's threads to the CPU budget, once per process (later calls return the same choice)."""
    global _CHOSEN
    if _CHOSEN is None:
        import torch

        _CHOSEN = cpu_budget()
        torch.set_num_threads(_CHOSEN.threads)
    return _CHOSEN


@contextmanager
def one_thread():
    """Train on one thread: results then do not depend on the machine's core count, so a class sees the same numbers."""
    import torch

    use_cpu_budget()  # whatever runs after this block gets the budget, not one thread per visible core
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def weights_frozen(net):
    """Inside the block the network's weights take no gradients (an attack that differentiates with respect to its
    input only: computing the weights' gradients would cost about a third of each step, for nothing); restored after."""
    frozen = [p for p in net.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        yield net
    finally:
        for p in frozen:
            p.requires_grad_(True)
