"""The question bank as data: 80+ questions, every seed concept covered twice, valid tags, the new formats graded in plain Python."""
from __future__ import annotations

import functools
import itertools
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lab_helpers.exam import FORMATS, LAB_NOTEBOOKS, OBJECTIVE_THREATS, THREAT_TAGS, check_question, choice_order, declared_choices, display_order, gaming_figures, grade_question, in_mock_exam, kit_mentions, load_questions, match_choices, mock_exam_pool, mock_exam_questions, option_order, parse_answer, pick_questions, question_text
from lab_helpers.exam import is_performance_based, quick_check_questions
from lab_helpers.exam.bank import filter_by_topic, load_concepts, question_concepts, question_files, resolve_tag, review_list, score_by_topic
from lab_helpers.exam.bank import (ORDERING_STEPS, correct_options, far_from_the_key, ordering_allowance, ordering_credit,
                                   random_order_credit)

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


def test_ordering_credit_costs_a_share_of_the_mark_per_step_out_of_place():
    """Issue 28: credit = max(0, 1 - moves / h), h = half the steps rounded down; one step out of place keeps most of
    the mark, a random order earns almost nothing (the longest-run share gave it about 0.5)."""
    q = next(q for q in QUESTIONS if q["id"] == "qb-order-probing")
    n = len(q["steps"])
    assert n == 5 and ordering_allowance(n) == 2
    assert display_order(q) != list(range(n))  # never shown already in order
    assert grade_question(q, list(range(n))).correct and grade_question(q, list(range(n))).credit == 1
    swapped = [1, 0] + list(range(2, n))
    result = grade_question(q, swapped)
    assert not result.correct and f"{n - 1} of {n} steps" in result.message and result.score == pytest.approx(0.5)
    assert "each step out of place costs 1/2 of the mark" in result.message
    to_front = [n - 1] + list(range(n - 1))  # the last step moved to the front: the others are still in order
    moved = grade_question(q, to_front)
    assert f"{n - 1} of {n} steps" in moved.message and "0 of" not in moved.message
    assert moved.message.splitlines()[-1].startswith("✘") and moved.score == pytest.approx(0.5)
    two_out = grade_question(q, [1, 0, 3, 2, 4])
    assert two_out.score == 0 and not two_out.correct and "No credit" in two_out.message and two_out.answered
    backwards = grade_question(q, list(reversed(range(n))))
    assert f"1 of {n} steps" in backwards.message and backwards.score == 0
    assert [ordering_credit([k - 1 for k in ([2, 1] + list(range(3, m + 1)))]) for m in (5, 6, 7, 8)] == \
        pytest.approx([1 / 2, 2 / 3, 2 / 3, 3 / 4])  # one adjacent swap: most of the mark
    assert [round(random_order_credit(m), 3) for m in (5, 6, 7, 8)] == [0.075, 0.108, 0.033, 0.049]  # exact
    assert not grade_question(q, [0, None] + list(range(2, n))).answered
    twice = grade_question(q, [0] * n)  # a widget can put one step in two positions: ask, do not grade
    assert not twice.answered and "each step once" in twice.message
    with pytest.raises(ValueError, match="every step once"):
        grade_question(q, [7] * n)


def test_matching_is_graded_from_a_list_or_a_dict():
    q = next(q for q in QUESTIONS if q["id"] == "qb-match-threats")
    n = len(q["pairs"])
    assert len(match_choices(q)) == n + 1 and all(choice_order(q)[k] != k for k in range(n))  # no match level with its item
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
    figures = gaming_figures(QUESTIONS)["single"]
    assert figures["questions"] == len(SINGLES) >= 100 and figures["chance"] == 0.25
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
    figures = gaming_figures(gamed)["single"]
    assert figures["longest"] == figures["overlap"] == 1.0 and figures["positions"] == {0: 1.0}
    even = [{**q, "options": [{**o, "text": "same length"} for o in q["options"]]} for q in SINGLES]
    assert gaming_figures(even)["single"]["longest"] == pytest.approx(0.25)  # ties are shared out, as a guesser picks among them


# ---------------------------------------------------------------- issue 28: no format a test-wise guesser can beat

