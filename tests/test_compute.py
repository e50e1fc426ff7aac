"""The CPU budget: cgroup v1 and v2 quotas and affinity decide PyTorch's threads (Binder: 1 CPU by quota)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_helpers.compute import cpu_budget, cpu_quota

KIT = Path(__file__).resolve().parent.parent


def fake_cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("files, quota, source", [
    ({"cpu.max": "100000 100000\n"}, 1.0, "cgroup v2 cpu.max"),
    ({"cpu.max": "150000 100000\n"}, 1.5, "cgroup v2 cpu.max"),
    ({"cpu.max": "max 100000\n"}, None, "cgroup v2 cpu.max: max"),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0, "cgroup v1 cpu.cfs_quota_us"),
    ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, None,
     "cgroup v1 cpu.cfs_quota_us: -1"),
    ({}, None, "none"),
])
def test_quota_is_read_from_cgroup_v1_and_v2(tmp_path, files, quota, source):
    root = fake_cgroup(tmp_path, files)
    assert cpu_quota(root) == (quota, source)


def test_threads_never_exceed_quota_or_affinity(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the suite's own cap (conftest) would hide the affinity
    affinity = len(os.sched_getaffinity(0))
    one = cpu_budget(fake_cgroup(tmp_path / "a", {"cpu.max": "100000 100000"}))
    assert one.threads == 1 and one.quota == 1.0 and "PyTorch uses 1 thread(s)" in one.describe()
    half = cpu_budget(fake_cgroup(tmp_path / "b", {"cpu.max": "50000 100000"}))
    assert half.threads == 1  # half a CPU still gets one thread
    many = cpu_budget(fake_cgroup(tmp_path / "c", {"cpu.max": "6400000 100000"}))
    assert many.threads == affinity  # a quota of 64 CPUs: the affinity decides


def test_the_kit_sets_torch_threads_from_the_quota_on_first_use_not_on_import(tmp_path):
    root = fake_cgroup(tmp_path, {"cpu.max": "100000 100000"})
    code = ("import torch; torch.set_num_threads(8); import lab_helpers.compute as c; import lab_helpers.targets;"
            "print(torch.get_num_threads());"
            "from lab_helpers.compute import one_thread\nwith one_thread(): pass\nprint(torch.get_num_threads())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=KIT,
                         env={**os.environ, "LAB_CGROUP_ROOT": str(root), "OMP_NUM_THREADS": "8"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["8", "1"]  # import left it alone; the first training block set the budget


def test_doctor_says_what_it_chose(tmp_path):
    root = fake_cgroup(tmp_path, {"cpu.max": "100000 100000"})
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    run = subprocess.run([sys.executable, "-m", "lab_helpers", "doctor"], capture_output=True, text=True, timeout=120,
                         cwd=KIT, env={**env, "LAB_CGROUP_ROOT": str(root)})
    assert "a quota of 1 CPU (cgroup v2 cpu.max): PyTorch uses 1 thread(s)" in run.stdout


def test_an_explicit_omp_num_threads_caps_the_threads(tmp_path, monkeypatch):
    """A hub or the test suite that runs several kernels at once asks for fewer threads; the kit never raises them."""
    root = fake_cgroup(tmp_path, {"cpu.max": "max 100000"})
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert cpu_budget(root).threads == affinity and cpu_budget(root).cap is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    capped = cpu_budget(root)
    assert capped.threads == 1 and capped.cap == 1 and "OMP_NUM_THREADS=1: PyTorch uses 1 thread(s)" in capped.describe()
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    assert cpu_budget(root).threads == affinity  # a cap above the cores changes nothing
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")
    assert cpu_budget(root).threads == affinity and cpu_budget(root).cap is None
