"""Grading a lab with nbgrader: the kit's solution notebooks as nbgrader source notebooks (docs/nbgrader.md).

The kit marks each exercise with `### BEGIN SOLUTION` / `### END SOLUTION` (nbgrader's own delimiters, so its
ClearSolutions step replaces them), and follows each exercise with a self-check cell `passed = check_...(...)`.
`nbgrader_source` adds the cell metadata nbgrader needs: every cell with a solution region becomes an answer
cell, every self-check cell an autograded test cell worth one point that asserts the check passed.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from .notebooks import BEGIN, END, STUB, list_labs

SCHEMA_VERSION = 3  # nbgrader's cell metadata schema
CHECK = re.compile(r"^(\w+)\s*=\s*(check_\w+)\(", flags=re.MULTILINE)


def solution_regions(source: str) -> int:
    """How many well-formed `### BEGIN SOLUTION` / `### END SOLUTION` pairs a cell has (ValueError when unpaired)."""
    depth = count = 0
    for line in source.splitlines():
        text = line.strip()
        if text.startswith(BEGIN):
            if depth:
                raise ValueError(f"{BEGIN} inside another solution region")
            depth = 1
        elif text.startswith(END):
            if not depth:
                raise ValueError(f"{END} without a {BEGIN} before it")
            depth, count = 0, count + 1
    if depth:
        raise ValueError(f"{BEGIN} without {END}")
    return count


def nbgrader_source(lab: str | int | Path, target: str | Path, points: int = 1) -> Path:
    """Write lab NN's solution notebook (or any solution notebook path) as an nbgrader source notebook into the folder
    `target` (e.g. course/source/lab06/); returns the notebook's path.

    Answer cells: the cells with a solution region (nbgrader replaces the region with its stub when it releases the
    assignment; the kit's `### STUB` lines go with it). Test cells: the self-check after each exercise, with
    `assert passed` appended, worth `points` each. Every other cell is left as it is.
    """
    from ..paths import solutions_dir

    if isinstance(lab, Path) or str(lab).endswith(".ipynb"):
        path = Path(lab)
    else:
        key = str(lab).zfill(2)
        name = list_labs(solutions_dir()).get(key)
        if name is None:
            raise KeyError(f"There is no lab {lab}. Labs: {', '.join(list_labs(solutions_dir()))}.")
        path = solutions_dir() / name
    nb = nbformat.read(path, as_version=4)
    answers = tests = 0
    for cell in nb.cells:
        source = cell.source
        if BEGIN in source or END in source:
            if solution_regions(source) == 0:
                raise ValueError(f"{path.name}: a cell mentions the solution markers without a region")
            answers += 1
            cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"answer-{answers}", "locked": False,
                                         "schema_version": SCHEMA_VERSION, "solution": True, "task": False}
            if cell.cell_type == "markdown":
                cell.metadata["nbgrader"]["points"] = 0
        elif cell.cell_type == "code" and CHECK.search(source) and answers > tests:
            tests += 1
            variable = CHECK.search(source).group(1)
            cell.source = source.rstrip() + f'\nassert {variable}, "the self-check above did not pass"'
            cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"check-{tests}", "locked": True,
                                         "points": points, "schema_version": SCHEMA_VERSION, "solution": False,
                                         "task": False}
        if STUB in cell.source and BEGIN not in cell.source:
            raise ValueError(f"{path.name}: a {STUB} line outside a solution region")
    if not answers or tests != answers:
        raise ValueError(f"{path.name}: {answers} exercise(s) but {tests} self-check cell(s) after them; each exercise "
                         "needs its self-check (passed = check_...(...)) to be graded")
    out = Path(target) / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out
