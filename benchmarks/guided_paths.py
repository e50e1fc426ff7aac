"""Guided paths (issue 26): per lab, the words a candidate reads, the interactions, and the minutes it takes.

    python benchmarks/guided_paths.py     # seconds: it reads the notebooks and the lab timings already measured

Rewrites the section "## Guided paths: words, interactions, minutes" of docs/performance.md. Minutes = the lab's
measured run on one CPU (the "Every lab on one CPU" table: warm, as in a class after `prepare`; cold for a first run
at home) + reading the guided path's prose at READING_WPM words a minute + a fixed time per interaction
(INTERACTION_MINUTES). A lab without a guided path yet is listed with its whole notebook's prose.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

SECTION = "## Guided paths: words, interactions, minutes"
READING_WPM = 150  # careful reading of technical prose by a security professional (not skimming)
INTERACTION_MINUTES = {"prediction": 1.5, "decision": 3.0, "manager sentence": 2.0, "quick-check question": 1.25,
                       "drill card": 0.25, "exam minute": 1.0}
QUICK_CHECK_QUESTIONS = 4  # quick_check's default n
DRILL_CARDS = 10  # sorting_drill's cards when no n is given
EXTENSION_HEADING = "## Engineer's extension"


def lab_path(path: Path) -> dict:
    """The guided path of one notebook: its prose words and interactions (None when it has no guided path yet); a
    short mock exam counts its time limit (the full-length form is sat after class)."""
    import nbformat

    from lab_helpers.exam import EXAM_FORMS

    cells = nbformat.read(path, as_version=4).cells
    at = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(EXTENSION_HEADING)),
              None)
    path_cells = cells[1:at] if at is not None else cells[1:]
    code = "\n".join(c.source for c in path_cells if c.cell_type == "code")
    return {"guided": at is not None,
            "words": sum(len(c.source.split()) for c in path_cells if c.cell_type == "markdown"),
            "prediction": len(re.findall(r"\bpredict_first\(", code)), "decision": len(re.findall(r"\bdecide\(", code)),
            "manager sentence": int("explain_to_your_manager(" in code),
            "quick-check question": calls(code, "quick_check", QUICK_CHECK_QUESTIONS),
            "drill card": calls(code, "sorting_drill", DRILL_CARDS),
            "exam minute": sum(EXAM_FORMS[form].minutes for form in re.findall(r"\bmock_exam\(\"(short)\"\)", code))}


def calls(code: str, function: str, default: int) -> int:
    """The items shown by every call of `function` in `code`: its n= argument, or `default` without one."""
    return sum(int(m.group(1)) if (m := re.search(r"\bn=(\d+)", args)) else default
               for args in re.findall(rf"\b{function}\(([^)]*)\)", code))


def run_seconds() -> dict[str, tuple[float, float]]:
    """Lab number -> (cold, warm) seconds, from docs/performance.md's "Every lab on one CPU" table."""
    text = (KIT / "docs" / "performance.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d\d)_\S+\.ipynb \| (\d+) \| \d+ \| (\d+) \| \d+ \|$", text, flags=re.M)
    return {lab: (float(cold), float(warm)) for lab, cold, warm in rows}


def measure() -> list[dict]:
    seconds = run_seconds()
    rows = []
    for path in sorted((KIT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        lab = path.name[:2]
        info = lab_path(path)
        cold, warm = seconds.get(lab, (float("nan"), float("nan")))
        reading = info["words"] / READING_WPM
        acting = sum(INTERACTION_MINUTES[k] * info[k] for k in INTERACTION_MINUTES)
        rows.append({"lab": lab, **info, "cold": cold, "warm": warm, "reading": reading, "acting": acting,
                     "minutes": warm / 60 + reading + acting, "minutes_cold": cold / 60 + reading + acting})
    return rows


def report(rows: list[dict], cpus: int) -> str:
    import datetime as dt

    lines = [SECTION, "",
             f"Computed by `benchmarks/guided_paths.py` on {dt.date.today().isoformat()} from the notebooks and the "
             f"measured runs above ({cpus} usable CPU core(s)). **Minutes** = the lab's run on one CPU (warm, as in class "
             f"after `prepare`; in brackets cold, a first run at home) + the guided path's prose at {READING_WPM} words a "
             "minute + " + ", ".join(f"{v:g} min per {k}" for k, v in INTERACTION_MINUTES.items()) + ". A lab without "
             "a guided path yet (issue 26) shows its whole notebook's prose and no minutes (its exercises are code).", "",
             "| lab | guided path | prose words | predictions | graded decisions | run (s, warm / cold) | minutes |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lab']} | {'yes' if r['guided'] else 'not yet'} | {r['words']:,} | {r['prediction']} | "
                     f"{r['decision']} | {r['warm']:.0f} / {r['cold']:.0f} | "
                     + (f"{r['minutes']:.0f} ({r['minutes_cold']:.0f}) |" if r["guided"] else "— |"))
    guided = [r for r in rows if r["guided"]]
    if guided:
        lines += ["", f"Guided paths in place: {len(guided)} of {len(rows)} labs, {sum(r['minutes'] for r in guided):.0f} "
                      "minutes together (warm)."]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    from lab_starts import section_command

    section_command(__doc__, SECTION, lambda cpus, args: report(measure(), cpus))


if __name__ == "__main__":
    main()
