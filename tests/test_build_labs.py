"""One source for labs and solutions: stubbing, error messages, staleness, and clean committed notebooks."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from lab_helpers.kit import CODE_PROMPT, DEFAULT_STUB, MARKDOWN_PROMPT, LabBuildError, build_labs, error_outputs
from lab_helpers.kit.notebooks import learner_source, make_learner_notebook, notebook_text

KIT = Path(__file__).resolve().parent.parent


def test_region_becomes_prompt_and_stub_keeping_indentation():
    src = "def f():\n    ### BEGIN SOLUTION\n    return 2\n    ### STUB return 0\n    ### END SOLUTION\nprint(f())"
    assert learner_source(src, "code", "x") == f"def f():\n    {CODE_PROMPT}\n    return 0\nprint(f())"


def test_multi_line_stub_keeps_its_own_indentation():
    src = "### BEGIN SOLUTION\ndef step(x):\n    return x - 1\n### STUB def step(x):\n### STUB     return x\n### END SOLUTION"
    out = learner_source(src, "code", "x")
    assert out == f"{CODE_PROMPT}\ndef step(x):\n    return x"
    scope = {}
    exec(out, scope)
    assert scope["step"](3) == 3


def test_region_without_stub_gets_a_visible_note_not_raise():
    out = learner_source("a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION", "code", "x")
    assert out == f"a = 1\n{CODE_PROMPT}\n{DEFAULT_STUB}"
    assert "raise" not in out
    exec(out, {})  # the learner's cell runs


def test_markdown_answer_region():
    assert learner_source("Q?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "markdown", "x") == f"Q?\n{MARKDOWN_PROMPT}"


@pytest.mark.parametrize("src, problem", [
    ("### BEGIN SOLUTION\nx = 1", "without ### END SOLUTION"),
    ("x = 1\n### END SOLUTION", "without a ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ("### STUB x = 0", "outside a solution region"),
])
def test_bad_markers_name_the_notebook_and_cell(src, problem):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("ok = 1"), nbformat.v4.new_code_cell(src)])
    with pytest.raises(LabBuildError) as info:
        make_learner_notebook(nb, "07_demo.ipynb")
    assert "07_demo.ipynb, cell 1" in str(info.value) and problem in str(info.value)


def test_learner_notebook_has_no_outputs_and_no_solution():
    cell = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nsecret = 'answer'\n### END SOLUTION")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="answer")]
    cell.execution_count = 3
    learner = make_learner_notebook(nbformat.v4.new_notebook(cells=[cell]), "00_x.ipynb")
    assert learner.cells[0].outputs == [] and learner.cells[0].execution_count is None
    assert "secret" not in nbformat.writes(learner)


def test_check_detects_stale_missing_and_extra_labs(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    solutions.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), solutions / "00_a.ipynb")
    assert build_labs(solutions, labs, check=True) == ["00_a.ipynb"]
    assert not labs.exists()  # --check writes nothing
    assert build_labs(solutions, labs) == ["00_a.ipynb"]
    assert build_labs(solutions, labs, check=True) == []
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 2")]), solutions / "00_a.ipynb")
    assert build_labs(solutions, labs, check=True) == ["00_a.ipynb"]
    build_labs(solutions, labs)
    (labs / "09_orphan.ipynb").write_text((labs / "00_a.ipynb").read_text())
    assert build_labs(solutions, labs, check=True) == ["09_orphan.ipynb (no solution of that name)"]


def test_committed_labs_are_in_sync_with_solutions():
    assert build_labs(check=True) == [], "run: python -m lab_helpers build-labs"


def test_labs_and_solutions_hold_the_same_notebooks():
    names = lambda d: sorted(p.name for p in (KIT / d).glob("*.ipynb"))  # noqa: E731
    assert names("labs") == names("solutions") and names("solutions")


@pytest.mark.parametrize("path", sorted(KIT.glob("solutions/*.ipynb")) + sorted(KIT.glob("labs/*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebooks_carry_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {i} of {path.name} has outputs"


def test_error_scan_finds_errors_in_cells_streams_and_widget_outputs():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    assert error_outputs(nb) == []
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text="100%|####| progress bar")]
    assert error_outputs(nb) == []  # tqdm writes to stderr: not an error
    nb.cells[0].outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]))
    nb.cells[0].outputs.append(nbformat.v4.new_output("stream", name="stderr",
                                                     text="Traceback (most recent call last):\n ...\nKeyError: 'k'\n"))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abcdef1234": {
        "state": {"outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero"}]}}}}}
    assert error_outputs(nb) == ["cell 0: ValueError: bad", "cell 0: KeyError: 'k'", "widget abcdef12: ZeroDivisionError: division by zero"]


def test_learner_notebook_carries_the_kernels_language_info():
    """JupyterLab sets metadata.language_info from the kernel as a notebook opens; a lab saved with nbformat's bare
    {"name": "python"} was marked modified before the learner did anything (issue 26; tests/test_browser.py opens one)."""
    from ipykernel.ipkernel import IPythonKernel

    from lab_helpers.kit.notebooks import same_notebook_text

    solution = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    solution.metadata["language_info"] = {"name": "python"}
    learner = make_learner_notebook(solution, "00_x.ipynb")
    assert learner.metadata["language_info"] == IPythonKernel.language_info
    assert learner.metadata["kernelspec"]["name"] == "python3"
    text = notebook_text(learner)
    other_python = text.replace(f'"version": "{IPythonKernel.language_info["version"]}"', '"version": "3.11.2"')
    assert other_python != text and same_notebook_text(text, other_python)  # not stale on another patch release
    assert not same_notebook_text(text, text.replace("x = 1", "x = 2"))


def test_solutions_carry_the_kernels_language_info_too():
    """Instructors open solutions/: with nbformat's bare language_info they showed as modified the moment they opened,
    as labs/ did (issue 26). Every solution carries the kernel's (its Python patch version aside)."""
    from ipykernel.ipkernel import IPythonKernel

    expected = {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}
    for path in sorted((KIT / "solutions").glob("*.ipynb")):
        info = dict(nbformat.read(path, as_version=4).metadata.get("language_info", {}))
        info.pop("version", None)
        assert info == expected, f"{path.name}: metadata.language_info is {info}"


def test_jupyterlab_saves_widget_state_with_the_kit_installed():
    """ipywidgets' JupyterLab default is not to save widget state: a notebook reopened with its kernel shut down showed
    "Error displaying widget: model not found". pip install puts the kit's default next to JupyterLab's settings
    (tests/test_browser.py reopens lab 04 to see it)."""
    import json
    import tomllib

    data_files = tomllib.loads((KIT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = data_files["share/jupyter/lab/settings/overrides.d"]
    assert shipped == ["jupyter/lab/settings/overrides.d/model-inversion-lab.json"]
    settings = json.loads((KIT / shipped[0]).read_text())
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