MULTI_LIMIT = 0.15  # a length or word strategy may fully solve at most this share of the multiple-answer questions
ORDER_LIMIT = 0.2  # the most a random order, or the order as shown, may earn on any ordering question
MARGIN = 0.15  # matching and PBQ choice fields: a strategy may beat chance by at most 15 points
MULTIPLES = [q for q in QUESTIONS if q["format"] == "multiple"]
ORDERINGS = [q for q in QUESTIONS if q["format"] == "ordering"]
MATCHINGS = [q for q in QUESTIONS if q["format"] == "matching"]
FIELD_QUESTIONS = [q for q in QUESTIONS if q["format"] == "fields"]


def multiple_answer_failures(figures: dict) -> dict:
    """The multiple-answer strategies that beat the limits (empty when none does)."""
    bad = {name: figures[name] for name in ("longest", "shortest", "middle", "overlap") if figures[name] > MULTI_LIMIT}
    bad |= {f"{name}_hits": figures[f"{name}_hits"] for name in ("longest", "shortest", "middle", "overlap")
            if figures[f"{name}_hits"] > figures["chance_hits"] + MARGIN}
    return bad


def ordering_failures(figures: dict) -> dict:
    return {f"{qid}: {name}": credit for qid, row in figures["by_question"].items() for name, credit in row.items()
            if credit > ORDER_LIMIT}


def matching_failures(figures: dict) -> dict:
    bad = {}
    for qid, row in figures["by_question"].items():
        bad |= {f"{qid}: {name}": row[name] for name in ("overlap", "shown") if row[name] > row["chance"] + MARGIN}
        if row["eliminated"] > row["chance_eliminated"] + MARGIN:
            bad[f"{qid}: eliminated"] = row["eliminated"]
    return bad


def choice_failures(figures: dict) -> dict:
    return {name: figures[name] for name in ("longest", "overlap", "first_shown")
            if figures[name] > figures["chance"] + MARGIN}


def test_the_gaming_check_covers_every_format():
    figures = gaming_figures(QUESTIONS)
    assert set(figures) == {"single", "multiple", "ordering", "matching", "choices"}
    assert figures["multiple"]["questions"] == len(MULTIPLES) >= 20
    assert figures["ordering"]["questions"] == len(ORDERINGS) >= 3 and figures["matching"]["questions"] == len(MATCHINGS)
    assert figures["choices"]["fields"] == sum(f["kind"] == "choice" for q in FIELD_QUESTIONS for f in q["fields"]) >= 8
    assert gaming_figures([])["multiple"] == {**gaming_figures([])["multiple"], "questions": 0, "longest": 0.0}


def test_a_test_wise_guesser_cannot_beat_the_multiple_answer_questions():
    """Issue 28: the k longest options fully solved 56 % (chance 13 %); now no length or word strategy passes 15 %."""
    figures = gaming_figures(QUESTIONS)["multiple"]
    assert figures["chance"] < MULTI_LIMIT
    assert multiple_answer_failures(figures) == {}, figures


def test_the_multiple_answer_check_fails_on_a_bank_that_gives_the_keys_away():
    longest = []
    for q in MULTIPLES:  # the same questions, each key made the longest option and full of the stem's words
        pad = "x" * max(len(o["text"]) for o in q["options"])
        longest.append({**q, "options": [{**o, "text": o["text"] + " " + q["stem"] + pad} if o["correct"] else o
                                         for o in q["options"]]})
    figures = gaming_figures(longest)["multiple"]
    assert figures["longest"] == figures["overlap"] == 1.0 and figures["longest_hits"] == 1.0
    assert {"longest", "overlap", "longest_hits", "overlap_hits"} <= set(multiple_answer_failures(figures))
    shortest = [{**q, "options": [{**o, "text": "k" if o["correct"] else o["text"] + "!"} for o in q["options"]]}
                for q in MULTIPLES]
    assert "shortest" in multiple_answer_failures(gaming_figures(shortest)["multiple"])
    even = [{**q, "options": [{**o, "text": "same"} for o in q["options"]]} for q in MULTIPLES]
    figures = gaming_figures(even)["multiple"]  # ties shared out: exactly chance
    assert figures["longest"] == pytest.approx(figures["chance"])
    assert figures["longest_hits"] == pytest.approx(figures["chance_hits"])
    blind = [1 / math.comb(len(q["options"]), len(correct_options(q))) for q in MULTIPLES]
    assert figures["chance"] == pytest.approx(sum(blind) / len(blind))


