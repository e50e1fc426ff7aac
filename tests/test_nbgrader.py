"""Grading a lab with nbgrader (docs/nbgrader.md): the solution markers convert, and the recipe grades a lab."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lab_helpers.kit import nbgrader_source, solution_regions

KIT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((KIT / "solutions").glob("*.ipynb"))


def test_every_solution_region_is_a_begin_end_pair_nbgrader_reads():
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        regions = 0
        for cell in nb.cells:
            for line in cell.source.splitlines():
                if "BEGIN SOLUTION" in line or "END SOLUTION" in line:  # nbgrader matches the words anywhere in a line
                    assert line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"), (path.name, line)
            regions += solution_regions(cell.source)
        assert regions >= 1, path.name
    for broken in ("### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION"):
        with pytest.raises(ValueError):
            solution_regions(broken)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_nbgraders_clear_solutions_turns_each_lab_into_its_release(path, tmp_path):
    from nbgrader.preprocessors import ClearSolutions

    source = nbformat.read(nbgrader_source(path, tmp_path), as_version=4)
    answers = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert answers and len(answers) == len(tests)
    assert all(c.source.rstrip().endswith('"the self-check above did not pass"') and c.metadata["nbgrader"]["points"] == 1
               for c in tests)
    hidden = [line.strip() for c in answers for line in c.source.split("### BEGIN SOLUTION", 1)[1]
              .split("### END SOLUTION", 1)[0].splitlines() if line.strip()]
    released, _ = ClearSolutions().preprocess(source, {})
    for cell in (c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")):
        assert "raise NotImplementedError()" in cell.source and "### STUB" not in cell.source
        assert "SOLUTION" not in cell.source
    text = "\n".join(c.source for c in released.cells if c.metadata.get("nbgrader", {}).get("solution"))
    assert not [line for line in hidden if line in text.splitlines() and not line.startswith("#")], "solution left in"
    broken = nbformat.read(path, as_version=4)  # the markers in a cell nbgrader was not told about: it refuses
    with pytest.raises(RuntimeError, match="non-solution cell"):
        ClearSolutions().preprocess(broken, {})


@pytest.mark.notebook
@pytest.mark.timeout(900)
def test_the_recipe_grades_lab_00_with_nbgrader(tmp_path):
    """docs/nbgrader.md, step by step: a right submission scores 1 of 1, the untouched release 0 of 1."""
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "model-inversion-lab"\nc.CourseDirectory.root = "."\n'
        "c.Execute.timeout = 600\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def nbgrader(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        return done.stdout + done.stderr

    nbgrader_source("00", course / "source" / "lab00")
    nbgrader("generate_assignment", "lab00", "--force")
    release = course / "release" / "lab00" / "00_orientation.ipynb"
    assert "raise NotImplementedError()" in release.read_text()
    for learner, notebook in (("ada", course / "source" / "lab00" / "00_orientation.ipynb"), ("bob", release)):
        (course / "submitted" / learner / "lab00").mkdir(parents=True)
        shutil.copy(notebook, course / "submitted" / learner / "lab00" / "00_orientation.ipynb")
        nbgrader("db", "student", "add", learner)
    nbgrader("autograde", "lab00", "--force")
    nbgrader("export")
    grades = {row["student_id"]: (float(row["score"]), float(row["max_score"]))
              for row in csv.DictReader((course / "grades.csv").open())}
    assert grades == {"ada": (1.0, 1.0), "bob": (0.0, 1.0)}
