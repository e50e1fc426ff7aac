"""The command line as a learner or instructor types it: doctor, fetch-data, build-labs, reset."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lab_helpers.kit import reset_lab

KIT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab_helpers", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd or KIT, timeout=120)


def test_doctor_reports_versions_data_and_machine(tmp_path):
    result = run_cli("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for word in ("torch", "scikit-learn", "ipywidgets", "face data", "cpu", "memory", "All good"):
        assert word in result.stdout


def test_doctor_says_what_to_fix_when_data_is_missing(tmp_path):
    result = run_cli("doctor", env={"LAB_DATA_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "face data" in result.stdout and "fetch-data" in result.stdout and "LAB_DATA_HOME" in result.stdout


def test_fetch_data_finds_an_existing_copy():
    result = run_cli("fetch-data")
    assert result.returncode == 0, result.stderr
    assert "400 photos of 40 people" in result.stdout


def test_fetch_data_offline_explains_the_fix(tmp_path):
    result = run_cli("fetch-data", env={"LAB_DATA_HOME": str(tmp_path), "LAB_OFFLINE": "1"})
    assert result.returncode == 1
    assert "could not be downloaded" in result.stderr and "LAB_DATA_HOME" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_labs_check_passes_on_the_committed_tree():
    result = run_cli("build-labs", "--check")
    assert result.returncode == 0, result.stderr


def test_reset_unknown_lab_lists_the_labs_that_exist():
    result = run_cli("reset", "99")
    assert result.returncode == 2
    assert "no lab 99" in result.stderr and "00 (00_orientation)" in result.stderr


def test_build_labs_names_notebook_and_cell_for_begin_without_end(tmp_path):
    kit = tmp_path / "kit"
    (kit / "solutions").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"),
                                         nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION\ny = 2")])
    nbformat.write(nb, kit / "solutions" / "05_broken.ipynb")
    result = run_cli("build-labs", env={"LAB_KIT_ROOT": str(kit)})
    assert result.returncode == 2
    assert "05_broken.ipynb, cell 1" in result.stderr and "without ### END SOLUTION" in result.stderr


def test_reset_keeps_the_learners_file_and_never_overwrites(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### STUB answer = None\n### END SOLUTION")])
    nbformat.write(nb, solutions / "03_faces.ipynb")
    target, kept = reset_lab("3", solutions, labs)
    assert kept is None and "answer = None" in target.read_text()

    first_edit = target.read_text().replace("answer = None", "answer = 'my first try'")
    target.write_text(first_edit)
    _, kept1 = reset_lab("03", solutions, labs)
    assert kept1.read_text() == first_edit and "answer = None" in target.read_text()

    second_edit = target.read_text().replace("answer = None", "answer = 'my second try'")
    target.write_text(second_edit)
    _, kept2 = reset_lab("03", solutions, labs)
    assert kept2 != kept1 and kept1.read_text() == first_edit and kept2.read_text() == second_edit
    assert kept1.parent == labs / "backups"


def test_reset_of_an_untouched_lab_keeps_nothing(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), solutions / "00_a.ipynb")
    reset_lab("00", solutions, labs)
    _, kept = reset_lab("00", solutions, labs)
    assert kept is None and not (labs / "backups").exists()


def test_doctor_checks_every_package_the_labs_need():
    from lab_helpers.kit.doctor import HUB_ONLY, REQUIRED, TEST_ONLY

    from test_repo import requirement_names

    needed = requirement_names(KIT / "requirements.txt") - TEST_ONLY - HUB_ONLY
    assert needed <= set(REQUIRED), f"requirements.txt lists packages doctor does not check: {sorted(needed - set(REQUIRED))}"
    result = run_cli("doctor")
    for name in ("opacus", "fastapi", "voila"):
        assert f"[ok] {name}" in result.stdout, result.stdout


# ---------------------------------------------------------------- every command answers --help

def _every_command(parser=None, prefix=()):
    """Every sub-command path the parser knows, e.g. ('audit', 'verify'), found from the parser itself."""
    import argparse

    from lab_helpers.kit.cli import make_parser

    parser = parser or make_parser()
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append(prefix + (name,))
                found += _every_command(child, prefix + (name,))
    return found


COMMANDS = _every_command()


def test_the_command_list_is_found_from_the_parser():
    assert {("doctor",), ("invert",), ("audit", "verify"), ("class-target", "start")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_answers_help(command):
    from lab_helpers.kit.cli import main

    with pytest.raises(SystemExit) as ended:
        main([*command, "--help"])
    assert ended.value.code == 0


def test_the_console_script_answers_help():
    """`model-inversion-lab --help` from the virtual environment pip installed the kit into (pyproject.toml)."""
    script = Path(sys.executable).with_name("model-inversion-lab")
    assert script.exists(), "the kit is not installed into this interpreter's environment: pip install -e ."
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "invert" in result.stdout and "doctor" in result.stdout
    assert subprocess.run([sys.executable, "-m", "lab_helpers", "--help"], capture_output=True, text=True,
                          timeout=120).stdout == result.stdout
