"""Issue 26: a short pre/post check — two parallel forms of 10 questions from the bank (same topics, different items),
held out of the day's quick checks and mock exams, taken in a notebook or a terminal, and shown side by side by
`scores` so an instructor sees what a class learned."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_helpers.exam import Progress, check_form, check_ids, check_problems, check_slots, load_questions
from lab_helpers.exam.progress import save_progress

KIT = Path(__file__).resolve().parent.parent


def right_option(question: dict) -> int:
    return next(i for i, o in enumerate(question["options"]) if o["correct"])


def test_the_two_forms_are_parallel_and_the_check_fails_on_forms_that_are_not(monkeypatch):
    assert check_problems() == []
    pre, post = check_form("pre"), check_form("post")
    assert len(pre) == len(post) == 10 and not {q["id"] for q in pre} & {q["id"] for q in post}
    assert [s["topic"] for s in check_slots()].count("threats") == 3  # objective 1.5's threats weigh most
    from lab_helpers.exam import checks

    broken = json.loads((KIT / "data" / "check_forms.json").read_text(encoding="utf-8"))
    broken["slots"][0]["post"] = broken["slots"][1]["pre"]  # another topic, and a question on the forms twice
    broken["slots"][7]["post"] = "pbq-ir-poisoned-feedback"  # a PBQ
    monkeypatch.setattr(checks, "_forms_file", lambda: broken)
    problems = " | ".join(check_problems())
    for says in ("on the forms twice", "not basics", "ordering question, not single-answer", "share no concept"):
        assert says in problems, problems
    with pytest.raises(ValueError, match="two forms"):
        check_form("mid")


def test_the_check_questions_are_held_out_of_quick_checks_and_mock_exams():
    from lab_helpers.exam import LAB_NOTEBOOKS, mock_exam_pool, quick_check_questions
    from lab_helpers.exam.mock import draw_form

    held = check_ids()
    assert len(held) == 20 and held <= {q["id"] for q in load_questions()}
    for lab in LAB_NOTEBOOKS:
        assert not held & {q["id"] for q in quick_check_questions(lab, 10_000)}, lab
    assert not held & {q["id"] for q in mock_exam_pool()}
    for seed in range(3):
        assert not held & {q["id"] for q in draw_form("full", {}, seed).questions}


def test_the_notebook_check_opens_behind_a_button_and_keeps_a_check_session(tmp_path, monkeypatch):
    from lab_helpers.ui import pre_post_check

    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "progress.json"))
    launcher = pre_post_check("pre")
    assert launcher.check is None and "only if your instructor asks" in launcher.button.description
    launcher.button.click()  # the learner presses the button: the form appears under it
    check = launcher.check
    assert check is not None and check.box in launcher.box.children and launcher.button.disabled
    assert "Pre-check" in check.heading.value and "not a grade" in check.heading.value
    check.start()
    for k in (0, 3, 6):  # three right, the rest left blank
        check.item(k).select(right_option(check.questions[k]))
    result = check.submit()
    assert result.right == 3 and result.asked == 10
    assert "3 of 10 right" in check.results.value and "PASS" not in check.results.value
    session = json.loads((tmp_path / "progress.json").read_text())["sessions"][-1]
    assert session["kind"] == "check" and session["form"] == "pre" and session["right"] == 3
    with pytest.raises(ValueError, match="two forms"):
        pre_post_check("after")


def run_quiz(*args, stdin="", env=None):
    return subprocess.run([sys.executable, "-m", "lab_helpers", "quiz", *args], input=stdin, capture_output=True,
                          text=True, cwd=KIT, timeout=60, env={**os.environ, **(env or {})})


def test_the_terminal_check_asks_the_post_form_and_keeps_it(tmp_path):
    first = check_form("post")[0]
    from lab_helpers.exam import option_order

    letter = chr(65 + option_order(first).index(right_option(first)))
    result = run_quiz("--check", "post", stdin=f"{letter}\nsubmit\n", env={"LAB_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Post-check: 10 questions") and "Not a grade" in result.stdout
    session = json.loads((tmp_path / "p.json").read_text())["sessions"][-1]
    assert session["kind"] == "check" and session["form"] == "post" and session["right"] == 1 and session["asked"] == 10
    bad = run_quiz("--check", "pre", "--exam")
    assert bad.returncode == 2 and "--check asks one fixed form" in bad.stderr


def test_scores_show_the_pre_and_post_check_side_by_side(tmp_path):
    def learner(name: str, pre: float | None, post: float | None) -> None:
        progress = Progress()
        for form, right in (("pre", pre), ("post", post)):
            if right is not None:
                progress.record_session({"kind": "check", "form": form, "right": right, "asked": 10})
        save_progress(progress, tmp_path / "home" / name / "quiz_progress.json")

    learner("ada", 4, 8)
    learner("bob", 6, 7)
    learner("cy", 5, None)  # missed the post-check
    out = tmp_path / "scores.csv"
    result = subprocess.run([sys.executable, "-m", "lab_helpers", "scores", str(tmp_path / "home"), "--export", str(out)],
                            capture_output=True, text=True, cwd=KIT, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {r["learner"]: r for r in csv.DictReader(out.open())}
    header = next(csv.reader(out.open()))
    assert header.index("post_check") == header.index("pre_check") + 1  # side by side
    assert (rows["ada"]["pre_check"], rows["ada"]["post_check"], rows["ada"]["check_change"]) == ("4/10", "8/10", "+4")
    assert (rows["cy"]["pre_check"], rows["cy"]["post_check"], rows["cy"]["check_change"]) == ("5/10", "", "")
    assert "2 learner(s) with both forms: 5.0 -> 7.5 right of 10 on average (+2.5)" in result.stdout
