"""The sorting drill and the exam questions: the data, the plain handlers, and the widgets driven like a learner."""
from __future__ import annotations

import pytest

from lab_helpers.quiz import THREATS, drill_score, grade_card, grade_question, load_questions, load_threat_cards
from lab_helpers.widgets import show_quiz, sorting_drill

CARDS = load_threat_cards()
QUESTIONS = load_questions()


def test_cards_cover_every_threat_with_explanations():
    assert len(CARDS) >= 8 and len({c["id"] for c in CARDS}) == len(CARDS)
    assert {c["answer"] for c in CARDS} == set(THREATS)
    assert all(len(c["explanation"]) > 40 and len(c["scenario"]) > 40 for c in CARDS)


def test_grade_card_right_wrong_and_unknown():
    card = next(c for c in CARDS if c["answer"] == "model extraction")
    assert grade_card(card, "model extraction").correct
    wrong = grade_card(card, "model inversion")
    assert not wrong.correct and "Not model inversion" in wrong.message and card["explanation"] in wrong.message
    with pytest.raises(ValueError, match="not one of the threats"):
        grade_card(card, "prompt injection")


def test_drill_score_counts_only_answered_cards():
    answers = {CARDS[0]["id"]: CARDS[0]["answer"], CARDS[1]["id"]: "data poisoning", CARDS[2]["id"]: None}
    assert drill_score(answers, CARDS) == (1, 2)


def test_drill_widget_answers_a_click():
    drill = sorting_drill()
    card = drill.cards[4]
    wrong = next(t for t in THREATS if t != card["answer"])
    drill.choices[card["id"]].value = wrong
    assert "Not " in drill.feedback[card["id"]].value and "#b3261e" in drill.feedback[card["id"]].value
    assert "0 of 1" in drill.score.value
    drill.choices[card["id"]].value = card["answer"]
    assert "Correct" in drill.feedback[card["id"]].value and "1 of 1" in drill.score.value
    assert drill.feedback[drill.cards[0]["id"]].value == ""  # other cards untouched


@pytest.mark.parametrize("q", QUESTIONS, ids=[q["id"] for q in QUESTIONS])
def test_question_is_well_formed(q):
    assert q["objective"] == "CAS-005 1.5" and q["difficulty"] in {"easy", "medium", "hard"}
    assert q["format"] in {"single", "multiple"} and q["concepts"]
    right = [o for o in q["options"] if o["correct"]]
    assert len(right) == 1 if q["format"] == "single" else len(right) >= 2
    assert all(o["explanation"].strip() for o in q["options"])


def test_question_ids_are_unique_and_lab_00_has_three_or_more():
    assert len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)
    assert len(load_questions(lab="00")) >= 3


def test_grade_question_single_and_multiple():
    single = next(q for q in QUESTIONS if q["format"] == "single")
    good = next(i for i, o in enumerate(single["options"]) if o["correct"])
    assert grade_question(single, good).correct
    assert not grade_question(single, (good + 1) % len(single["options"])).correct
    multi = next(q for q in QUESTIONS if q["format"] == "multiple")
    right = {i for i, o in enumerate(multi["options"]) if o["correct"]}
    assert grade_question(multi, right).correct
    assert not grade_question(multi, {min(right)}).correct  # half right is not right
    assert not grade_question(multi, None).correct
    with pytest.raises(ValueError, match="does not exist"):
        grade_question(multi, {9})


def test_quiz_widget_check_button_shows_every_explanation():
    panel = show_quiz(load_questions(lab="00"))
    item = panel.items[0]
    radio = item.inputs[0]
    radio.value = radio.options[1]
    item.button.click()
    assert "Not quite" in item.feedback.value
    for option in item.question["options"]:
        assert option["explanation"].replace("'", "&#x27;") in item.feedback.value
    multi = next(i for i in panel.items if i.multiple)
    for box, option in zip(multi.inputs, multi.question["options"]):
        box.value = option["correct"]
    multi.button.click()
    assert "Correct." in multi.feedback.value


def test_quiz_of_no_questions_says_why():
    with pytest.raises(ValueError, match="No questions"):
        show_quiz([])
