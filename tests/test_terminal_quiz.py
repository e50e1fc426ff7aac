"""The quiz without widgets: the same bank in a terminal, driven by stdin, with a score by topic and labs to review."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_helpers.exam import choice_order, display_order, load_questions, option_order, pick_questions, run_terminal_quiz, terminal_quiz

KIT = Path(__file__).resolve().parent.parent


def scripted(*lines):
    answers = iter(lines)

    def ask(prompt):
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None
    return ask


def right_letters(q) -> str:
    if q["format"] in ("single", "multiple"):  # the letters the options are shown under
        return " ".join(chr(65 + k) for k, i in enumerate(option_order(q)) if q["options"][i]["correct"])
    if q["format"] == "matching":
        shown = choice_order(q)
        return " ".join(chr(65 + shown.index(i)) for i in range(len(q["pairs"])))
    shown = display_order(q)
    return " ".join(chr(65 + shown.index(i)) for i in range(len(shown)))


def test_terminal_quiz_grades_reprompts_skips_and_reports():
    by_id = {q["id"]: q for q in load_questions()}
    questions = [by_id["q00-identify-inversion"], by_id["qb-order-probing"], by_id["q03-white-vs-black"]]
    said = []
    result = run_terminal_quiz(questions, ask=scripted("zz", right_letters(questions[0]), right_letters(questions[1]), "s"),
                               say=said.append)
    out = "\n".join(said)
    assert "Answer with the letters A-D" in out  # 'zz' was re-asked, not a crash
    assert out.count("Correct.") == 2 and "Skipped." in out
    assert (result.right, result.asked, result.answered) == (2, 3, 2)
    assert "Review these:" in out and "Lab 03 (03_face_reconstruction.ipynb)" in out


def test_end_of_input_stops_cleanly_and_time_limit_counts():
    q = load_questions(lab="00")[:2]
    clock = iter([0.0, 0.0, 0.0, 700.0, 700.0, 700.0, 700.0])
    said = []
    result = run_terminal_quiz(q, minutes=10, ask=scripted(right_letters(q[0])), say=said.append, clock=lambda: next(clock))
    assert result.right == 1 and "Time is up" in "\n".join(said)
    said.clear()
    result = run_terminal_quiz(q, ask=scripted(), say=said.append)
    assert result.answered == 0 and "no more input" in "\n".join(said)


def test_terminal_quiz_saves_progress_and_session(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    said = []
    expected = pick_questions(load_questions(topic="GDPR"), 2, {}, 0)  # what terminal_quiz will ask
    result = terminal_quiz(topic="GDPR", n=2, ask=scripted(*map(right_letters, expected)), say=said.append)
    assert result.right == 2
    saved = json.loads((tmp_path / "p.json").read_text())
    assert len(saved["answers"]) == result.answered == 2
    assert saved["sessions"][0]["kind"] == "terminal quiz" and saved["sessions"][0]["asked"] == 2
    assert "Progress saved" in said[-1]


def run_cli(*args, stdin="", env=None):
    return subprocess.run([sys.executable, "-m", "lab_helpers", "quiz", *args], input=stdin, capture_output=True,
                          text=True, cwd=KIT, timeout=60, env={**os.environ, **(env or {})})


def test_cli_quiz_runs_on_piped_stdin(tmp_path):
    q = load_questions(lab="01")
    result = run_cli("--lab", "1", "-n", "2", "--seed", "0", stdin="A\nB\n", env={"LAB_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert result.returncode == 0, result.stderr
    assert "Q1." in result.stdout and "Q2." in result.stdout and "Score:" in result.stdout and "By topic (a question counts under every topic it tests" in result.stdout
    assert (tmp_path / "p.json").exists() and len(q) >= 2


def test_cli_quiz_with_no_input_at_all_exits_cleanly(tmp_path):
    result = run_cli("-n", "3", "--no-save", env={"LAB_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert result.returncode == 0 and "no more input" in result.stdout and "Traceback" not in result.stderr
    assert not (tmp_path / "p.json").exists()


def test_cli_quiz_bad_topic_or_lab_names_what_is_valid():
    bad_topic = run_cli("--topic", "astrology")
    assert bad_topic.returncode == 2 and "Topics: basics" in bad_topic.stderr and "Traceback" not in bad_topic.stderr
    bad_lab = run_cli("--lab", "12")
    assert bad_lab.returncode == 2 and "labs are numbered 00" in bad_lab.stderr
    topics = run_cli("--list-topics")
    assert topics.returncode == 0 and "defences" in topics.stdout and "governance" in topics.stdout


def test_cli_quiz_survives_a_console_that_cannot_print_ticks(tmp_path):
    result = run_cli("--lab", "00", "-n", "1", stdin="A\n", env={"PYTHONIOENCODING": "ascii", "LAB_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert result.returncode == 0, result.stderr
    assert "Score:" in result.stdout


def test_whole_bank_terminal_quiz_leaves_kit_specific_questions_to_the_labs():
    from lab_helpers.exam import in_mock_exam

    kit_only = [q for q in load_questions() if not in_mock_exam(q)]
    assert kit_only
    said = []
    result = terminal_quiz(n=500, record=False, ask=lambda prompt: "s", say=said.append)
    out = "\n".join(said)
    assert result.asked == len(load_questions()) - len(kit_only)
    assert not any(q["stem"] in out for q in kit_only)
    said.clear()
    terminal_quiz(lab="05", n=50, record=False, ask=lambda prompt: "s", say=said.append)
    assert any(q["stem"] in "\n".join(said) for q in kit_only if q["lab"] == "05")  # a lab's quick check keeps them


# ---------------------------------------------------------------- issue 16: a mock exam that behaves like the real one

def test_terminal_mock_exam_flags_goes_back_changes_answers_and_reviews():
    from lab_helpers.exam import run_terminal_exam

    by_id = {q["id"]: q for q in load_questions()}
    questions = [by_id["q00-identify-inversion"], by_id["q03-white-vs-black"], by_id["pbq-ir-leaked-model"]]
    first_wrong = next(chr(65 + k) for k, i in enumerate(option_order(questions[0])) if not questions[0]["options"][i]["correct"])
    shown = display_order(questions[2])
    one_moved = [4, 0, 1, 2, 3]  # lessons learned put first: one of five steps out of place, half the mark
    typed_order = " ".join(chr(65 + shown.index(i)) for i in one_moved)
    said = []
    result, graded = run_terminal_exam(questions, minutes=30, say=said.append, ask=scripted(
        first_wrong, "f", right_letters(questions[1]), typed_order, "g 1", right_letters(questions[0]), "r", "submit"))
    out = "\n".join(said)
    assert "pass mark 75 % of the weighted marks" in out.splitlines()[0]  # stated up front, with the clock
    assert "performance-based questions 3 marks each" in out.splitlines()[0]  # and the weights
    assert "Flagged for review." in out and "[Question 1 of 3 · answered ·" in out  # back to change it
    assert out.count("Review:") >= 2 and "Q2   answered, flagged" in out  # after the last question, and on 'r'
    assert result.right == pytest.approx(2 + 1 / 2) and result.partial == 1 and result.answered == 3
    # the PBQ weighs 3 marks: half of it and the two singles make 3.5 of 5 marks, short of the kit's 75 % line
    assert (result.marks, result.max_marks) == (pytest.approx(3.5), 5) and result.share == pytest.approx(0.7)
    assert "Result: PASS" not in out and "Result: FAIL (75 % needed)" in out
    assert "Every question, with its explanation:" in out and "Q2 (flagged)." in out
    # the verdict first, then the topics and the score, then every explanation
    assert out.index("Result: FAIL") < out.index("By topic") < out.index("Score: 3.5 of 5 marks") \
        < out.index("Every question, with its explanation:")
    for q in questions[:2]:  # every option's explanation is in the review
        assert all(o["explanation"] in out for o in q["options"])
    assert "4 of 5 steps in the right order" in out and graded[questions[2]["id"]].credit == pytest.approx(1 / 2)


def test_terminal_mock_exam_stops_at_the_time_limit_and_at_the_end_of_input():
    from lab_helpers.exam import run_terminal_exam

    q = [x for x in load_questions(lab="00") if x["format"] == "single"][:3]
    clock = iter([0.0] + [10.0] * 6 + [2000.0] * 20)
    said = []
    result, _ = run_terminal_exam(q, minutes=10, ask=scripted(right_letters(q[0]), right_letters(q[1]), "A"),
                                  say=said.append, clock=lambda: next(clock))
    assert "Time is up" in "\n".join(said) and result.answered >= 1 and result.right <= 2
    said.clear()
    result, _ = run_terminal_exam(q, minutes=None, ask=scripted(right_letters(q[0])), say=said.append)
    assert "no more input: the exam is submitted" in "\n".join(said) and result.right == 1 and result.asked == 3


def test_cli_quiz_exam_is_a_mock_exam_with_a_pass_mark(tmp_path):
    result = run_cli("--exam", "-n", "5", "--seed", "2", stdin="A\nn\nB\nsubmit\n",
                     env={"LAB_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert result.returncode == 0, result.stderr
    assert "Mock exam: 5 questions (1 performance-based, first), 9 minutes, pass mark 75 %" in result.stdout
    assert "Score:" in result.stdout and "Result: " in result.stdout
    session = json.loads((tmp_path / "p.json").read_text())["sessions"][-1]
    assert session["kind"] == "mock exam" and session["asked"] == 5 and session["pass_mark"] == 0.75
    assert session["max_marks"] == 7 and session["form"] == "custom"  # four questions at 1 mark, the PBQ at 3
    bad = run_cli("--exam", "--lab", "03")
    assert bad.returncode == 2 and "spans every lab" in bad.stderr


def test_cli_quiz_exam_forms_short_and_full(tmp_path):
    """Issue 28: `quiz --exam` is the short practice form, `--full` the full-length one: PBQs first, weighted."""
    short = run_cli("--exam", "--seed", "2", stdin="submit\n", env={"LAB_PROGRESS_FILE": str(tmp_path / "p.json")})
    assert short.returncode == 0, short.stderr
    first = short.stdout.splitlines()[0]
    assert first.startswith("Mock exam, short practice form: 25 questions (3 performance-based, first), 45 minutes")
    assert "Q1. Performance-based." in short.stdout and "Score: 0 of 31 marks (0 %) over 25 questions" in short.stdout
    out = short.stdout
    assert out.index("Result: FAIL") < out.index("By topic") < out.index("Every question, with its explanation:")
    session = json.loads((tmp_path / "p.json").read_text())["sessions"][-1]
    assert session["form"] == "short" and session["asked"] == 25 and session["max_marks"] == 31
    from lab_helpers.kit.cli import make_parser

    args = make_parser().parse_args(["quiz", "--full"])
    assert args.form == "full" and not args.exam  # --full alone is a mock exam too
    bad = run_cli("--short", "--full")
    assert bad.returncode == 2 and "not allowed with" in bad.stderr


def test_the_bank_exports_as_an_anki_deck_that_opens_and_updates_in_place(tmp_path):
    """Issue 28: `quiz --export-anki FILE.apkg` (genanki); the test opens the deck's collection and reads its notes."""
    import sqlite3
    import zipfile
    from contextlib import closing

    from lab_helpers.exam import card_sides, is_performance_based

    deck = tmp_path / "model-inversion.apkg"
    result = run_cli("--export-anki", str(deck))
    assert result.returncode == 0, result.stderr
    bank = load_questions()
    tasks = [q for q in bank if q["format"] in ("fields", "policy") or (is_performance_based(q) and q.get("task"))]
    assert f"Wrote {len(bank) - len(tasks)} cards" in result.stdout and len(tasks) >= 1
    with zipfile.ZipFile(deck) as z:
        z.extract("collection.anki2", tmp_path)
    with closing(sqlite3.connect(tmp_path / "collection.anki2")) as db:
        notes = db.execute("SELECT guid, flds, tags FROM notes").fetchall()
    assert len(notes) == len(bank) - len(tasks)
    by_id = {flds.split("\x1f")[3]: (guid, flds.split("\x1f"), tags) for guid, flds, tags in notes}
    q = next(q for q in bank if q["id"] == "q04-heatmap-normalise")
    guid, (front, back, lab, _), tags = by_id[q["id"]]
    assert (front, back) == card_sides(q) and lab == "04" and "lab04" in tags and "explainability" in tags
    letter = chr(65 + option_order(q).index(3))  # the key, at the letter the kit shows it under
    assert f"Answer: {letter}. Scale every map to the same size" in back and "the measured advantage fell" in back
    assert not any(t["id"] in by_id for t in tasks)
    again = tmp_path / "again.apkg"
    run_cli("--export-anki", str(again), "--lab", "4")
    with zipfile.ZipFile(again) as z:
        z.extract("collection.anki2", tmp_path / "again")
    with closing(sqlite3.connect(tmp_path / "again" / "collection.anki2")) as db:
        lab4 = dict(db.execute("SELECT flds, guid FROM notes").fetchall())
    assert guid in lab4.values() and len(lab4) == len([x for x in load_questions(lab="04") if x["id"] in by_id])
    bad = run_cli("--export-anki", str(tmp_path / "deck.zip"))
    assert bad.returncode == 2 and "ends in .apkg" in bad.stderr


