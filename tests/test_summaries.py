"""Issue 26: a one-page summary per lab — threat, control, what it bought (the lab's own measurements on this machine),
exam tip — as printable HTML (`python -m lab_helpers summary NN`, or `all` in one file)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab_helpers.exam.summaries import lab_measurements, summary_html, write_summary

KIT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "progress.json"))
    return tmp_path / "cache"


def test_a_measured_prediction_fills_its_labs_page_and_an_unrun_lab_says_so(cache):
    from lab_helpers.ui import Prediction, predict_first

    p = Prediction("lab03-white-box", "What does the attack rebuild?", ["nothing", "faces"],
                   lambda: (1, "the strict evaluator names 38 % of the 40 people (chance 2.5 %)."), "The model holds them.")
    assert lab_measurements("03") == {}
    predict_first(p, record=False).children[2].click()  # nothing chosen yet: nothing measured
    assert lab_measurements("03") == {}
    p.commit(1)  # the learner locks in: measured, kept for the summary
    kept = lab_measurements("03")["lab03-white-box"]
    assert kept["measured"].startswith("the strict evaluator names 38 %") and kept["why"] == "The model holds them."
    Prediction("check-x", "?", ["a", "b"], lambda: (0, "made up"), "").commit(0)  # not a lab's key: not kept
    assert sorted(f.name for f in (cache / "summaries").glob("*.json")) == ["03.json"]
    page = summary_html(["03", "05"])
    three, five = page.split("<section")[1:]
    assert "Threat</h2>" in three and "Control</h2>" in three and "Exam tip</h2>" in three
    assert "The strict evaluator names 38 % of the 40 people (chance 2.5 %)." in three
    assert "Measured on this machine by lab 03" in three
    assert "Not measured on this machine yet: open lab 05" in five and "%" not in five.split("What it bought")[1].split("Exam tip")[0]


def test_summary_all_is_one_printable_file_with_a_page_per_lab(cache, tmp_path):
    written = write_summary("all", tmp_path / "revision.html")
    page = written.read_text(encoding="utf-8")
    labs = json.loads((KIT / "data" / "summaries.json").read_text(encoding="utf-8"))["labs"]
    assert page.count("<section class='lab'") == len(labs) == 11
    assert "@media print" in page and "page-break-after: always" in page and "font: 12pt" in page
    assert "Lab 03: A face from a name" in page and "Lab 10: Mock exam" in page
    with pytest.raises(ValueError, match="no lab 42"):
        write_summary("42")
    with pytest.raises(ValueError, match=r"\.html"):
        write_summary("03", tmp_path / "x.pdf")


def test_the_summary_command_writes_the_file_and_refuses_a_lab_that_does_not_exist(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "lab_helpers", "summary", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120, env={**__import__("os").environ, "LAB_CACHE_DIR": str(tmp_path / "c")})

    done = run("4")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lab-04-summary.html").is_file() and "Wrote lab-04-summary.html" in done.stdout
    bad = run("12")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "no lab 12" in bad.stderr


def test_a_read_only_cache_does_not_stop_a_prediction(cache, monkeypatch):
    """On a class hub the prepared cache is read-only for learners: the measurement is shown, only not kept."""
    from lab_helpers.exam import summaries
    from lab_helpers.ui import Prediction

    def refuse(path, write):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(summaries, "save_atomically", refuse)
    p = Prediction("lab01-gap", "?", ["a", "b"], lambda: (1, "measured: far less often."), "Because.")
    assert "measured: far less often." in p.commit(1)
    assert lab_measurements("01") == {}