def test_ordering_questions_earn_almost_nothing_at_random_or_as_shown():
    """Issue 28: a random order earned 0.50-0.56 and the order as shown up to 0.80; now at most 0.2 each."""
    figures = gaming_figures(QUESTIONS)["ordering"]
    assert ordering_failures(figures) == {}, figures["by_question"]
    assert figures["random"] <= ORDER_LIMIT and figures["worst_shown"] == figures["worst_reversed"] == 0
    for q in ORDERINGS:
        n = len(q["steps"])
        assert ORDERING_STEPS[0] <= n <= ORDERING_STEPS[1]
        shown = display_order(q)
        assert far_from_the_key(shown) and all(step != place for place, step in enumerate(shown))
    short = {**ORDERINGS[0], "steps": ORDERINGS[0]["steps"][:4]}
    assert any("5 to 8 steps" in p for p in check_question(short))  # with 4, a random order earns 0.23


def test_the_ordering_check_fails_on_a_bank_that_shows_the_key(monkeypatch):
    """A bank shown in its right order (or backwards, or graded by the old longest-run share) fails the check."""
    import lab_helpers.exam.bank as bank

    monkeypatch.setattr(bank, "display_order", lambda q: list(range(len(q["steps"]))))
    shown = ordering_failures(gaming_figures(ORDERINGS)["ordering"])
    assert {f"{q['id']}: shown" for q in ORDERINGS} <= set(shown)
    monkeypatch.setattr(bank, "display_order", lambda q: list(reversed(range(len(q["steps"])))))
    assert {f"{q['id']}: reversed" for q in ORDERINGS} <= set(ordering_failures(gaming_figures(ORDERINGS)["ordering"]))
    monkeypatch.setattr(bank, "ordering_allowance", lambda n: n)  # a lenient rule: random orders earn too much
    monkeypatch.setattr(bank, "random_order_credit", functools.lru_cache(None)(bank.random_order_credit.__wrapped__))
    assert any(name.endswith("random") for name in ordering_failures(gaming_figures(ORDERINGS)["ordering"]))
    old_rule = [sum(len(bank.steps_in_order(list(p))) / n for p in itertools.permutations(range(n))) / math.factorial(n)
                for n in (5, 6, 7)]
    assert all(r > ORDER_LIMIT for r in old_rule)  # what the longest-run rule gave a random order (0.56, 0.52, 0.50)


def test_matching_choices_give_no_shared_word_and_no_elimination_shortcut():
    """Issue 28: shared words scored 71 % on pbq-match-log-evidence (chance 17 %) and the stems ruled out both
    distractors of the matching PBQs; now every strategy stays within 15 points of chance on every question."""
    figures = gaming_figures(QUESTIONS)["matching"]
    assert matching_failures(figures) == {}, figures["by_question"]
    assert figures["shown"] == 0  # no match is shown level with its item


def test_the_matching_check_fails_on_a_bank_that_gives_the_matches_away():
    echoed = [{**q, "pairs": [{**p, "match": p["match"] + " " + p["item"]} for p in q["pairs"]],
               "distractors": [{**d, "text": "zzz"} for d in q["distractors"]]} for q in MATCHINGS]
    failed = matching_failures(gaming_figures(echoed)["matching"])
    assert {f"{q['id']}: overlap" for q in MATCHINGS} <= set(failed)
    assert {f"{q['id']}: eliminated" for q in MATCHINGS} <= set(failed)


def test_pbq_choice_fields_give_nothing_away_by_length_words_or_place():
    figures = gaming_figures(QUESTIONS)["choices"]
    assert choice_failures(figures) == {}, figures
    controls = [(q["id"], f) for q in FIELD_QUESTIONS for f in q["fields"] if f["name"] == "control"]
    assert len(controls) >= 2
    for qid, f in controls:  # the keyed control is never the longest choice (issue 28: it was, in both triage PBQs)
        assert len(f["choices"][f["answer"]]) < max(map(len, f["choices"])), qid


