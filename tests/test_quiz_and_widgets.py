"""The sorting drill and the exam questions: the data, the plain handlers, and the widgets driven like a learner."""
from __future__ import annotations

import pytest

from lab_helpers.exam import THREATS, check_question, drill_score, grade_card, grade_question, load_questions, load_threat_cards
from lab_helpers.exam import load_progress
from lab_helpers.exam import mock_exam_questions, question_topics, topic_titles
from lab_helpers.ui import QuizQuestion, mock_exam, quick_check, show_quiz, sorting_drill

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
    assert check_question(q) == []  # tags, lab, difficulty, format, explanations, declared number of correct options


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
    item = next(i for i in panel.items if i.format == "single")
    item.select(next(i for i, o in enumerate(item.question["options"]) if not o["correct"]))
    item.button.click()
    assert "Not quite" in item.feedback.value
    for option in item.question["options"]:
        assert option["explanation"].replace("'", "&#x27;") in item.feedback.value
    multi = next(i for i in panel.items if i.multiple)
    multi.select(i for i, o in enumerate(multi.question["options"]) if o["correct"])
    multi.button.click()
    assert "Correct." in multi.feedback.value


def test_quiz_of_no_questions_says_why():
    with pytest.raises(ValueError, match="No questions"):
        show_quiz([])


# ---------------------------------------------------------------- issue 8: new formats, quick check, mock exam

def first(fmt: str, lab: str | None = None) -> dict:
    return next(q for q in load_questions(lab=lab) if q["format"] == fmt)


def test_show_quiz_of_one_lab_starts_with_that_labs_own_file():
    assert load_questions(lab="00")[0]["id"].startswith("q00-")  # lab files are read before cross-lab files
    assert show_quiz(load_questions(lab="03")).text().count("python -m lab_helpers quiz --lab 03") == 1


def test_ordering_widget_graded_through_its_dropdowns():
    q = first("ordering")
    item = QuizQuestion(q)
    item.button.click()
    assert "Put all" in item.feedback.value  # nothing chosen: asks, does not grade
    for position, dropdown in enumerate(item.inputs):
        dropdown.value = position  # the step stored at index i belongs at position i
    item.button.click()
    assert "Correct." in item.feedback.value and "#1b7f3b" in item.feedback.value
    item.inputs[0].value, item.inputs[1].value = 1, 0
    assert not item.check().correct and "in the right place" in item.feedback.value


def test_matching_widget_graded_and_distractor_explained():
    q = next(q for q in load_questions() if q["format"] == "matching" and q.get("distractors"))
    item = QuizQuestion(q)
    for i, dropdown in enumerate(item.inputs):
        dropdown.value = i
    assert item.check().correct
    item.inputs[0].value = len(q["pairs"])  # the first distractor
    result = item.check()
    assert not result.correct and "you chose" in result.message and "Matches nothing" in result.message


def test_quiz_records_answers_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    panel = show_quiz([first("single", "00")])
    panel.items[0].inputs[0].value = panel.items[0].inputs[0].options[0]
    panel.items[0].button.click()
    assert not (tmp_path / "p.json").exists()
    recorded = show_quiz([first("single", "00")], record=True)
    recorded.items[0].inputs[0].value = recorded.items[0].inputs[0].options[0]
    recorded.items[0].button.click()
    assert load_progress().answers[first("single", "00")["id"]]["attempts"] == 1


