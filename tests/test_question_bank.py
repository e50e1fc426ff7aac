"""The question bank as data: 80+ questions, every seed concept covered twice, valid tags, the new formats graded in plain Python."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lab_helpers.exam import FORMATS, LAB_NOTEBOOKS, OBJECTIVE_THREATS, THREAT_TAGS, check_question, choice_order, declared_choices, display_order, gaming_figures, grade_question, in_mock_exam, kit_mentions, load_questions, match_choices, mock_exam_pool, mock_exam_questions, option_order, parse_answer, pick_questions, question_text
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


def test_ordering_gives_credit_for_each_step_in_place_relative_to_the_others():
    q = next(q for q in QUESTIONS if q["id"] == "qb-order-probing")
    n = len(q["steps"])
    assert display_order(q) != list(range(n))  # never shown already in order
    assert grade_question(q, list(range(n))).correct and grade_question(q, list(range(n))).credit == 1
    swapped = [1, 0] + list(range(2, n))
    result = grade_question(q, swapped)
    assert not result.correct and f"{n - 1} of {n} steps" in result.message and result.score == pytest.approx((n - 1) / n)
    to_front = [n - 1] + list(range(n - 1))  # the last step moved to the front: the others are still in order
    moved = grade_question(q, to_front)
    assert f"{n - 1} of {n} steps" in moved.message and "0 of" not in moved.message
    assert moved.message.splitlines()[-1].startswith("✘") and moved.score == pytest.approx((n - 1) / n)
    backwards = grade_question(q, list(reversed(range(n))))
    assert f"1 of {n} steps" in backwards.message and backwards.score == pytest.approx(1 / n)
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
    assert parse_answer(single, " b ") == option_order(single)[1]  # the option shown as B
    with pytest.raises(ValueError, match="single letter"):
        parse_answer(single, "A B")
    with pytest.raises(ValueError, match="letters A-D"):
        parse_answer(single, "E")
    multi = next(q for q in QUESTIONS if q["id"] == "q00-attacker-needs")
    assert parse_answer(multi, "a,b") == {option_order(multi)[0], option_order(multi)[1]}
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
    # qg-72-hours (unanswered) points to lab 00, whose text teaches GDPR's 72 hours (it pointed to lab 03, which
    # never mentions it: issue 26); q03 to lab 03
    assert [r.lab for r in review] == ["00", "03"]
    assert review[0].question_ids == ["qg-72-hours"] and review[1].question_ids == ["q03-white-vs-black"]
    assert "00_orientation.ipynb" in review[0].text() and "03_face_reconstruction.ipynb" in review[1].text()


# ---------------------------------------------------------------- issue 16: a bank a test-wise guesser cannot beat

GUESS_LIMIT = 0.35  # a test-wise strategy may score at most this on the single-answer questions (chance is 0.25)
SINGLES = [q for q in QUESTIONS if q["format"] == "single"]


def key_of(q: dict) -> int:
    return next(i for i, o in enumerate(q["options"]) if o["correct"])


def test_a_test_wise_guesser_cannot_beat_the_single_answer_questions():
    figures = gaming_figures(QUESTIONS)
    assert figures["questions"] == len(SINGLES) >= 100
    assert figures["longest"] <= GUESS_LIMIT, f"always picking the longest option scores {figures['longest']:.0%}"
    assert figures["overlap"] <= GUESS_LIMIT, f"picking the option sharing most words with the stem scores {figures['overlap']:.0%}"
    shares = figures["positions"]
    assert set(shares) == {0, 1, 2, 3} and all(len(q["options"]) == 4 for q in SINGLES)
    uneven = {chr(65 + k): f"{s:.0%}" for k, s in shares.items() if not 0.15 <= s <= 0.35}
    assert not uneven, f"the key is stored at these positions too often or too rarely: {uneven}"


def test_the_guesser_figures_fail_on_a_bank_that_gives_the_key_away():
    gamed = []
    for q in SINGLES:  # the same questions, with each key stored first, made the longest and full of the stem's words
        key, rest = q["options"][key_of(q)], [o for o in q["options"] if not o["correct"]]
        longest = max(len(o["text"]) for o in rest)
        gamed.append({**q, "options": [{**key, "text": key["text"] + " " + q["stem"] + "x" * longest}, *rest]})
    figures = gaming_figures(gamed)
    assert figures["longest"] == figures["overlap"] == 1.0 and figures["positions"] == {0: 1.0}
    even = [{**q, "options": [{**o, "text": "same length"} for o in q["options"]]} for q in SINGLES]
    assert gaming_figures(even)["longest"] == pytest.approx(0.25)  # ties are shared out, as a guesser picks among them


def test_options_are_shown_in_a_fixed_shuffle_per_question_id():
    shown = [q for q in QUESTIONS if q["format"] in ("single", "multiple")]
    orders = {q["id"]: option_order(q) for q in shown}
    assert all(sorted(orders[q["id"]]) == list(range(len(q["options"]))) for q in shown)
    assert sum(order != sorted(order) for order in orders.values()) >= 0.8 * len(orders)  # almost all shuffled
    script = ("import json; from lab_helpers.exam import load_questions, option_order; "
              "print(json.dumps({q['id']: option_order(q) for q in load_questions() if q['format'] in ('single', 'multiple')}))")
    for hash_seed in ("1", "2"):  # the same shuffle in any process: not Python's salted hash()
        run = subprocess.run([sys.executable, "-c", script], check=False, cwd=KIT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == orders
    twin = {**SINGLES[0], "id": SINGLES[0]["id"] + "-copy"}
    assert [option_order({**q, "id": q["id"] + "-copy"}) for q in shown] != list(orders.values())  # keyed by the id
    assert option_order(twin) == option_order({**twin, "stem": "another stem"})
    on_screen = Counter(orders[q["id"]].index(key_of(q)) for q in SINGLES)
    assert all(0.12 <= on_screen[k] / len(SINGLES) <= 0.38 for k in range(4)), on_screen  # the key lands anywhere on screen


def test_grading_follows_the_shuffle_in_text_letters_and_feedback():
    for q in (q for q in QUESTIONS if q["format"] in ("single", "multiple")):
        order = option_order(q)
        text = question_text(q).splitlines()
        assert [line.strip() for line in text[1:1 + len(order)]] == [f"{chr(65 + k)}. {q['options'][i]['text']}" for k, i in enumerate(order)]
        right = [chr(65 + k) for k, i in enumerate(order) if q["options"][i]["correct"]]
        chosen = parse_answer(q, " ".join(right))
        assert chosen == (key_of(q) if q["format"] == "single" else {i for i, o in enumerate(q["options"]) if o["correct"]})
        feedback = grade_question(q, chosen)
        assert feedback.correct, q["id"]
        lines = feedback.message.splitlines()[1:]
        assert [line[:3] for line in lines] == [f"{'✔' if q['options'][i]['correct'] else '✘'} {chr(65 + k)}" for k, i in enumerate(order)]
        wrong = next(chr(65 + k) for k, i in enumerate(order) if not q["options"][i]["correct"])
        assert not grade_question(q, parse_answer(q, wrong if q["format"] == "single" else " ".join(right[1:] + [wrong]))).correct


# ---------------------------------------------------------------- issue 16: every objective 1.5 threat, told apart

def test_every_objective_threat_has_four_scenario_questions():
    assert OBJECTIVE_THREATS == ("prompt injection", "insecure output handling", "training data poisoning", "model denial of service",
                                 "supply chain vulnerabilities", "model theft", "model inversion")  # the objective's own words
    assert THREAT_TAGS == OBJECTIVE_THREATS + ("membership inference", "attribute inference")
    for tag in THREAT_TAGS:
        assert resolve_tag(tag) == ("threats", tag)
        scenarios = [q["id"] for q in QUESTIONS if tag in question_concepts(q) and q["format"] in ("single", "multiple")]
        assert len(scenarios) >= 4, f"{tag}: only {scenarios}"
    for tip in ("privacy vs integrity vs availability", "controls and governance"):  # the article's exam tips
        assert sum(tip in question_concepts(q) for q in QUESTIONS) >= 2, tip


# ---------------------------------------------------------------- issue 16: kit-specific questions stay out of the mock exam

def test_the_mock_exam_asks_no_kit_specific_question():
    pool = mock_exam_pool()
    kit_only = {q["id"] for q in QUESTIONS if not in_mock_exam(q)}
    assert {"q05-batchnorm-opacus", "q06-status-for-over-limit", "q06-403-vs-401"} <= kit_only
    assert len(pool) == len(QUESTIONS) - len(kit_only)
    for q in pool:
        assert not re.search(r"\blabs?\b|\bthe seed\b|opacus|batchnorm", q["stem"], flags=re.IGNORECASE), q["id"]
        assert kit_mentions(q) == [], q["id"]
    asked = {q["id"] for q in mock_exam_questions(n=len(QUESTIONS))}
    assert asked == {q["id"] for q in pool}
    assert kit_only <= {q["id"] for lab in ("05", "06") for q in load_questions(lab=lab)}  # still in their labs' quick checks
    assert all(not kit_only & {q["id"] for q in mock_exam_questions(n=20, seed=seed)} for seed in range(5))
    unmarked = {**SINGLES[0], "stem": "In lab 03, which judge is independent?"}
    assert any("mock_exam" in p for p in check_question(unmarked))
    assert check_question({**unmarked, "mock_exam": False}) == []
    assert any("mock_exam must be" in p for p in check_question({**SINGLES[0], "mock_exam": "no"}))


def test_each_question_sends_the_learner_to_a_lab_that_teaches_it():
    """Issue 26: "labs to review" follows a question's lab, so that lab's text must name one of its concepts."""
    import json

    concepts = load_concepts()
    words = {c["name"].lower(): [c["name"].lower()] + [a.lower() for a in c.get("aliases", [])]
             for c in concepts["concepts"]}
    text = {}
    for path in (KIT / "solutions").glob("*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text[path.name[:2]] = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").lower()
    lost = []
    for q in load_questions():
        tags = [t.lower() for t in q.get("concepts", []) if t.lower() in words]
        if tags and not any(w in text[q["lab"]] for t in tags for w in words[t]):
            lost.append(f"{q['id']} (lab {q['lab']}: {', '.join(tags)})")
    assert lost == []