def test_the_choice_field_check_fails_on_a_form_that_gives_the_answers_away():
    gamed = []
    for q in FIELD_QUESTIONS:
        fields = []
        for f in q["fields"]:
            if f["kind"] == "choice":
                key = f["choices"][f["answer"]] + " " + q["stem"] + " " + f["prompt"]
                f = {**f, "choices": [key if i == f["answer"] else c for i, c in enumerate(f["choices"])]}
            fields.append(f)
        gamed.append({**q, "fields": fields})
    failed = choice_failures(gaming_figures(gamed)["choices"])
    assert {"longest", "overlap"} <= set(failed)


def test_no_pbq_answers_itself_in_a_file_name():
    from lab_helpers.exam import TASKS

    for q in FIELD_QUESTIONS:
        task = TASKS[q["task"]]
        if not hasattr(task, "log_file"):
            continue
        name = task._where().name.lower()
        words = {w for f in q["fields"] if f["kind"] == "choice" for c in f["choices"]
                 for w in re.findall(r"[a-z]+", c.lower())}
        assert not {w for w in re.findall(r"[a-z]+", name) if len(w) > 3} & words, name
        assert task.key not in name and task.model not in name and task.attack not in name


# ---------------------------------------------------------------- issue 28: merged near-duplicates, debatable keys, trivia

MERGED = {"q09-independent-referees": "q03-judge-independently", "q06-rate-limit-in-days": "q08-rate-limit-days",
          "qf-many-keys": "qt-theft-extraction-control", "qf-tradeoff-choice": "qi-risk-treatment",
          "qb-logits-vs-label": "qb-most-signal", "q01-membership-sensitive": "qt-membership-journalist",
          "qd-hiv-status": "qh-covered-entity", "qf-order-incident": "pbq-ir-leaked-model",
          "q08-what-dp-buys": "q05-dp-vs-class-inversion"}
RESEARCH_OR_KIT = ("q02-threat-model", "q04-rounding-origin", "q05-epsilon-meaning", "q05-delta-choice",
                   "q01-membership-advantage", "q08-why-a-prior-helps", "q08-public-lookup-baseline", "pbq-gateway-ward")
REWRITTEN_FOR_THE_EXAM = ("q08-transfer-learning", "q06-what-the-log-keeps")


def test_near_duplicates_are_merged_into_one_question_each():
    ids = {q["id"] for q in QUESTIONS}
    assert not set(MERGED) & ids and set(MERGED.values()) <= ids
    by_id = {q["id"]: q for q in QUESTIONS}
    assert "HIV" in by_id["qh-covered-entity"]["stem"] and "attribute inference" in by_id["qh-covered-entity"]["concepts"]
    assert any("logits" in o["text"] and o["correct"] for o in by_id["qb-most-signal"]["options"])
    assert "time to detect" in next(o["text"] for o in by_id["q08-rate-limit-days"]["options"] if o["correct"])


def test_kit_and_research_trivia_stay_out_of_the_mock_exam():
    pool = {q["id"] for q in mock_exam_pool()}
    assert not set(RESEARCH_OR_KIT) & pool  # in their labs' quick checks only
    for qid in RESEARCH_OR_KIT:  # still in the bank: their labs' quick checks ask them
        assert any(q["id"] == qid for q in QUESTIONS), qid
    assert set(REWRITTEN_FOR_THE_EXAM) <= pool
    cited = {**SINGLES[0], "stem": "Fredrikson et al. (2015) showed what about rounding?"}
    assert kit_mentions(cited) == ["et al.", "(2015)"] and any("mock_exam" in p for p in check_question(cited))


