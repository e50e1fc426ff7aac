"""Issue 26: every lab converted so far has a guided path a security candidate finishes without writing code —
predictions before measurements, one graded decision, a sentence in their own words — then the engineer's extension."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

KIT = Path(__file__).resolve().parent.parent
GUIDED_LABS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09")  # labs whose guided path is in place (the others follow: issue 26)
EXTENSION_HEADING = "## Engineer's extension"
MAX_PATH_WORDS = 1_000  # prose on the guided path, the title cell (objectives, exam link) not counted


def guided_path(path: Path) -> tuple[list, list]:
    """(the guided path's cells after the title cell, the extension's cells)."""
    cells = nbformat.read(path, as_version=4).cells
    at = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(EXTENSION_HEADING)),
              None)
    assert at is not None, f"{path.name}: no '{EXTENSION_HEADING}' heading after the guided path"
    return cells[1:at], cells[at:]


def notebooks(lab: str) -> list[Path]:
    return [next((KIT / folder).glob(f"{lab}_*.ipynb")) for folder in ("solutions", "labs")]


def path_problems(path: Path) -> list[str]:
    """What keeps a notebook's guided path from the issue's rules (empty: none)."""
    path_cells, extension = guided_path(path)
    code = "\n".join(c.source for c in path_cells if c.cell_type == "code")
    problems = []
    if len(re.findall(r"\bpredict_first\(", code)) < 3:
        problems.append("fewer than three predictions")
    if not re.search(r"\bdecide\(", code):
        problems.append("no graded decision")
    if "explain_to_your_manager(" not in code or "quick_check(" not in code:
        problems.append("no sentence in the learner's own words, or no quick check")
    problems += [f"{marker!r} on the guided path (the learner writes no code there)"
                 for marker in ("### BEGIN SOLUTION", "placeholder(", "YOUR CODE HERE", "### STUB") if marker in code]
    shown = [c.source.splitlines()[0] for c in path_cells
             if c.cell_type == "code" and not c.metadata.get("jupyter", {}).get("source_hidden")]
    if shown:
        problems.append(f"cells on the guided path with their code showing: {shown}")
    words = sum(len(c.source.split()) for c in path_cells if c.cell_type == "markdown")
    if words > MAX_PATH_WORDS:
        problems.append(f"{words} words of prose on the guided path")
    if not any(c.cell_type == "code" for c in extension):
        problems.append("the extension has no code")
    return problems


@pytest.mark.parametrize("lab", GUIDED_LABS)
def test_the_guided_path_asks_for_predictions_a_decision_and_a_sentence_and_no_code(lab):
    for path in notebooks(lab):
        assert path_problems(path) == [], path.name


@pytest.mark.parametrize("lab", GUIDED_LABS)
def test_the_title_cell_names_the_guided_path_and_its_time(lab):
    title = nbformat.read(notebooks(lab)[0], as_version=4).cells[0].source
    assert re.search(r"\*\*guided path\*\* \([^)]*about \d+ minutes, no code to write", title)


def test_the_guided_path_check_fails_on_a_notebook_that_breaks_the_rules(tmp_path):
    nb = nbformat.read(notebooks("01")[0], as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("my_answer = placeholder(1, 'x')  # YOUR CODE HERE"))
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("word " * MAX_PATH_WORDS))
    nb.cells = [c for c in nb.cells if "decide(" not in c.source]
    broken = tmp_path / "01_broken.ipynb"
    nbformat.write(nb, broken)
    problems = " | ".join(path_problems(broken))
    for says in ("no graded decision", "'placeholder('", "code showing", "words of prose"):
        assert says in problems


def test_a_graded_decision_gives_partial_credit_and_says_what_is_wrong(tmp_path, monkeypatch):
    import json

    from lab_helpers.ui import Decision, decide

    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "progress.json"))

    def grade(n):
        return (int(n >= 5) + int(n <= 12)) / 2, [f"rule 1 {'met' if n >= 5 else 'missed: too small to forget'}",
                                                  f"rule 2 {'met' if n <= 12 else 'missed: too big to be accurate'}"]

    d = Decision("t-leaf", "Pick a leaf size.", [1, 5, 20], grade)
    assert "Choose one first" in d.check(None)
    assert "Full marks" in d.check(5) and "Partly right: 50 %" in d.check(1, record=True) and "too small" in d.check(1)
    assert json.loads((tmp_path / "progress.json").read_text())["sessions"][-1] == {
        **json.loads((tmp_path / "progress.json").read_text())["sessions"][-1], "id": "t-leaf", "credit": 0.5}
    with pytest.raises(ValueError, match="not one of the options"):
        d.check(7)
    widget = decide(d, record=False)
    menu, button, out = widget.children[1], widget.children[2], widget.children[3]
    menu.value = 20
    button.click()
    assert "Partly right" in out.value and "too big" in out.value
    monkeypatch.setenv("LAB_CHECK_GUIDED", "1")
    decide(d, record=False)  # some option earns full marks: fine
    with pytest.raises(ValueError, match="no option earns full marks"):
        decide(Decision("bad", "?", [1, 2], lambda n: (0.5, ["half"])), record=False)


def test_the_mock_exam_lab_asks_for_no_code_before_its_extension_and_predicts_the_weights():
    """Lab 10 is the exam itself: no code to write before its extension, its plumbing collapsed, and the weights
    prediction measures what the text after it says (the same answers pass at one mark a PBQ, fail at three)."""
    from notebook_code import notebook_definitions

    from lab_helpers import percent
    from lab_helpers.exam import PASS_MARK, PBQ_WEIGHT, QUESTION_WEIGHT, grade_question, load_questions

    for path in notebooks("10"):
        path_cells, extension = guided_path(path)
        code = "\n".join(c.source for c in path_cells if c.cell_type == "code")
        assert "placeholder(" not in code and "YOUR CODE HERE" not in code and "predict_first(" in code, path.name
        assert all(c.metadata.get("jupyter", {}).get("source_hidden") for c in path_cells if c.cell_type == "code")
        assert any("check_exam_score" in c.source for c in extension)
    by_id = {q["id"]: q for q in load_questions()}
    ns = {"percent": percent, "PASS_MARK": PASS_MARK, "PBQ_WEIGHT": PBQ_WEIGHT, "QUESTION_WEIGHT": QUESTION_WEIGHT,
          "ordering": grade_question(by_id["pbq-ir-poisoned-feedback"], [6, 0, 1, 2, 3, 4, 5]),
          "matching": grade_question(by_id["pbq-match-data-harms"], [0, 1, 4, 3])}
    notebook_definitions(notebooks("10")[0], ("SINGLES", "PBQ_CREDITS", "share_of_marks", "measure_weights"), ns)
    option, text = ns["measure_weights"]()
    assert option == 2 and "(PASS)" in text and "(FAIL)" in text
    prose = "\n".join(c.source for c in guided_path(notebooks("10")[0])[0] if c.cell_type == "markdown")
    assert "The same answers pass when every question weighs one mark and fail when the PBQs weigh three" in prose
