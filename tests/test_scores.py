"""`python -m lab_helpers scores`: learners' progress files, as a class hub keeps them, in one table for instructors."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from lab_helpers.exam import Progress, load_questions
from lab_helpers.exam.progress import save_progress

KIT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab_helpers", "scores", *args], capture_output=True, text=True,
                          cwd=cwd or KIT, timeout=120)


def lab_questions(lab: str, n: int) -> list[str]:
    return [q["id"] for q in load_questions(lab=lab)][:n]


def hub(tmp_path: Path) -> Path:
    """/home as a hub has it: one folder per learner, each with the kit checked out and a progress file inside."""
    home = tmp_path / "home"
    ada, bob = Progress(), Progress()
    for qid in lab_questions("00", 3):
        ada.record_answer(qid, True)
    ada.record_answer(lab_questions("03", 1)[0], False)
    ada.record_session({"kind": "mock exam", "right": 15.5, "asked": 20, "pass_mark": 0.75, "passed": True})
    defences = [q["id"] for q in load_questions(topic="defences")][:4]
    for qid in defences:
        bob.record_answer(qid, False, score=0.25)
    bob.record_session({"kind": "mock exam", "right": 9, "asked": 20})
    bob.record_session({"kind": "mock exam", "right": 11.25, "asked": 20, "pass_mark": 0.75, "passed": False})
    save_progress(ada, home / "jupyter-ada" / "model-inversion-lab" / "data" / "cache" / "quiz_progress.json")
    save_progress(bob, home / "jupyter-bob" / ".model-inversion-lab" / "quiz_progress.json")  # with a shared cache
    corrupt = home / "jupyter-cy" / "model-inversion-lab" / "data" / "cache" / "quiz_progress.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text("{not json")
    (home / "jupyter-ada" / "model-inversion-lab" / "data" / "questions").mkdir(parents=True)
    (home / "jupyter-ada" / "model-inversion-lab" / "data" / "questions" / "lab00.json").write_text('{"questions": []}')
    return home


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_scores_gathers_a_hubs_progress_files_into_one_csv(tmp_path):
    home = hub(tmp_path)
    before = snapshot(home)
    out = tmp_path / "scores.csv"
    result = run_cli(str(home), "--export", str(out))
    assert result.returncode == 0, result.stderr
    assert snapshot(home) == before  # read only: the corrupt file is neither moved nor fixed, nothing is written
    assert "skipped" in result.stderr and "jupyter-cy" in result.stderr and "is not valid JSON" in result.stderr
    assert "questions/lab00.json" not in result.stderr  # only progress files are looked at, not the kit's own data
    rows = {r["learner"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"jupyter-ada", "jupyter-bob"}
    ada, bob = rows["jupyter-ada"], rows["jupyter-bob"]
    assert ada["lab_00"] == "3/3" and ada["lab_03"] == "0/1" and ada["lab_05"] == ""
    assert (ada["answered"], ada["right_last_try"]) == ("4", "3")
    assert ada["mock_exams"] == "1" and ada["latest_mock_exam"] == "15.5/20" and ada["latest_mock_exam_percent"] == "77.5"
    assert ada["latest_passed"] == "yes"
    assert bob["mock_exams"] == "2" and bob["latest_mock_exam"] == "11.25/20" and bob["latest_passed"] == "no"
    assert bob["best_mock_exam_percent"] == "56.2" or bob["best_mock_exam_percent"] == "56.3"
    assert "defences" in bob["weakest_topics"] and ada["weakest_topics"] != ""
    assert "jupyter-ada: 4 answered" in result.stdout and "Wrote 2 learner(s)" in result.stdout


def test_a_folder_of_collected_files_names_learners_after_their_files(tmp_path):
    folder = tmp_path / "collected"
    progress = Progress()
    progress.record_answer(lab_questions("01", 1)[0], True)
    save_progress(progress, folder / "ada.json")
    save_progress(Progress(), folder / "bob.json")
    result = run_cli(str(folder))
    assert result.returncode == 0, result.stderr
    assert "ada: 1 answered" in result.stdout and "bob: 0 answered" in result.stdout and "no mock exam" in result.stdout


def test_bad_input_gets_one_line_exit_2_and_never_loses_a_progress_file(tmp_path):
    home = hub(tmp_path)
    ada = home / "jupyter-ada" / "model-inversion-lab" / "data" / "cache" / "quiz_progress.json"
    disguised = home / "jupyter-bob" / "progress-backup.csv"  # a progress file someone saved under a .csv name
    disguised.write_bytes(ada.read_bytes())
    before = snapshot(home)
    cases = {
        "missing folder": (str(tmp_path / "nowhere"),),
        "no progress files": (str(tmp_path / "home" / "jupyter-ada" / "model-inversion-lab" / "data" / "questions"),),
        "export over a progress file": (str(home), "--export", str(ada)),
        "export over a progress file named .csv": (str(ada), "--export", str(disguised)),
        "export into a missing folder": (str(home), "--export", str(tmp_path / "no" / "such" / "scores.csv")),
        "export to a folder": (str(home), "--export", str(tmp_path)),
        "unknown flag": (str(home), "--csv"),
    }
    for what, args in cases.items():
        result = run_cli(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (what, result.stderr)
        assert len([ln for ln in lines if not ln.startswith("scores: skipped")]) == 1, (what, lines)
        assert "Traceback" not in result.stderr, what
    assert snapshot(home) == before and json.loads(ada.read_text())["version"] == 1
    assert json.loads(disguised.read_text())["version"] == 1


def test_scores_without_a_folder_reads_this_machines_own_progress(tmp_path):
    own = tmp_path / "mine.json"
    progress = Progress()
    progress.record_answer(lab_questions("02", 1)[0], True)
    save_progress(progress, own)
    result = subprocess.run([sys.executable, "-m", "lab_helpers", "scores"], capture_output=True, text=True, cwd=KIT,
                            timeout=120, env={**os.environ, "LAB_PROGRESS_FILE": str(own)})
    assert result.returncode == 0, result.stderr
    assert "1 answered, 1 right" in result.stdout