def test_the_debatable_keys_follow_the_exam_and_the_article():
    by_id = {q["id"]: q for q in QUESTIONS}

    def key(qid: str) -> str:
        return " ".join(o["text"] for o in by_id[qid]["options"] if o["correct"])

    assert key("q08-transfer-learning").startswith("Train with differential privacy")
    assert all(w in key("q06-what-the-log-keeps") for w in ("identity", "inputs", "outputs"))
    assert "weak" in key("q05-choose-epsilon")
    assert "automated lineup" in by_id["q05-dp-vs-class-inversion"]["stem"]
    assert "expose" not in " ".join(o["text"] + o["explanation"] for o in by_id["q09-weakest-deployment"]["options"])
    assert key("qt-output-shell") == "Excessive agency"
    assert "excessive agency" in by_id["qt-output-generated-sql"]["concepts"]
    assert resolve_tag("excessive agency") == ("threats", "excessive agency")
    glossary = (KIT / "docs" / "glossary.md").read_text(encoding="utf-8")
    assert "| **excessive agency** |" in glossary
    dosing = {f["name"]: f for f in by_id["pbq-review-dosing-card"]["fields"]}
    face = {f["name"]: f for f in by_id["pbq-review-face-card"]["fields"]}
    for card in (dosing, face):  # special-category data (genetic, biometric) is Restricted on both cards
        assert card["classification"]["choices"][card["classification"]["answer"]].startswith("Wrong")
        assert "Restricted" in card["classification"]["explanation"]


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
    from lab_helpers.exam import check_ids

    held_out = check_ids()  # the pre/post check's 20 questions (tests/test_prepost_check.py)
    assert not held_out & kit_only and len(pool) == len(QUESTIONS) - len(kit_only) - len(held_out)
    for q in pool:
        assert not re.search(r"\blabs?\b|\bthe seed\b|opacus|batchnorm", q["stem"], flags=re.IGNORECASE), q["id"]
        assert kit_mentions(q) == [], q["id"]
    asked = {q["id"] for q in mock_exam_questions(n=len(QUESTIONS))}
    assert asked == {q["id"] for q in pool}
    for q in QUESTIONS:  # still in their labs' quick checks (a PBQ is not in any quick check)
        if q["id"] in kit_only and not is_performance_based(q):
            assert q["id"] in {x["id"] for x in quick_check_questions(q["lab"], n=10_000)}, q["id"]
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


# ---------------------------------------------------------------- issue 28: where inversion meets the rest of objective 1.5

def test_each_ai_use_risk_of_objective_1_5_has_four_exam_scenarios():
    """Issue 28: explainable vs non-explainable models had 1 question; disclosure to the model, DLP, an AI-use policy
    and excessive agency (by name) had none. Now each has four or more exam-style scenarios the mock exam may ask."""
    from lab_helpers.exam import AI_USE_RISKS

    for tag in AI_USE_RISKS:
        assert resolve_tag(tag)[1] == tag
        scenarios = [q["id"] for q in mock_exam_pool() if tag in question_concepts(q) and q["format"] in ("single", "multiple")]
        assert len(scenarios) >= 4, f"{tag}: only {scenarios}"
    named = [q["id"] for q in QUESTIONS if "excessive agency" in question_concepts(q)
             and any(o["correct"] and "excessive agency" in (o["text"] + " " + o["explanation"]).lower() for o in q["options"])]
    assert len(named) >= 4, named  # the key names it, so the learner reads the objective's own words
    explained = [q["id"] for q in mock_exam_pool() if "explainability" in question_concepts(q) and q["lab"] == "02"]
    assert len(explained) >= 4, explained  # lab 02's lender: reasons, counterfactuals, the explainable model


def section_words(notebook: str, heading: str) -> int:
    cells = json.loads((KIT / "solutions" / notebook).read_text(encoding="utf-8"))["cells"]
    text = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown" and "".join(c["source"]).startswith(heading))
    return len(re.findall(r"[A-Za-z0-9][\w'’.–-]*", re.sub(r"[#*()`]", " ", text)))


def test_the_sections_that_teach_them_are_short_and_name_them():
    """A lab teaches each risk before a question sends a learner there: two short sections (200 words at most)."""
    assert section_words("00_orientation.ipynb", "## 8. Data into and out of a model") <= 200
    assert section_words("07_governance_and_exam_review.ipynb", "## 5. The organisation's AI-use policy") <= 200
    lab00 = " ".join("".join(c["source"]) for c in json.loads((KIT / "solutions" / "00_orientation.ipynb").read_text())["cells"])
    for words in ("disclosure to the model", "disclosure from the model", "Data loss prevention (DLP)", "Excessive agency"):
        assert words in lab00, words
    glossary = (KIT / "docs" / "glossary.md").read_text(encoding="utf-8")
    for term in ("sensitive information disclosure", "data loss prevention (DLP)", "AI-use policy",
                 "explainable vs non-explainable model"):
        assert f"| **{term}" in glossary, term
