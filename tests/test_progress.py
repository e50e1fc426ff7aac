"""Quiz progress on disk: kept across sessions; a missing or corrupt file starts fresh with a backup, never a crash."""
from __future__ import annotations

import json
import os

import pytest

from lab_helpers.exam import Progress, load_progress, progress_by_topic, progress_path, progress_summary, record_answer, record_session
from lab_helpers.exam.progress import save_progress
from lab_helpers.exam import load_questions


@pytest.fixture
def path(tmp_path, monkeypatch):
    target = tmp_path / "progress.json"
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(target))
    return target


def test_the_path_comes_from_the_environment_or_data_cache(path, monkeypatch, tmp_path):
    assert progress_path() == path
    monkeypatch.delenv("LAB_PROGRESS_FILE")
    monkeypatch.delenv("LAB_CACHE_DIR", raising=False)
    assert progress_path().parent.name == "cache" and progress_path().name == "quiz_progress.json"
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "shared"))  # a class hub's shared cache: progress stays home
    monkeypatch.setenv("HOME", str(tmp_path / "ada"))
    assert progress_path() == tmp_path / "ada" / ".model-inversion-lab" / "quiz_progress.json"


def test_a_missing_file_starts_fresh_silently(path):
    progress = load_progress()
    assert progress.answers == {} and progress.sessions == [] and progress.note == ""
    assert not path.exists()


def test_answers_and_sessions_survive_a_new_session(path):
    assert record_answer("q00-why-leak", False) == ""
    record_answer("q00-why-leak", True)
    record_answer("q01-gap-warning", True)
    assert record_session({"kind": "mock exam", "right": 1, "asked": 2}) == ""
    again = load_progress()
    assert again.answers["q00-why-leak"]["attempts"] == 2 and again.answers["q00-why-leak"]["right"] == 1
    assert again.answers["q00-why-leak"]["last_correct"] is True
    assert again.sessions[0]["kind"] == "mock exam" and "ended" in again.sessions[0]
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left no temporary file


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[]", b'{"version": 99}',
                                     b'{"version": 1, "answers": {"q": {"attempts": "two"}}, "sessions": []}', b""])
def test_a_corrupt_file_is_kept_as_a_backup_and_progress_starts_fresh(path, content):
    path.write_bytes(content)
    progress = load_progress()
    assert progress.answers == {} and "starts fresh" in progress.note
    backups = list(path.parent.glob("progress.corrupt-*.json"))
    assert len(backups) == 1 and backups[0].read_bytes() == content and not path.exists()
    assert str(backups[0]) in progress.note
    record_answer("q00-why-leak", True)  # and the next answer is saved in a fresh file
    assert json.loads(path.read_text())["answers"]["q00-why-leak"]["right"] == 1


def test_two_corrupt_files_in_a_row_never_overwrite_a_backup(path):
    for content in (b"first", b"second"):
        path.write_bytes(content)
        load_progress()
    assert sorted(p.read_bytes() for p in path.parent.glob("progress.corrupt-*.json")) == [b"first", b"second"]


def test_an_unwritable_place_gives_a_note_not_a_crash(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(blocker / "progress.json"))  # its folder is a file
    note = record_answer("q00-why-leak", True)
    assert "Could not save" in note
    assert save_progress(Progress(), blocker / "p.json").startswith("Could not save")


def test_a_folder_in_place_of_the_file_is_reported(tmp_path):
    folder = tmp_path / "progress.json"
    folder.mkdir()
    progress = load_progress(folder)
    assert progress.answers == {} and "starting fresh" in progress.note


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root (or Windows) can read a mode-000 file")
def test_an_unreadable_file_is_reported(path):
    path.write_text("{}")
    path.chmod(0)
    try:
        assert "starting fresh" in load_progress().note
    finally:
        path.chmod(0o600)


def test_summary_and_topic_table(path):
    questions = load_questions()
    record_answer(questions[0]["id"], True)
    record_answer(questions[1]["id"], False)
    record_session({"kind": "mock exam", "right": 12, "asked": 20})
    progress = load_progress()
    text = progress_summary(progress, questions)
    assert f"2 of {len(questions)} questions" in text and "1 right" in text and "12/20" in text
    rows = progress_by_topic(progress, questions)
    assert sum(r["answered"] for r in rows) >= 2 and all(r["questions"] >= r["answered"] for r in rows)


def test_the_spaced_review_widget_shows_what_is_due_then_new_questions(tmp_path, monkeypatch):
    """Issue 28: the widget behind `quiz --review` — missed questions at once, right ones after their box's days."""
    import datetime as dt

    from lab_helpers.exam import load_questions
    from lab_helpers.exam.bank import in_mock_exam
    from lab_helpers.exam.progress import load_progress, save_progress
    from lab_helpers.ui import review_questions, spaced_review

    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    pool = [q for q in load_questions() if in_mock_exam(q)]
    progress = load_progress()
    progress.record_answer(pool[0]["id"], False)  # missed: due at once
    progress.record_answer(pool[1]["id"], True)  # right once: due after a day
    save_progress(progress)
    questions, summary = review_questions(5)
    assert questions[0]["id"] == pool[0]["id"] and pool[1]["id"] not in [q["id"] for q in questions]
    assert summary.startswith("1 question(s) due again and 4 new one(s)")
    later, _ = review_questions(5, now=dt.datetime.now() + dt.timedelta(days=2))
    assert {pool[0]["id"], pool[1]["id"]} <= {q["id"] for q in later[:2]}
    quiz = spaced_review(5, record=False)
    assert len(quiz.items) == 5 and "Spaced review" in quiz.heading
    for q in pool:  # everything answered right just now: nothing due
        progress.record_answer(q["id"], True)
    save_progress(progress)
    empty = spaced_review(5)
    assert "Nothing is due: the next question comes back on" in empty.value
