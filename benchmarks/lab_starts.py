"""How fast every lab starts on one CPU: its first run on a machine that never ran the kit, and a warm run after it.

Cold: each lab from its own empty cache (nothing trained, nothing measured: a learner who opens that lab first).
Warm: the same notebook again with that cache (what a learner sees after `prepare`, or on the warm Binder image).
Then `python -m lab_helpers prepare` as a whole command from one empty cache: the time `binder/postBuild` adds to
the image's build.

Run it on one CPU, nothing else busy: `taskset -c 0 python benchmarks/lab_starts.py`. It rewrites the section
"## Every lab on one CPU" of docs/performance.md and exits 1 when a lab is over budget.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

COLD_SECONDS_BUDGET = 120  # a lab's first run on a machine that never ran the kit, one CPU
PEAK_MB_BUDGET = 1536  # Binder gives 2 GB
SECTION = "## Every lab on one CPU"


def lab_row(path: Path) -> tuple:
    """(notebook, cold seconds, cold peak MB, warm seconds, warm peak MB), the cold run from an empty cache of its own."""
    from lab_helpers.kit import error_outputs, execute_notebook

    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as cwd:
        env = {"LAB_CACHE_DIR": cache, "LAB_AUDIT_DIR": str(Path(cwd) / "audit")}
        cold = execute_notebook(path, Path(cwd), cell_timeout=1200, env=env)
        warm = execute_notebook(path, Path(cwd), cell_timeout=1200, env=env)
        problems = error_outputs(cold.notebook) + error_outputs(warm.notebook)
    if problems:
        raise SystemExit(f"{path.name} failed: {problems}")
    return path.name, cold.seconds, cold.peak_mb, warm.seconds, warm.peak_mb


def prepare_seconds() -> float:
    """Wall seconds of `python -m lab_helpers prepare` from an empty cache (what binder/postBuild runs)."""
    with tempfile.TemporaryDirectory() as cache:
        began = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "lab_helpers", "prepare"], cwd=KIT, capture_output=True, text=True,
                             env={**os.environ, "LAB_CACHE_DIR": cache}, timeout=3600)
        seconds = time.perf_counter() - began
    if run.returncode:
        raise SystemExit(f"prepare failed:\n{run.stdout}\n{run.stderr}")
    return seconds


def over_budget(rows: list[tuple]) -> list[str]:
    """One line for every lab over a budget: a first run over two minutes, or a peak over 1.5 GB."""
    lines = []
    for name, cold_s, cold_mb, warm_s, warm_mb in rows:
        if cold_s > COLD_SECONDS_BUDGET:
            lines.append(f"{name}: first run {cold_s:.0f} s, over the {COLD_SECONDS_BUDGET} s budget")
        if max(cold_mb, warm_mb) > PEAK_MB_BUDGET:
            lines.append(f"{name}: peak {max(cold_mb, warm_mb):.0f} MB, over the {PEAK_MB_BUDGET} MB budget")
    return lines


def report(rows: list[tuple], prepare: float | None, cpus: int) -> str:
    """The docs/performance.md section."""
    import datetime as dt

    lines = [SECTION, "",
             f"Measured by `benchmarks/lab_starts.py` on {dt.date.today().isoformat()}, {cpus} usable CPU core(s). "
             "**Cold**: the lab's first run on a machine that never ran the kit (its own empty cache: every model it needs "
             "trained, every attack measured). **Warm**: the same notebook again with that cache (after `python -m "
             "lab_helpers prepare`, or on the warm Binder image). Peak memory is the kernel's own high-water mark (Binder "
             "allows 2 GB).", "",
             "| notebook | cold: seconds | cold: peak MB | warm: seconds | warm: peak MB |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {cs:.0f} | {cm:.0f} | {ws:.0f} | {wm:.0f} |" for n, cs, cm, ws, wm in rows]
    lines += ["", f"Slowest first run: {max(r[1] for r in rows):.0f} s; largest peak: "
                  f"{max(max(r[2], r[4]) for r in rows):.0f} MB."]
    if prepare is not None:
        lines += ["", f"`python -m lab_helpers prepare` from an empty cache (every lab in order, later labs reusing the "
                      f"models earlier ones trained; what `binder/postBuild` runs): **{prepare / 60:.1f} min** on one CPU. "
                      "That is what building the Binder image warm adds to its build (Binder's builders usually have "
                      "more CPUs than a session's one; its pip install of the requirements comes on top)."]
    over = over_budget(rows)
    lines += ["", f"Budgets: a first run within {COLD_SECONDS_BUDGET} s and a peak within {PEAK_MB_BUDGET} MB per lab. "
              + ("**OVER BUDGET:** " + "; ".join(over) + "." if over else "Every lab is within both."), ""]
    return "\n".join(lines)


def one_cpu() -> int:
    """The usable CPU cores, with a warning unless it is one (measure under `taskset -c 0`); the kit picks the threads."""
    cpus = len(os.sched_getaffinity(0))
    if cpus != 1:
        print(f"warning: {cpus} cores usable; run under `taskset -c 0` to measure on one CPU", file=sys.stderr)
    os.environ.pop("OMP_NUM_THREADS", None)  # the kit chooses the threads from the CPU it is given
    return cpus


def section_command(doc: str, heading: str, build, options=None) -> None:
    """The command line of a benchmark that rewrites one section of docs/performance.md.

    Parameters
    ----------
    doc : the benchmark's docstring (its first line is the --help description).
    heading : the section's heading, e.g. "## Recognised, template leak, visible ...".
    build : (usable CPU cores, parsed arguments) -> the section's Markdown.
    options : adds the benchmark's own arguments to the parser (besides --output), or None.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--output", default=str(KIT / "docs" / "performance.md"))
    if options is not None:
        options(parser)
    args = parser.parse_args()
    cpus = one_cpu()
    section = build(cpus, args)
    write_section(args.output, section, heading)
    print(section)


def write_section(output: str | Path, section: str, heading: str = SECTION) -> None:
    """Replace (or add) one section of a Markdown file, e.g. docs/performance.md."""
    output = Path(output)
    output.write_text(replace_section(output.read_text(encoding="utf-8") if output.exists() else "", section, heading),
                      encoding="utf-8")


def replace_section(document: str, section: str, heading: str = SECTION) -> str:
    """The document with its section under `heading` (up to the next '## ' heading) replaced, or the section added."""
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(document):
        return pattern.sub(lambda _: section + "\n", document)
    return document.rstrip("\n") + "\n\n" + section + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab numbers to measure (default: every lab)")
    parser.add_argument("--no-prepare", action="store_true", help="skip timing `prepare` from an empty cache")
    parser.add_argument("--output", default=str(KIT / "docs" / "performance.md"))
    args = parser.parse_args()
    cpus = one_cpu()
    paths = sorted((KIT / "solutions").glob("*.ipynb"))
    if args.labs:
        paths = [p for p in paths if p.name[:2] in {n.zfill(2) for n in args.labs}]
    rows = []
    for path in paths:
        rows.append(lab_row(path))
        print(f"{rows[-1][0]}: cold {rows[-1][1]:.0f} s, warm {rows[-1][3]:.0f} s, peak {max(rows[-1][2], rows[-1][4]):.0f} MB",
              flush=True)
    prepare = None if args.no_prepare else prepare_seconds()
    section = report(rows, prepare, cpus)
    write_section(args.output, section)
    print(section)
    if over_budget(rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
