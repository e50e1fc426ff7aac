"""Lab 09's guided path (issue 26): the measurements behind its three predictions and its graded decision come out as
the options and the path's words say.

The path's own cells are run (the practice class of one, the door read, the attack and its submissions, the
scoreboard, the policy decision) with the widgets replaced by a collector, so the test checks the notebook's `measure`
and `grade` functions themselves; lab 08's recogniser and evaluator come from data/cache/ (nothing trained twice).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from notebook_code import path_cells

KIT = Path(__file__).resolve().parent.parent
NOTEBOOK = KIT / "solutions" / "09_red_team_blue_team.ipynb"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a live practice class and a 1,200-query attack


@pytest.fixture(scope="module")
def guided():
    """{key: the Prediction or Decision the path builds} and the namespace its cells ran in (practice class stopped after)."""
    import matplotlib

    matplotlib.use("Agg")
    import lab_helpers.ui as ui

    collected = {}
    saved = ui.predict_first, ui.decide, ui.show_attack_rows
    ui.predict_first = lambda prediction, record=True: collected.setdefault(prediction.key, prediction)
    ui.decide = lambda decision, record=True: collected.setdefault(decision.key, decision)
    ui.show_attack_rows = lambda *args, **kwargs: None
    namespace = {"display": lambda *args, **kwargs: None}
    try:
        for cell in path_cells(NOTEBOOK):
            if cell.cell_type == "code" and not re.search(r"explain_to_your_manager|quick_check", cell.source):
                exec(compile(cell.source, f"{NOTEBOOK.name}:{cell.id}", "exec"), namespace)
        yield collected, namespace
    finally:
        ui.predict_first, ui.decide, ui.show_attack_rows = saved
        if "practice" in namespace:
            namespace["practice"].stop()


def test_the_path_has_three_predictions_and_a_decision_and_the_practice_class_stops_only_at_the_end():
    import sys

    sys.path.insert(0, str(KIT / "tests"))
    from test_guided_paths import guided_path, path_problems

    assert path_problems(NOTEBOOK) == [] and path_problems(KIT / "labs" / NOTEBOOK.name) == []
    code = "\n".join(c.source for c in path_cells(NOTEBOOK) if c.cell_type == "code")
    assert len(re.findall(r"\bpredict_first\(", code)) == 3 and len(re.findall(r"\bdecide\(", code)) == 1
    # the self-check in the extension needs the practice class: it is stopped in the notebook's last cell only
    _, extension = guided_path(NOTEBOOK)
    assert "practice.stop()" not in code
    assert "check_blue_policy(practice" in "\n".join(c.source for c in extension)
    assert "practice.stop()" in extension[-1].source
    assert all("practice.stop()" not in c.source for c in extension[:-1])


def test_the_practice_door_gets_the_black_box_attack_with_randomised_probes(guided):
    collected, ns = guided
    right, text = collected["lab09-plan"].result()
    assert right == 0 and "black-box" in text and "probabilities" in text and "randomised" in text


def test_one_key_at_300_queries_per_person_recovers_none_or_one_and_the_referees_disagree(guided):
    collected, ns = guided
    right, text = collected["lab09-recovered"].result()
    recovered, of = map(int, re.match(r"(\d+) of (\d+) recovered", text).groups())
    assert right == 0 and of == 4 and recovered <= 1  # "None or one"; measured 0 of 4
    assert ns["BUDGET"] == 300 and "1,200 answers" in text
    verdicts = ns["red_round"]()[2]
    # the path's words: pixel correlation names people the strict evaluator does not (measured 2 against 1)
    assert any(v["judges"]["correlation"] and not v["judges"]["evaluator"] for v in verdicts.values())
    assert all(v["tries_left"] == 2 for v in verdicts.values())  # each person submitted once: the measure is cached


def test_the_alert_only_adaptive_detector_does_not_flag_the_randomised_attacker(guided):
    collected, ns = guided
    right, text = collected["lab09-alerts"].result()
    assert right == 2 and "0 alerts" in text and "never suspended" in text
    board = ns["scoreboard"]()
    assert board["round"] == ns["ROUND"] == 1 and board["blue"][0]["alerts_on_red"] == 0


def test_the_policy_decision_gives_a_third_per_rule_and_never_names_the_option(guided):
    collected, ns = guided
    decision = collected["lab09-policy"]
    credits = {name: decision.grade(name)[0] for name in decision.options}
    assert [round(c * 3) for c in credits.values()] == [1, 2, 2, 2, 3]  # A, B, C, D, E: only E meets every rule
    for name in decision.options:
        lines = decision.grade(name)[1]
        assert len(lines) == 3 and not any(re.search(r"\b[A-E]:", line) or "choose" in line.lower() for line in lines)
    assert "✘ Rule 1" in " ".join(decision.grade(decision.options[1])[1])  # labels only: the apps lose their score
    assert "'top_k' can show the score" in " ".join(decision.grade(decision.options[2])[1])
    assert "✘ Rule 3: 100,000" in " ".join(decision.grade(decision.options[3])[1])
    # the full-marks policy is the one the extension's self-check passes with: labels and the top label's score
    app = ns["candidate_policy"](decision.options[4])
    assert [o.kind for o in app.outputs] == ["label_score", "label"] and app.limit.per_day == 1_000
