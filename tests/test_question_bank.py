"""The question bank as data: 80+ questions, every seed concept covered twice, valid tags, the new formats graded in plain Python."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lab_helpers.exam import FORMATS, LAB_NOTEBOOKS, check_question, choice_order, declared_choices, display_order, grade_question, load_questions, match_choices, parse_answer, pick_questions, question_text
from lab_helpers.exam.bank import filter_by_topic, load_concepts, question_concepts, question_files, resolve_tag, review_list, score_by_topic

KIT = Path(__file__).resolve().parent.parent
QUESTIONS = load_questions()
CONCEPTS = load_concepts()
OWN_FILES = ["concepts_basics.json", "concepts_data_and_impact.json", "concepts_scenarios.json", "concepts_defences.json",
             "lab00.json", "lab01.json", "lab02.json", "lab03.json", "lab07.json"]


def test_the_bank_holds_80_or_more_questions_without_labs_04_to_06():
    own = [q for name in OWN_FILES for q in json.loads((KIT / "data" / "questions" / name).read_text())["questions"]]
    assert len(own) >= 80
    assert len(QUESTIONS) >= len(own)


def test_question_ids_are_unique_across_every_file():
    counts = Counter(q["id"] for q in QUESTIONS)
    assert [i for i, n in counts.items() if n > 1] == []


def test_every_question_is_well_formed():
    problems = [p for q in QUESTIONS for p in check_question(q)]
    assert problems == [], "\n".join(problems)


def test_every_concept_has_at_least_two_questions():
    covered = Counter(c for q in QUESTIONS for c in question_concepts(q))
    thin = {c["name"]: covered[c["name"]] for c in CONCEPTS["concepts"] if covered[c["name"]] < 2}
    assert thin == {}, f"concepts with fewer than two questions: {thin}"


def test_the_concept_list_covers_the_seed():
    names = {c["name"] for c in CONCEPTS["concepts"] if c["seed"]}
    for needed in ("what model inversion is", "confidence scores and logits", "probing and iterative reconstruction",
                   "personal data", "medical data", "biometric data", "financial data", "organisational data",
                   "overfitting and memorisation", "high-dimensional data", "detailed outputs", "unminimised sensitive data",
                   "weak access control", "HIPAA", "PCI DSS", "GDPR", "inversion vs extraction vs adversarial vs poisoning",
                   "healthcare scenario", "facial recognition scenario", "finance scenario", "HR scenario",
                   "customer analytics scenario", "output minimisation", "differential privacy", "data minimisation",
                   "access control", "rate limiting", "monitoring and logging", "secure development", "secure deployment",
                   "data classification", "model documentation", "change approval", "periodic review"):
        assert needed in names
    topics = {t["key"] for t in CONCEPTS["topics"]}
    assert all(c["topic"] in topics and set(c["labs"]) <= set(LAB_NOTEBOOKS) for c in CONCEPTS["concepts"])


def test_every_format_and_the_best_control_flavour_are_in_the_bank():
    formats = Counter(q["format"] for q in QUESTIONS)
    assert set(formats) == set(FORMATS)
    assert formats["ordering"] >= 3 and formats["matching"] >= 3
    assert sum(q.get("style") == "best-control" for q in QUESTIONS) >= 8
    probing = next(q for q in QUESTIONS if q["id"] == "qb-order-probing")
    assert probing["steps"][0]["text"].startswith("Send a baseline query")  # the seed's probing steps, in order
    threats = next(q for q in QUESTIONS if q["id"] == "qb-match-threats")
    assert [p["item"] for p in threats["pairs"]] == ["Model inversion", "Model extraction", "Adversarial example", "Data poisoning"]


def test_each_lab_has_enough_questions_for_a_quick_check():
    for lab in ("00", "01", "02", "03", "07"):
        assert len(load_questions(lab=lab)) >= 5, lab


def test_lab_files_come_first_and_concepts_json_is_not_a_question_file():
    files = question_files()
    assert "concepts.json" not in files
    first_cross = next(i for i, f in enumerate(files) if not f.startswith("lab"))
    assert all(f.startswith("lab") for f in files[:first_cross]) and not any(f.startswith("lab") for f in files[first_cross:])


def test_check_question_catches_each_kind_of_mistake():
    good = next(q for q in QUESTIONS if q["id"] == "q00-attacker-needs")
    assert check_question(good) == [] and declared_choices(good) == 2
    assert any("correct" in p for p in check_question({**good, "options": good["options"][:1] + good["options"][2:]}))
    assert any("Unknown concept tag" in p for p in check_question({**good, "concepts": ["quantum leakage"]}))
    assert any("difficulty" in p for p in check_question({**good, "difficulty": "trivial"}))
    assert any("lab must be" in p for p in check_question({**good, "lab": "12"}))
    assert any("objective" in p for p in check_question({**good, "objective": "CAS-004 1.1"}))
    assert any("style" in p for p in check_question({**good, "style": "trick"}))
    no_expl = [{**o, "explanation": " "} if i == 0 else o for i, o in enumerate(good["options"])]
    assert any("explanation" in p for p in check_question({**good, "options": no_expl}))
    assert any("format" in p for p in check_question({**good, "format": "essay"}))


def test_tags_resolve_through_names_aliases_and_topic_titles():
    assert resolve_tag("GDPR") == ("impact", "GDPR")
    assert resolve_tag("DP-SGD") == ("defences", "differential privacy")
    assert resolve_tag("Why models leak") == ("why", None)
    with pytest.raises(KeyError, match="topics: model inversion basics"):
        resolve_tag("vibes")


def test_topic_filter_by_topic_or_concept_and_its_error():
    defences = filter_by_topic(QUESTIONS, "defences")
    assert len(defences) >= 20
    gdpr = filter_by_topic(QUESTIONS, "gdpr")
    assert gdpr and all("GDPR" in question_concepts(q) for q in gdpr)
    with pytest.raises(ValueError, match="Topics: basics"):
        filter_by_topic(QUESTIONS, "astrology")


def test_ordering_is_graded_all_or_nothing_with_positions_counted():
    q = next(q for q in QUESTIONS if q["id"] == "qb-order-probing")
    n = len(q["steps"])
    assert display_order(q) != list(range(n))  # never shown already in order
    assert grade_question(q, list(range(n))).correct
    swapped = [1, 0] + list(range(2, n))
    result = grade_question(q, swapped)
    assert not result.correct and f"{n - 2} of {n} steps" in result.message
    assert not grade_question(q, [0, None] + list(range(2, n))).answered
    twice = grade_question(q, [0] * n)  # a widget can put one step in two positions: ask, do not grade
    assert not twice.answered and "each step once" in twice.message
    with pytest.raises(ValueError, match="every step once"):
        grade_question(q, [7] * n)


def test_matching_is_graded_from_a_list_or_a_dict():
    q = next(q for q in QUESTIONS if q["id"] == "qb-match-threats")
    n = len(q["pairs"])
    assert len(match_choices(q)) == n + 1 and choice_order(q) != list(range(n + 1))
    assert grade_question(q, list(range(n))).correct
    assert grade_question(q, {i: i for i in range(n)}).correct
    wrong = grade_question(q, [n] + list(range(1, n)))
    assert not wrong.correct and "3 of 4" in wrong.message
    with pytest.raises(ValueError, match="does not exist"):
        grade_question(q, [9] * n)


def test_parse_answer_reads_what_a_learner_types():
    single = next(q for q in QUESTIONS if q["id"] == "q00-identify-inversion")
    assert parse_answer(single, " b ") == 1
    with pytest.raises(ValueError, match="single letter"):
        parse_answer(single, "A B")
    with pytest.raises(ValueError, match="letters A-D"):
        parse_answer(single, "E")
    multi = next(q for q in QUESTIONS if q["id"] == "q00-attacker-needs")
    assert parse_answer(multi, "a,b") == {0, 1}
    order = next(q for q in QUESTIONS if q["id"] == "qb-order-probing")
    shown = display_order(order)
    typed = " ".join(chr(65 + shown.index(i)) for i in range(len(shown)))  # the right order, as letters on screen
    assert parse_answer(order, typed) == list(range(len(shown)))
    assert grade_question(order, parse_answer(order, typed)).correct
    match = next(q for q in QUESTIONS if q["id"] == "qb-match-threats")
    shown = choice_order(match)
    letters = [chr(65 + shown.index(i)) for i in range(len(match["pairs"]))]
    assert parse_answer(match, " ".join(letters)) == [0, 1, 2, 3]
    assert parse_answer(match, " ".join(f"{i + 1}{c}" for i, c in reversed(list(enumerate(letters))))) == [0, 1, 2, 3]
    text = question_text(match, 3)
    assert text.startswith("Q3.") and "Choices:" in text and "Model inversion" in text


def test_pick_questions_puts_missed_then_unseen_first_and_covers_concepts():
    pool = load_questions(lab="02")
    first = pick_questions(pool, 4, seed=0)
    assert first == pick_questions(pool, 4, seed=0)  # deterministic
    concepts = [question_concepts(q) for q in first]
    assert len(set().union(*concepts)) >= 6
    history = {q["id"]: {"attempts": 1, "right": 1, "last_correct": True} for q in first}
    history[first[2]["id"]]["last_correct"] = False
    again = pick_questions(pool, 4, history, seed=0)
    assert again[0]["id"] == first[2]["id"] and not {q["id"] for q in again[1:]} & {q["id"] for q in first}
    with pytest.raises(ValueError, match="whole number"):
        pick_questions(pool, 0)
    with pytest.raises(ValueError, match="No questions"):
        pick_questions([], 3)


def test_score_by_topic_and_review_list_point_to_labs():
    picked = [q for q in QUESTIONS if q["id"] in ("q03-white-vs-black", "q00-extraction-vs-inversion", "qg-72-hours")]
    right = {"q00-extraction-vs-inversion": True, "q03-white-vs-black": False}
    scores = {t.topic: (t.right, t.asked) for t in score_by_topic(picked, right)}
    assert scores["threats"] == (1, 1) and scores["basics"] == (0, 1)
    review = review_list(picked, right)
    assert [r.lab for r in review] == ["03"]  # qg-72-hours (unanswered) and q03 both point to lab 03
    assert sorted(review[0].question_ids) == ["q03-white-vs-black", "qg-72-hours"]
    assert "03_face_reconstruction.ipynb" in review[0].text() and "2 questions" in review[0].text()