def test_spaced_review_brings_back_missed_questions_at_once_and_right_ones_after_growing_gaps(tmp_path):
    """Issue 28: `quiz --review` (Leitner boxes from the progress file): a week of short sessions covers the bank."""
    import datetime as dt

    from lab_helpers.exam.progress import REVIEW_DAYS, Progress, review_due

    pool = load_questions(lab="04")
    progress = Progress()
    wrong, right_once, right_thrice = pool[0]["id"], pool[1]["id"], pool[2]["id"]
    progress.record_answer(wrong, False)
    progress.record_answer(right_once, True)
    for _ in range(3):
        progress.record_answer(right_thrice, True)
    now = dt.datetime.now()
    due, fresh = review_due(progress, pool, now)
    assert [q["id"] for q in due] == [wrong] and len(fresh) == len(pool) - 3
    later = review_due(progress, pool, now + dt.timedelta(days=REVIEW_DAYS[1], minutes=1))[0]
    assert [q["id"] for q in later] == [wrong, right_once]
    much_later = review_due(progress, pool, now + dt.timedelta(days=REVIEW_DAYS[3], minutes=1))[0]
    assert [q["id"] for q in much_later] == [wrong, right_once, right_thrice]  # lowest box first
    progress.record_answer(right_thrice, False)
    assert progress.answers[right_thrice]["streak"] == 0
    # the command: a fresh learner gets new questions; one who answered everything right today gets nothing due
    env = {"LAB_PROGRESS_FILE": str(tmp_path / "p.json")}
    first = run_cli("--review", "--lab", "4", "-n", "3", stdin="A\nB\nC\n", env=env)
    assert first.returncode == 0 and "0 question(s) due again, 3 new" in first.stdout, first.stderr
    import json

    doc = json.loads((tmp_path / "p.json").read_text())
    for entry in doc["answers"].values():
        entry.update(streak=1, last_correct=True)
    doc["answers"] = {q["id"]: {"attempts": 1, "right": 1, "last_correct": True, "streak": 1,
                                "last_seen": dt.datetime.now().isoformat(timespec="seconds")} for q in pool}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    nothing = run_cli("--review", "--lab", "4", env=env)
    assert nothing.returncode == 0 and "Nothing is due for review: the next question comes back on" in nothing.stdout
    both = run_cli("--review", "--exam", env=env)
    assert both.returncode == 2 and "choose one" in both.stderr