def test_quick_check_shows_unseen_and_missed_first_and_falls_back_to_text(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    panel = quick_check(lab="2")
    ids = [item.question["id"] for item in panel.items]
    assert len(ids) == 4 and all(q["lab"] == "02" for q in panel.questions)
    assert "Quick check — lab 02" in panel.text() and "python -m lab_helpers quiz --lab 02" in panel.text()
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "Q1." in bundle["text/plain"]
    for item in panel.items:  # answer all four: three right, one wrong
        if item.format in ("single", "multiple"):
            right = [i for i, o in enumerate(item.question["options"]) if o["correct"]]
            if item is panel.items[0]:
                item.select(next(i for i, o in enumerate(item.question["options"]) if not o["correct"]))
            else:
                item.select(right)
        else:
            for i, d in enumerate(item.inputs):
                d.value = i
        item.button.click()
    again = [item.question["id"] for item in quick_check(lab="02").items]
    assert again[0] == ids[0]  # the missed question comes back first
    assert not set(again[1:]) & set(ids[1:])  # the ones answered right make way for unseen ones


def test_quick_check_of_an_unknown_lab_names_the_labs():
    with pytest.raises(ValueError, match="labs are numbered 00"):
        quick_check(lab="12")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_mock_exam_locks_answers_scores_by_topic_and_ignores_late_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    clock = FakeClock()
    exam = mock_exam(n=6, minutes=10, clock=clock)
    assert len(exam.items) == 6 and "About 10 minutes left" in exam.clock_line.value
    a, b = exam.items[0], exam.items[1]
    for item in (a, b):
        if item.format in ("single", "multiple"):
            item.select(i for i, o in enumerate(item.question["options"]) if o["correct"])
        else:
            for i, d in enumerate(item.inputs):
                d.value = i
    a.button.click()
    assert "locked in" in a.feedback.value and a.button.disabled and "✔" not in a.feedback.value
    clock.now += 11 * 60  # past the limit
    b.button.click()
    result = exam.finish()
    assert (result.right, result.asked, result.late) == (1, 6, 1)
    assert "does not count" in b.feedback.value and "✔" in a.feedback.value  # explanations revealed at the end
    assert "Not answered" in exam.items[2].feedback.value
    assert "Score: 1 of 6" in exam.results.value and "Review these" in exam.results.value
    assert sum(t.asked for t in result.by_topic) >= 6
    saved = load_progress()
    assert len(saved.sessions) == 1 and saved.sessions[0]["kind"] == "mock exam"
    assert list(saved.answers) == [a.question["id"]]  # the late answer is not saved
    assert exam.finish() is result  # finishing twice changes nothing


def test_mock_exam_spreads_over_every_topic():
    questions = mock_exam_questions(n=20)
    topics = set().union(*(question_topics(q) for q in questions))
    assert topics == set(topic_titles())
    assert len({q["id"] for q in questions}) == 20


def right_answer(q: dict):
    if q["format"] in ("single", "multiple"):
        return {i for i, o in enumerate(q["options"]) if o["correct"]}
    return list(range(len(q["steps"] if q["format"] == "ordering" else q["pairs"])))


def test_every_question_in_the_bank_renders_and_its_right_answer_is_correct():
    for number, q in enumerate(QUESTIONS, 1):
        item = QuizQuestion(q, number)
        if q["format"] in ("single", "multiple"):
            item.select(right_answer(q))
        else:
            for d, value in zip(item.inputs, right_answer(q)):
                d.value = value
        assert item.check().correct, q["id"]


@pytest.mark.parametrize("lab", ["00", "01", "02", "03", "04", "05", "06", "07", "08"])
def test_quick_check_works_for_every_lab_that_has_questions(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    if not load_questions(lab=lab):
        with pytest.raises(ValueError, match=f"no questions for lab {lab}"):
            quick_check(lab=lab)
        return
    panel = quick_check(lab=lab)
    assert 1 <= len(panel.items) <= 4 and all(q["lab"] == lab for q in panel.questions)
    assert show_quiz(load_questions(lab=lab)).items  # the call labs 04-06 make today keeps working


# ---------------------------------------------------------------- issue 16: options in a fixed shuffle per question id

def test_widgets_show_options_in_the_fixed_shuffle_and_grade_the_option_clicked(tmp_path, monkeypatch):
    from lab_helpers.exam import option_order

    monkeypatch.setenv("LAB_PROGRESS_FILE", str(tmp_path / "p.json"))
    single = next(q for q in QUESTIONS if q["format"] == "single"
                  and option_order(q).index(next(i for i, o in enumerate(q["options"]) if o["correct"])) != next(i for i, o in enumerate(q["options"]) if o["correct"]))
    order, key = option_order(single), next(i for i, o in enumerate(single["options"]) if o["correct"])
    item = QuizQuestion(single)
    radio = item.inputs[0]
    assert list(radio.options) == [f"{chr(65 + k)}. {single['options'][i]['text']}" for k, i in enumerate(order)]
    assert QuizQuestion(single).inputs[0].options == radio.options  # the same order every time it is shown
    radio.value = radio.options[key]  # the position the key is stored at shows another option
    assert not item.check().correct
    radio.value = radio.options[order.index(key)]  # the learner clicks the key's text where it is shown
    assert item.chosen() == {key} and item.check().correct
    feedback = item.feedback.value
    assert f"✔ {chr(65 + order.index(key))}. " in feedback  # feedback uses the letters on screen
    multi = next(q for q in QUESTIONS if q["format"] == "multiple" and option_order(q) != sorted(option_order(q)))
    item = QuizQuestion(multi)
    shown = option_order(multi)
    for k, box in enumerate(item.inputs):
        box.value = multi["options"][shown[k]]["correct"]
    assert item.check().correct
    exam = mock_exam(n=10, minutes=None, record=True)  # the mock exam shows and grades the same way; progress keeps ids
    done = next(i for i in exam.items if i.format == "single")
    done.select(next(i for i, o in enumerate(done.question["options"]) if o["correct"]))
    done.button.click()
    assert exam.finish().right == 1
    assert load_progress().answers[done.question["id"]]["last_correct"] is True
