"""`doctor`: is this machine ready for the labs, and if not, what to fix."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass

from ..paths import FACE_FILE_NAME

# package name -> (minimum version it must be at, why the kit needs it)
REQUIRED = {
    "torch": ("2.13.0", "face models and the MI-FACE attack"),
    "numpy": ("1.26", "arrays"),
    "scikit-learn": ("1.4", "face loader and tabular models"),
    "pandas": ("2.1", "tables"),
    "matplotlib": ("3.8", "plots"),
    "ipywidgets": ("8.1", "interactive drills and control panels"),
    "tqdm": ("4.66", "progress bars"),
    "jupyterlab": ("4.2", "opening the labs"),
    "ipykernel": ("6.29", "running the notebooks"),
    "scipy": ("1.11", "statistics in the labs"),
    "nbformat": ("5.10", "building labs from solutions"),
    "nbclient": ("0.10", "prepare: running every lab once"),
    "psutil": ("5.9", "this report's memory check"),
    "opacus": ("1.6.0", "lab 05: differentially private training (DP-SGD)"),
    "captum": ("0.9.0", "lab 04: explanations as an output (saliency, integrated gradients)"),
    "genanki": ("0.13.1", "the question bank as an Anki deck (quiz --export-anki)"),
    "fastapi": ("0.110", "lab 06: the model's HTTP API"),
    "uvicorn": ("0.29", "lab 06: serving the API"),
    "httpx": ("0.27", "lab 06: the API's client"),
    "voila": ("0.5", "presentation mode: python -m lab_helpers present"),
    "nbgrader": ("0.9.6", "instructors: grading a lab with nbgrader (docs/nbgrader.md)"),
}
TEST_ONLY = {"pytest", "pytest-rerunfailures", "pytest-timeout", "pytest-xdist", "playwright"}  # in requirements.txt, not for the labs
HUB_ONLY = {"jupyterhub", "nbgitpuller"}  # the class hub's host (and its test), never a learner's server or Binder
MIN_MEMORY_GB = 1.5  # what one lab needs at most (Binder gives 2 GB)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version_tuple(text: str) -> tuple[int, ...]:
    """'2.13.0+cpu' -> (2, 13, 0)."""
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_python() -> Check:
    """Python 3.10 or newer."""
    ok = sys.version_info >= (3, 10)
    return Check("python", ok, platform.python_version(), "" if ok else "Install Python 3.11 and recreate the virtual environment.")


def check_package(name: str, minimum: str, why: str) -> Check:
    """An installed package at or above its minimum version."""
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, f"not installed ({why})", "pip install -r requirements.txt")
    ok = _version_tuple(version) >= _version_tuple(minimum)
    fix = "" if ok else f"needs {minimum} or newer: pip install -r requirements.txt"
    if name == "torch" and ok and "+cu" in version:
        return Check(name, True, f"{version} (a CUDA build; the labs only need the CPU build)")
    return Check(name, ok, version, fix)


def check_face_data() -> Check:
    """Whether the Olivetti faces are already on this machine."""
    from ..data.face_photos import candidate_data_homes, find_face_data

    home = find_face_data()
    if home is not None:
        return Check("face data", True, str(home / FACE_FILE_NAME))
    tried = ", ".join(str(p) for p in candidate_data_homes())
    return Check("face data", False, f"not found (looked in {tried})",
                 "Online: python -m lab_helpers fetch-data (1.4 MB). Offline: export LAB_DATA_HOME=<folder with olivetti_py3.pkz>.")


def check_cpu_and_memory() -> list[Check]:
    """CPU count and available memory against what a lab needs."""
    import psutil

    from ..compute import cpu_budget

    budget = cpu_budget()
    available = psutil.virtual_memory().available / 2**30
    mem_ok = available >= MIN_MEMORY_GB
    return [
        Check("cpu", True, f"{budget.describe()}; every lab runs on one"),
        Check("memory", mem_ok, f"{available:.1f} GB available (a lab needs up to {MIN_MEMORY_GB} GB)",
              "" if mem_ok else "Close other programs or notebooks (Kernel > Shut Down All Kernels)."),
    ]


def _lab_list(numbers: list[str]) -> str:
    """'00-02, 05, 08-09' for a sorted list of lab numbers."""
    runs: list[list[int]] = []
    for n in sorted(int(x) for x in numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]:02d}" if len(r) == 1 else f"{r[0]:02d}-{r[-1]:02d}" for r in runs)


def check_caches() -> Check:
    """Which labs start warm (their models and measured attacks already cached by `prepare`), and which start cold.

    A cold lab still runs: its first run trains and measures what it needs (and caches it), so this is never a
    problem to fix, only a wait to expect.
    """
    from .prepare import lab_caches

    labs = lab_caches()
    warm = [n for n, c in labs.items() if c.warm]
    cold = [n for n, c in labs.items() if not c.warm]
    if not cold:
        return Check("caches", True, f"warm for every lab ({_lab_list(warm)}): each starts from the cache")
    parts = [f"warm for {_lab_list(warm)}"] if warm else []
    parts.append(f"cold for {_lab_list(cold)}: a first run there trains and measures what it needs (then caches "
                 "it); `python -m lab_helpers prepare` warms every lab ahead of class")
    return Check("caches", True, "; ".join(parts))


def run_checks() -> list[Check]:
    """Every check the doctor makes, in report order."""
    checks = [check_python()]
    checks += [check_package(n, m, w) for n, (m, w) in REQUIRED.items()]
    checks.append(check_face_data())
    checks += check_cpu_and_memory()
    checks.append(check_caches())
    return checks


def format_report(checks: list[Check]) -> str:
    """The doctor's report as plain text, problems last with their fixes."""
    lines = ["Model Inversion Lab - environment check", ""]
    for c in checks:
        lines.append(f"  [{'ok' if c.ok else '!!'}] {c.name:<13} {c.detail}")
    problems = [c for c in checks if not c.ok]
    lines.append("")
    if problems:
        lines.append(f"{len(problems)} thing(s) to fix:")
        lines += [f"  - {c.name}: {c.fix}" for c in problems]
    else:
        lines.append("All good: every lab can run here.")
    return "\n".join(lines)


def run_doctor() -> bool:
    """Print the environment report; True when nothing needs fixing."""
    checks = run_checks()
    print(format_report(checks))
    return all(c.ok for c in checks)
