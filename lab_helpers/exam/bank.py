"""Scenario cards and exam-style questions as data, and the plain functions that grade, pick and score them.

The question bank lives in data/questions/*.json (schema: data/questions/README.md); the concepts it must
cover, grouped in topics, in data/questions/concepts.json. Nothing here needs widgets: the notebook widgets
(lab_helpers.ui) and the terminal quiz (`python -m lab_helpers quiz`) both call these functions.
"""
from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import random
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from ..formatting import percent
from ..paths import data_dir

THREATS = ("model inversion", "model extraction", "adversarial example", "data poisoning")  # the lab 00 sorting drill
# The threats to the model that CAS-005 objective 1.5 lists, in its own words, and the two inference attacks the labs
# teach beside them. Each is a concept of data/questions/concepts.json; the bank holds scenario questions for each.
OBJECTIVE_THREATS = ("prompt injection", "insecure output handling", "training data poisoning", "model denial of service",
                     "supply chain vulnerabilities", "model theft", "model inversion")
INFERENCE_THREATS = ("membership inference", "attribute inference")
THREAT_TAGS = OBJECTIVE_THREATS + INFERENCE_THREATS
# Where inversion meets the rest of objective 1.5: its legal and privacy implications, the risks of using AI and the
# controls on AI assistants, each a concept with four or more scenario questions tied to the lab that teaches it.
AI_USE_RISKS = ("explainability", "sensitive information disclosure to the model",
                "sensitive information disclosure from the model", "data loss prevention", "AI-use policy",
                "excessive agency")
# Words that tie a question to this kit or to research trivia rather than to the exam (a lab, the seed, a paper cited
# by author or year): such a question needs "mock_exam": false
KIT_WORDS = re.compile(r"\blabs?\b(?:\s+0\d)?|\bthe seed\b|\bseed's\b|\bet al\.|\((?:19|20)\d\d\)", flags=re.IGNORECASE)
FORMATS = ("single", "multiple", "ordering", "matching", "fields", "policy")
# Performance-based questions (PBQs): tasks on the kit's own artefacts, graded with partial credit. "fields": a form
# of answers, one mark each (a log to triage, a model card to review); "policy": an access and output policy, graded
# by running the real attack and ordinary traffic against it, one mark per requirement met (lab_helpers.exam.pbq).
TASK_FORMATS = ("fields", "policy")
FIELD_KINDS = ("choice", "text", "number")
PASS_MARK = 0.75  # the mock exam's pass mark; the real exam reports pass or fail only, with no published score
STYLES = ("best-control",)  # a single-answer flavour: "which control is BEST for this scenario?"
DIFFICULTIES = ("easy", "medium", "hard")
OBJECTIVE = "CAS-005 1.5"
CONCEPTS_FILE = "concepts.json"
LAB_NOTEBOOKS = {
    "00": "00_orientation.ipynb", "01": "01_overfit_vs_regularised.ipynb", "02": "02_confidence_probing.ipynb",
    "03": "03_face_reconstruction.ipynb", "04": "04_defence_output_minimisation.ipynb",
    "05": "05_defence_training.ipynb", "06": "06_defence_access_and_monitoring.ipynb",
    "07": "07_governance_and_exam_review.ipynb", "08": "08_attacker_with_a_face_prior.ipynb",
    "09": "09_red_team_blue_team.ipynb",
}
TOPIC_NOTE = "A question counts under every topic it tests, so the topic rows add up to more than the questions asked."
NUMBER_WORDS = {"TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
# an ordering question has 5 to 8 steps: with 4, a random order would earn 0.23 of a mark on average (ordering_credit)
ORDERING_STEPS = (5, 8)


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer and the explanation a learner reads (answered=False: nothing chosen yet).

    score: the share of the marks earned, 0 to 1 (partial credit: an order with few steps out of place
    (`ordering_credit`), items matched, fields or requirements right); None means all or nothing, i.e. 1 when
    correct and 0 when not.
    """

    correct: bool
    message: str
    answered: bool = True
    score: float | None = None

    @property
    def credit(self) -> float:
        """The share of the marks this answer earns, 0 to 1."""
        return float(self.correct) if self.score is None else float(self.score)


def marks_text(earned: float, total: int) -> str:
    """'3 of 4 marks (0.75)': partial credit as marks and as a fraction."""
    return f"{number_text(earned)} of {total} mark{'s' if total != 1 else ''} ({earned / total:.2f})"


def number_text(value: float) -> str:
    """3.0 -> '3', 2.5 -> '2.5', 13.333 -> '13.33': scores with partial credit, without trailing zeros."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@lru_cache(maxsize=None)
def _read_json(name: str) -> dict:
    """A JSON file from the kit's data/ folder (read once)."""
    return json.loads((data_dir() / name).read_text(encoding="utf-8"))


def load_threat_cards() -> list[dict]:
    """The sorting drill's scenario cards: id, scenario, answer (one of THREATS), explanation."""
    return list(_read_json("threat_cards.json")["cards"])


def drill_order(cards: list[dict], seed: int = 0, n: int | None = None) -> list[dict]:
    """The drill's cards in a fixed shuffle (seeded) in which no two neighbours share an answer: the stored order
    groups them in answer pairs, which would give every second card away. n: only that many cards, every answer
    among them at least once (a shorter drill)."""
    answers = {c["answer"] for c in cards}
    n = len(cards) if n is None else n
    if not len(answers) <= n <= len(cards):
        raise ValueError(f"n must be between {len(answers)} (one card per threat) and {len(cards)} (every card), got {n}.")
    rng = random.Random(f"drill/{seed}")
    order = list(cards)
    for _ in range(1_000):
        rng.shuffle(order)
        if (all(a["answer"] != b["answer"] for a, b in zip(order[:n], order[1:n]))
                and {c["answer"] for c in order[:n]} == answers):
            break
    return order[:n]


def check_forms_file() -> dict:
    """data/check_forms.json: the pre/post check's two parallel forms (lab_helpers.exam.checks reads them)."""
    return _read_json("check_forms.json")


def check_ids() -> set[str]:
    """Every question on either form of the pre/post check: held out of quick checks and mock exams, so the day
    does not rehearse the post-check."""
    return {slot[form] for slot in check_forms_file()["slots"] for form in ("pre", "post")}


def threat_definitions() -> dict[str, str]:
    """One-line definitions of the four threats the drill sorts into."""
    return dict(_read_json("threat_cards.json")["threats"])


# ---------------------------------------------------------------- the bank and its concepts

def question_files() -> list[str]:
    """The bank's files, lab files (labNN.json) first, then cross-lab files; concepts.json is not one."""
    names = [p.name for p in (data_dir() / "questions").glob("*.json") if p.name != CONCEPTS_FILE]
    return sorted(names, key=lambda n: (not n.startswith("lab"), n))


def lab_number(lab: str | int) -> str:
    """'3', 3 or '03' -> '03', or a clear error naming the labs."""
    text = str(lab).strip()
    if not text.isdigit() or text.zfill(2) not in LAB_NOTEBOOKS:
        raise ValueError(f"There is no lab {lab!r}: labs are numbered {', '.join(LAB_NOTEBOOKS)}.")
    return text.zfill(2)


def load_questions(lab: str | int | None = None, topic: str | None = None) -> list[dict]:
    """Exam-style questions from data/questions/, optionally one lab's ('00') and/or one topic or concept."""
    questions = []
    for name in question_files():
        questions += _read_json(f"questions/{name}").get("questions", [])
    if lab is not None:
        questions = [q for q in questions if q["lab"] == str(lab).zfill(2)]
    if topic is not None:
        questions = filter_by_topic(questions, topic)
    return questions


def load_concepts() -> dict:
    """The concepts the bank must cover and their topics: {'topics': [...], 'concepts': [...]}."""
    return _read_json(f"questions/{CONCEPTS_FILE}")


def topic_titles() -> dict[str, str]:
    """Topic key -> title, e.g. 'why' -> 'why models leak'."""
    return {t["key"]: t["title"] for t in load_concepts()["topics"]}


@lru_cache(maxsize=None)
def _tag_index() -> dict[str, tuple[str, str | None]]:
    """Every valid tag (lower case) -> (topic key, concept name, or None for a topic-level tag)."""
    index = {}
    for topic in load_concepts()["topics"]:
        index[topic["title"].lower()] = (topic["key"], None)
        index[topic["key"].lower()] = (topic["key"], None)
    for concept in load_concepts()["concepts"]:
        for name in [concept["name"], *concept.get("aliases", [])]:
            index[name.lower()] = (concept["topic"], concept["name"])
    return index


def resolve_tag(tag: str) -> tuple[str, str | None]:
    """A concept tag as (topic key, canonical concept name or None); KeyError names where to look."""
    try:
        return _tag_index()[tag.strip().lower()]
    except KeyError:
        raise KeyError(f"Unknown concept tag {tag!r}: use a concept name, an alias or a topic title from "
                       f"data/questions/{CONCEPTS_FILE} (topics: {', '.join(topic_titles().values())}).") from None


def question_concepts(question: dict) -> set[str]:
    """The canonical concepts a question covers (topic-level tags and unknown tags left out)."""
    names = {_tag_index().get(t.strip().lower(), (None, None))[1] for t in question.get("concepts", [])}
    return {n for n in names if n}


def question_topics(question: dict) -> set[str]:
    """The topic keys a question belongs to, through its concept tags."""
    keys = {_tag_index().get(t.strip().lower(), (None, None))[0] for t in question.get("concepts", [])}
    return {k for k in keys if k}


def filter_by_topic(questions: list[dict], topic: str) -> list[dict]:
    """Questions of one topic (key or title) or one concept (name or alias), e.g. 'defences' or 'GDPR'."""
    try:
        topic_key, concept = resolve_tag(topic)
    except KeyError:
        raise ValueError(f"Unknown topic {topic!r}. Topics: {', '.join(topic_titles())}; "
                         "or name a concept, e.g. 'GDPR' or 'output minimisation'.") from None
    if concept is None:
        return [q for q in questions if topic_key in question_topics(q)]
    return [q for q in questions if concept in question_concepts(q)]


def declared_choices(question: dict) -> int | None:
    """How many answers a multiple-answer stem asks for ('Choose TWO' -> 2); None for 'all that apply'."""
    found = re.search(r"choose (TWO|THREE|FOUR|FIVE)\b", question["stem"], flags=re.IGNORECASE)
    return NUMBER_WORDS[found.group(1).upper()] if found else None


def check_question(question: dict) -> list[str]:
    """Everything wrong with one question's data (an empty list when it is well formed)."""
    problems = []
    qid = question.get("id", "?")
    for key in ("id", "lab", "objective", "difficulty", "format", "concepts", "stem"):
        if not question.get(key):
            problems.append(f"{qid}: missing {key!r}")
    if problems:
        return problems
    if question["objective"] != OBJECTIVE:
        problems.append(f"{qid}: objective must be {OBJECTIVE!r}")
    if question["lab"] not in LAB_NOTEBOOKS:
        problems.append(f"{qid}: lab must be one of {', '.join(LAB_NOTEBOOKS)}")
    if question["difficulty"] not in DIFFICULTIES:
        problems.append(f"{qid}: difficulty must be one of {', '.join(DIFFICULTIES)}")
    if question.get("style") is not None and question["style"] not in STYLES:
        problems.append(f"{qid}: style must be one of {', '.join(STYLES)}")
    if not isinstance(question.get("mock_exam", True), bool):
        problems.append(f"{qid}: mock_exam must be true or false")
    elif in_mock_exam(question) and kit_mentions(question):
        problems.append(f"{qid}: its stem or options mention {kit_mentions(question)[0]!r}: rewrite it for the exam, "
                        "or set \"mock_exam\": false to keep it in its lab's quick check only")
    for tag in question["concepts"]:
        try:
            resolve_tag(tag)
        except KeyError as exc:
            problems.append(f"{qid}: {exc.args[0]}")
    fmt = question["format"]
    if fmt not in FORMATS:
        return problems + [f"{qid}: format must be one of {', '.join(FORMATS)}"]
    parts = {"single": "options", "multiple": "options", "ordering": "steps", "matching": "pairs", "fields": "fields",
             "policy": "requirements"}[fmt]
    entries = question.get(parts) or []
    if len(entries) < 2:
        return problems + [f"{qid}: a {fmt} question needs at least two {parts}"]
    for entry in entries + question.get("distractors", []):
        if not str(entry.get("explanation", "")).strip():
            problems.append(f"{qid}: every one of its {parts} needs an explanation")
            break
    if fmt in ("single", "multiple"):
        right = len(correct_options(question))
        wanted = declared_choices(question)
        if fmt == "single" and right != 1:
            problems.append(f"{qid}: a single-answer question needs exactly one correct option (has {right})")
        if fmt == "multiple" and (right < 2 or (wanted is not None and wanted != right)):
            problems.append(f"{qid}: the stem asks for {wanted or 'two or more'} answers, {right} options are correct")
    if fmt == "ordering" and not ORDERING_STEPS[0] <= len(entries) <= ORDERING_STEPS[1]:
        problems.append(f"{qid}: an ordering question needs {ORDERING_STEPS[0]} to {ORDERING_STEPS[1]} steps (has "
                        f"{len(entries)}): with fewer, a random order earns too much partial credit")
    if fmt == "matching" and not question.get("distractors"):
        problems.append(f"{qid}: a matching question needs at least one distractor (a choice that matches no item), "
                        "or the last item is matched by elimination")
    if fmt in TASK_FORMATS:
        problems += _check_task_question(question)
    elif question.get("task"):
        problems.append(f"{qid}: only {' and '.join(TASK_FORMATS)} questions have a task")
    return problems


def _check_task_question(question: dict) -> list[str]:
    """What is wrong with a performance-based question's fields or requirements, and its task."""
    from .pbq import TASKS

    qid, fmt, problems = question["id"], question["format"], []
    if question.get("pbq") is not True:
        problems.append(f"{qid}: a {fmt} question is performance-based: mark it \"pbq\": true")
    task = question.get("task")
    if task is not None and task not in TASKS:
        problems.append(f"{qid}: unknown task {task!r}; tasks: {', '.join(sorted(TASKS))}")
    given = set(TASKS[task].answers_given) if task in TASKS else set()
    if fmt == "policy":
        if task is None or TASKS.get(task) is None or TASKS[task].kind != "policy":
            problems.append(f"{qid}: a policy question needs a policy task (one of {', '.join(sorted(k for k, t in TASKS.items() if t.kind == 'policy'))})")
        names = [r.get("name") for r in question.get("requirements", [])]
        if len(set(names)) != len(names) or not all(names) or not all(str(r.get("text", "")).strip() for r in question["requirements"]):
            problems.append(f"{qid}: every requirement needs a unique name and a text")
        if task in TASKS and set(names) != set(TASKS[task].requirements):
            problems.append(f"{qid}: the requirements must be the task's: {', '.join(TASKS[task].requirements)}")
        if not isinstance(question.get("template"), dict):
            problems.append(f"{qid}: a policy question needs a template: the policy the learner starts from")
        return problems
    names = [f.get("name") for f in question["fields"]]
    if len(set(names)) != len(names) or not all(names):
        problems.append(f"{qid}: every field needs a unique name")
    for f in question["fields"]:
        name = f.get("name", "?")
        if not str(f.get("prompt", "")).strip():
            problems.append(f"{qid}: field {name!r} needs a prompt")
        kind = f.get("kind")
        if kind not in FIELD_KINDS:
            problems.append(f"{qid}: field {name!r}: kind must be one of {', '.join(FIELD_KINDS)}")
            continue
        if kind == "choice":
            choices = f.get("choices") or []
            if len(choices) < 2 or not all(isinstance(c, str) and c.strip() for c in choices):
                problems.append(f"{qid}: field {name!r} needs two or more choices")
            if name not in given and not (isinstance(f.get("answer"), int) and 0 <= f["answer"] < len(choices)):
                problems.append(f"{qid}: field {name!r} needs the index of its right choice as 'answer'")
        elif name not in given and f.get("answer") in (None, ""):
            problems.append(f"{qid}: field {name!r} needs an 'answer' (or a task that gives it)")
    return problems


# ---------------------------------------------------------------- can a test-wise strategy beat the bank?

_STOPWORDS = frozenset(re.findall(r"\S+", """a an the and or but nor of to in on at by for from with without into onto over
under about as than then that this these those it its it's is are was were be been being do does did has have had can could
may might must shall should will would not no yes so such which what who whom whose when where why how all any each every
some most more less only own same other their them they there he she his her you your we our us i me my one"""))
EXACT_ORDERS = 8  # the expected credit of a random order is enumerated exactly up to this many steps, sampled above
ORDER_SAMPLES = 20_000  # random orders sampled (seeded) for a question with more steps than EXACT_ORDERS


def _stem_words(text: str) -> set[str]:
    """The content words of a text, lower case, with a plural or possessive s taken off."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'s", ""))
    return {w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
            for w in words if w not in _STOPWORDS}


def _shared(text: str, context: set[str]) -> int:
    """How many content words a text shares with a context (a set of content words)."""
    return len(_stem_words(text) & context)


def _share_if_picked(values: list[float], key: int) -> float:
    """The expected score of picking the option with the largest value, ties broken at random."""
    best = max(values)
    tied = [i for i, v in enumerate(values) if v == best]
    return (key in tied) / len(tied)


def _top_k(values: list[float], right: set[int]) -> tuple[float, float]:
    """Pick the k = len(right) options with the largest values, ties at the cut broken at random: (the chance of
    picking exactly the right ones, the expected share of the right ones picked)."""
    k = len(right)
    cut = sorted(values, reverse=True)[k - 1]
    above = {i for i, v in enumerate(values) if v > cut}
    tied = {i for i, v in enumerate(values) if v == cut}
    draw = k - len(above)  # how many of the tied options are picked, at random
    solved = 1 / math.comb(len(tied), draw) if above <= right and right - above <= tied else 0.0
    hits = len(above & right) + draw * len(tied & right) / len(tied)
    return solved, hits / k


def _mean(values: list[float]) -> float:
    """The mean of a list, 0 for an empty one."""
    return sum(values) / len(values) if values else 0.0


def _single_figures(questions: list[dict]) -> dict:
    """Single-answer questions: the longest option, the option most like the stem, where the key is stored."""
    longest, overlap, positions = [], [], {}
    for q in questions:
        key = next(i for i, o in enumerate(q["options"]) if o["correct"])
        longest.append(_share_if_picked([len(o["text"]) for o in q["options"]], key))
        stem = _stem_words(q["stem"])
        overlap.append(_share_if_picked([_shared(o["text"], stem) for o in q["options"]], key))
        positions[key] = positions.get(key, 0) + 1
    n = len(questions) or 1
    return {"questions": len(questions), "chance": _mean([1 / len(q["options"]) for q in questions]),
            "longest": _mean(longest), "overlap": _mean(overlap),
            "positions": {k: positions[k] / n for k in sorted(positions)}}


def _multiple_figures(questions: list[dict]) -> dict:
    """Multiple-answer questions, the number of right options known: the k longest, the k shortest, the k nearest the
    median length, the k most like the stem; each as a full-solve rate and as the share of right options picked."""
    rows: dict[str, list[float]] = {}
    for q in questions:
        right, options = correct_options(q), q["options"]
        stem = _stem_words(q["stem"])
        lengths = [len(o["text"]) for o in options]
        middle = sorted(lengths)[len(lengths) // 2]
        strategies = {"longest": lengths, "shortest": [-n for n in lengths],
                      "middle": [-abs(n - middle) for n in lengths],
                      "overlap": [_shared(o["text"], stem) for o in options]}
        for name, values in strategies.items():
            solved, hits = _top_k(values, right)
            rows.setdefault(name, []).append(solved)
            rows.setdefault(f"{name}_hits", []).append(hits)
        rows.setdefault("chance", []).append(1 / math.comb(len(options), len(right)))
        rows.setdefault("chance_hits", []).append(len(right) / len(options))
    names = ("chance", "chance_hits", "longest", "longest_hits", "shortest", "shortest_hits", "middle", "middle_hits",
             "overlap", "overlap_hits")
    return {"questions": len(questions), **{name: _mean(rows.get(name, [])) for name in names}}


def _steps_to_move(chosen: list[int]) -> int:
    """How many steps an order must move to be right: the steps outside a longest run it keeps in order."""
    tails: list[int] = []
    for step in chosen:
        at = bisect.bisect_left(tails, step)
        tails[at:at + 1] = [step]
    return len(chosen) - len(tails)


@lru_cache(maxsize=None)
def random_order_credit(n: int) -> float:
    """The credit a uniformly random order of n steps earns on average: exact (every order) up to EXACT_ORDERS steps,
    a seeded sample of ORDER_SAMPLES orders above."""
    if n <= EXACT_ORDERS:
        orders = itertools.permutations(range(n))
        return _mean([ordering_credit(list(order)) for order in orders])
    rng = random.Random(f"random-order/{n}")
    return _mean([ordering_credit(rng.sample(range(n), n)) for _ in range(ORDER_SAMPLES)])


def _summary(rows: dict[str, dict[str, float]], count: str = "questions") -> dict:
    """Per-question figures -> their means, the largest of each ('worst_<name>') and the rows ('by_question')."""
    names = list(next(iter(rows.values()), {}))
    means = {name: _mean([row[name] for row in rows.values()]) for name in names}
    worst = {f"worst_{name}": max(row[name] for row in rows.values()) for name in names if rows}
    return {count: len(rows), **means, **worst, "by_question": rows}


def _ordering_figures(questions: list[dict]) -> dict:
    """Ordering questions: a random order, the order as shown, the order as shown read backwards."""
    rows = {}
    for q in questions:
        shown = display_order(q)
        rows[q["id"]] = {"random": random_order_credit(len(shown)), "shown": ordering_credit(shown),
                         "reversed": ordering_credit(shown[::-1])}
    return _summary(rows)


def _matching_figures(questions: list[dict]) -> dict:
    """Matching questions: each item given the choice most like it, the items matched to the choices as shown, and
    the distractors ruled out as the choices least like the stem and the items."""
    rows = {}
    for q in questions:
        choices, pairs = match_choices(q), q["pairs"]
        shown = choice_order(q)
        context = _stem_words(" ".join([q["stem"], *(p["item"] for p in pairs)]))
        distractors = set(range(len(pairs), len(choices)))
        rows[q["id"]] = {
            "chance": 1 / len(choices),
            "overlap": _mean([_share_if_picked([_shared(c, _stem_words(p["item"])) for c in choices], i)
                              for i, p in enumerate(pairs)]),
            "shown": _mean([float(shown[i] == i) for i in range(len(pairs))]),
            "eliminated": _top_k([-_shared(c, context) for c in choices], distractors)[1],
            "chance_eliminated": len(distractors) / len(choices)}
    return _summary(rows)


def _choice_field_figures(questions: list[dict]) -> dict:
    """The choice fields of performance-based questions: the longest choice, the choice most like the prompt and
    the stem, the choice shown first."""
    rows: dict[str, list[float]] = {"chance": [], "longest": [], "overlap": [], "first_shown": []}
    fields = 0
    for q in questions:
        for f in q.get("fields", []):
            if f.get("kind") != "choice" or not isinstance(f.get("answer"), int):
                continue
            fields += 1
            choices, key = f["choices"], f["answer"]
            context = _stem_words(q["stem"] + " " + f["prompt"])
            rows["chance"].append(1 / len(choices))
            rows["longest"].append(_share_if_picked([len(c) for c in choices], key))
            rows["overlap"].append(_share_if_picked([_shared(c, context) for c in choices], key))
            rows["first_shown"].append(float(field_choice_order(q, f)[0] == key))
    return {"fields": fields, **{name: _mean(values) for name, values in rows.items()}}


def gaming_figures(questions: list[dict]) -> dict:
    """How far a test-wise guesser gets in every format without knowing anything: the expected score of each
    strategy, next to what blind chance earns.

    Ties are shared out (a guesser picks among equally good-looking options at random), so every figure is an
    exact expectation; only a random order of more than EXACT_ORDERS steps is sampled (seeded).

    Parameters
    ----------
    questions : list of dict
        Questions as `load_questions` returns them, any mix of formats; each format is scored on its own
        questions (a format with none reports 0 questions and zero scores).

    Returns
    -------
    figures : dict
        One dict per format, every score a share from 0 to 1:

        - ``"single"``: ``questions``; ``chance``; ``longest`` (always pick the longest option); ``overlap`` (pick
          the option sharing most content words with the stem); ``positions`` (stored key position -> share of
          questions).
        - ``"multiple"``: ``questions``; with the number k of right options known (told by "Choose TWO", given to
          the guesser for "all that apply" too): ``longest``, ``shortest``, ``middle`` and ``overlap`` (pick the k
          longest, the k shortest, the k nearest the median length, or the k most like the stem) as the share of
          questions fully solved, and ``*_hits`` as the share of right options picked; ``chance`` and
          ``chance_hits`` for k options picked at random.
        - ``"ordering"``: ``questions``; the mean credit (`ordering_credit`) of ``random`` (a uniformly random
          order, exact expectation), ``shown`` (the steps submitted in the order they are shown) and ``reversed``
          (that order backwards).
        - ``"matching"``: ``questions``; ``chance`` (share of items a random one-to-one matching gets right);
          ``overlap`` (each item given the choice sharing most content words with it); ``shown`` (item k matched
          with the k-th choice shown); ``eliminated`` (share of the distractors among the choices sharing fewest
          words with the stem and the items) and ``chance_eliminated`` (the same for a random pick).

        Ordering and matching also give, for each figure, ``worst_<name>`` (its largest value over the questions)
        and ``by_question`` (question id -> that question's figures).
        - ``"choices"``: the choice fields of performance-based questions: ``fields``; ``chance``; ``longest``;
          ``overlap`` (with the stem and the field's prompt); ``first_shown`` (the choice shown first).
    """
    by_format = {fmt: [q for q in questions if q.get("format") == fmt]
                 for fmt in ("single", "multiple", "ordering", "matching")}
    return {"single": _single_figures(by_format["single"]), "multiple": _multiple_figures(by_format["multiple"]),
            "ordering": _ordering_figures(by_format["ordering"]), "matching": _matching_figures(by_format["matching"]),
            "choices": _choice_field_figures([q for q in questions if q.get("format") == "fields"])}


# ---------------------------------------------------------------- grading

def grade_card(card: dict, choice: str | None) -> Feedback:
    """Feedback on sorting one scenario card into a threat."""
    if choice is None:
        return Feedback(False, "Pick the threat this scenario describes.", answered=False)
    if choice not in THREATS:
        raise ValueError(f"{choice!r} is not one of the threats: {', '.join(THREATS)}.")
    if choice == card["answer"]:
        return Feedback(True, f"Correct: {card['answer']}. {card['explanation']}")
    return Feedback(False, f"Not {choice}: this is {card['answer']}. {card['explanation']}")


def drill_score(answers: dict[str, str | None], cards: list[dict]) -> tuple[int, int]:
    """(correct, answered) over the cards the learner has sorted so far."""
    by_id = {c["id"]: c for c in cards}
    answered = {k: v for k, v in answers.items() if v is not None and k in by_id}
    return sum(by_id[k]["answer"] == v for k, v in answered.items()), len(answered)


def correct_options(question: dict) -> set[int]:
    """Indices of the options marked correct (single and multiple answer questions)."""
    return {i for i, o in enumerate(question.get("options", [])) if o["correct"]}


def _fixed_permutation(n: int, key: str) -> list[int]:
    """A fixed random order of range(n) for a key (a question id): the same on every machine and run.

    Seeded from SHA-256 of the key, not Python's hash(), which is salted per process.
    """
    rng = random.Random(int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:16], 16))
    order = list(range(n))
    rng.shuffle(order)
    return order


def option_order(question: dict) -> list[int]:
    """The order a single- or multiple-answer question shows its options in: a fixed shuffle per question id.

    Position k on screen (letter chr(65 + k)) shows question["options"][option_order(question)[k]]. Grading
    always works on the stored indices, so an answer means the same option wherever it is shown.
    """
    return _fixed_permutation(len(question.get("options", [])), question["id"] + "/options")


def _seeded_shuffle(n: int, key: str) -> list[int]:
    """A fixed shuffle of range(n) for one question id, never the identity when n > 1."""
    rng = random.Random(int(hashlib.sha1(key.encode()).hexdigest()[:12], 16))
    order = list(range(n))
    while n > 1 and order == list(range(n)):
        rng.shuffle(order)
    return order


def far_from_the_key(order: list[int]) -> bool:
    """Is a shown order of steps no help to a guesser? It earns no credit as shown or read backwards, and no step is
    shown in its own place."""
    return (ordering_credit(order) == 0 and ordering_credit(order[::-1]) == 0
            and all(step != place for place, step in enumerate(order)))


def display_order(question: dict) -> list[int]:
    """The order an ordering question shows its steps in (indices into 'steps', which are stored in the right order):
    a fixed shuffle per question id, far from the key (`far_from_the_key`) whenever the number of steps allows it."""
    n = len(question["steps"])
    rng = random.Random(int(hashlib.sha1(question["id"].encode()).hexdigest()[:12], 16))
    order = list(range(n))
    for _ in range(10_000):
        rng.shuffle(order)
        if far_from_the_key(order):
            return order
    return _seeded_shuffle(n, question["id"])  # too few steps to be far (check_question asks for ORDERING_STEPS)


def match_choices(question: dict) -> list[str]:
    """A matching question's right-hand choices: every pair's match, then the distractors (the canonical indices)."""
    return [p["match"] for p in question["pairs"]] + [d["text"] for d in question.get("distractors", [])]


def choice_order(question: dict) -> list[int]:
    """The order a matching question shows its right-hand choices in (indices into match_choices): a fixed shuffle
    per question id in which no item's match is shown level with the item (matching item k with the k-th choice
    shown earns nothing)."""
    n, items = len(match_choices(question)), len(question["pairs"])
    rng = random.Random(int(hashlib.sha1((question["id"] + "/choices").encode()).hexdigest()[:12], 16))
    order = list(range(n))
    for _ in range(10_000):
        rng.shuffle(order)
        if all(order[k] != k for k in range(min(items, n))):
            return order
    return _seeded_shuffle(n, question["id"] + "/choices")


def _grade_options(question: dict, chosen) -> Feedback:
    if chosen is None or chosen == () or chosen == set() or chosen == []:
        return Feedback(False, "Choose an answer first.", answered=False)
    chosen = {chosen} if isinstance(chosen, int) else set(chosen)
    bad = [i for i in chosen if not 0 <= i < len(question["options"])]
    if bad:
        raise ValueError(f"Option {bad[0]} does not exist: the question has options 0..{len(question['options']) - 1}.")
    right = correct_options(question)
    lines = ["Correct." if chosen == right else "Not quite."]
    for k, i in enumerate(option_order(question)):  # in the order, and with the letters, the learner saw
        option = question["options"][i]
        mark = "✔" if option["correct"] else "✘"
        picked = " (your choice)" if i in chosen and len(right) > 1 else ""
        lines.append(f"{mark} {chr(65 + k)}. {option['text']}{picked} — {option['explanation']}")
    return Feedback(chosen == right, "\n".join(lines))


def steps_in_order(chosen: list[int]) -> set[int]:
    """The steps already in the right order relative to each other: a longest run of steps, not necessarily
    adjacent, that the answer puts in their right order. The others are the steps to move.

    Position alone would be unfair: an answer that moves the last step to the front has the other steps in order,
    one place late each; they count. Ties go to the run that keeps the earlier steps.
    """
    n = len(chosen)
    best = [1] * n  # best[i]: the longest run ending at position i
    before = [-1] * n
    for i in range(n):
        for j in range(i):
            if chosen[j] < chosen[i] and best[j] + 1 > best[i]:
                best[i], before[i] = best[j] + 1, j
    if not n:
        return set()
    i = max(range(n), key=lambda k: (best[k], -chosen[k]))
    kept = set()
    while i != -1:
        kept.add(chosen[i])
        i = before[i]
    return kept


def ordering_allowance(n: int) -> int:
    """How many steps to move cost an ordering answer the whole mark: half the steps, rounded down (at least 1)."""
    return max(1, n // 2)


def ordering_credit(chosen: list[int]) -> float:
    """The share of the mark an order of steps earns: 1 - moves / h, never below 0.

    moves: the steps to move to make the order right (those outside a longest run the answer keeps in their right
    order, `steps_in_order`); h = `ordering_allowance(n)`, half the n steps rounded down. The right order earns 1;
    one step out of place earns 1 - 1/h (0.5 of 5 steps, 0.67 of 6 or 7, 0.75 of 8), so a learner who knows most of
    the order keeps most of the mark; h steps or more out of place earn nothing, so a random order of 5 to 8 steps
    earns 0.03 to 0.11 on average (a longest-run share would give it about 0.5).
    """
    n = len(chosen)
    return max(0.0, 1 - _steps_to_move(list(chosen)) / ordering_allowance(n)) if n else 0.0


def ordering_rule(n: int) -> str:
    """The partial-credit rule in words, for the feedback: 'each step out of place costs 1/3 of the mark; ...'."""
    h = ordering_allowance(n)
    return (f"each step out of place costs 1/{h} of the mark; {h} or more out of place earn nothing" if h > 1 else
            "all or nothing")


def _grade_ordering(question: dict, chosen) -> Feedback:
    steps = question["steps"]
    chosen = list(chosen or [])
    if len(chosen) != len(steps) or any(c is None for c in chosen):
        return Feedback(False, f"Put all {len(steps)} steps in order first.", answered=False)
    if any(not 0 <= c < len(steps) for c in chosen):
        raise ValueError(f"An ordering answer lists every step once, as numbers 0..{len(steps) - 1}; got {chosen}.")
    if len(set(chosen)) != len(steps):
        return Feedback(False, "Use each step once: one of them is in two positions.", answered=False)
    kept = steps_in_order(chosen)
    right = chosen == list(range(len(steps)))
    moved, credit = len(steps) - len(kept), ordering_credit(chosen)
    where = (f"{len(kept)} of {len(steps)} steps in the right order; the {moved} marked ✘ "
             f"{'is' if moved == 1 else 'are'} out of place")
    lines = ["Correct." if right else
             f"Partly right: {where}. Credit {number_text(credit)} of the mark ({ordering_rule(len(steps))})."
             if credit > 0 else f"Not quite: {where}. No credit ({ordering_rule(len(steps))}).",
             "The right order:"]
    for i, step in enumerate(steps):
        where = f" (you put it at {chosen.index(i) + 1})" if chosen.index(i) != i else ""
        lines.append(f"{'✔' if i in kept else '✘'} {i + 1}. {step['text']}{where} — {step['explanation']}")
    return Feedback(right, "\n".join(lines), score=credit)


def _grade_matching(question: dict, chosen) -> Feedback:
    pairs, choices = question["pairs"], match_choices(question)
    if isinstance(chosen, dict):
        chosen = [chosen.get(i) for i in range(len(pairs))]
    chosen = list(chosen or [])
    if len(chosen) != len(pairs) or any(c is None for c in chosen):
        return Feedback(False, f"Match all {len(pairs)} items first.", answered=False)
    bad = [c for c in chosen if not 0 <= c < len(choices)]
    if bad:
        raise ValueError(f"Choice {bad[0]} does not exist: the question has choices 0..{len(choices) - 1}.")
    twice = sorted({choices[c] for c in chosen if chosen.count(c) > 1})
    if twice:
        return Feedback(False, f"Use each choice once: {twice[0]!r} is matched to more than one item.", answered=False)
    hits = sum(c == i for i, c in enumerate(chosen))
    right = hits == len(pairs)
    lines = ["Correct." if right else f"Partly right: {hits} of {len(pairs)} matched correctly. "
                                      f"Credit {marks_text(hits, len(pairs))}."]
    for i, pair in enumerate(pairs):
        mine = "" if chosen[i] == i else f" (you chose: {choices[chosen[i]]})"
        lines.append(f"{'✔' if chosen[i] == i else '✘'} {pair['item']} → {pair['match']}{mine} — {pair['explanation']}")
    for d in question.get("distractors", []):
        lines.append(f"✘ Matches nothing: {d['text']} — {d['explanation']}")
    return Feedback(right, "\n".join(lines), score=hits / len(pairs))


def field_choice_order(question: dict, field: dict) -> list[int]:
    """The order a choice field shows its choices in: a fixed shuffle per question id and field name."""
    return _fixed_permutation(len(field.get("choices", [])), f"{question['id']}/{field['name']}")


def field_answers(question: dict) -> dict:
    """Each field's right answer: a choice index, a text or a number (from the question, or from its task)."""
    answers = {f["name"]: f.get("answer") for f in question.get("fields", [])}
    if question.get("task"):
        from .pbq import task_for

        answers |= task_for(question).answers()
    return answers


def _normalise(kind: str, value):
    """A typed answer as it is compared: text without case or surrounding space, numbers as numbers."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "number":
        try:
            number = float(str(value).strip().lstrip("#"))
        except ValueError:
            return str(value).strip()
        return int(number) if number.is_integer() else number
    if kind == "text":
        return " ".join(str(value).split()).lower()
    return value


def _grade_fields(question: dict, chosen) -> Feedback:
    fields = question["fields"]
    given = dict(chosen or {}) if isinstance(chosen, dict) else dict(zip([f["name"] for f in fields], chosen or []))
    if all(_normalise(f["kind"], given.get(f["name"])) is None for f in fields):
        return Feedback(False, f"Fill in the {len(fields)} answers first (a blank one earns no mark).", answered=False)
    right = field_answers(question)
    facts = {}
    if question.get("task"):
        from .pbq import task_for

        facts = task_for(question).facts()
    hits, lines = 0, []
    for f in fields:
        mine, want = _normalise(f["kind"], given.get(f["name"])), right[f["name"]]
        if f["kind"] == "choice":
            if mine is not None and not (isinstance(mine, int) and 0 <= mine < len(f["choices"])):
                raise ValueError(f"Field {f['name']!r} has choices 0..{len(f['choices']) - 1}; got {mine!r}.")
            good = mine == want
            shown_mine = "nothing" if mine is None else f["choices"][mine]
            shown_want = f["choices"][want]
        else:
            good = mine is not None and mine == _normalise(f["kind"], want)
            shown_mine = "nothing" if mine is None else str(given.get(f["name"])).strip()
            shown_want = str(want)
        hits += good
        told = "" if good else f" (you answered: {shown_mine})"
        why = f["explanation"].format_map(facts) if facts else f["explanation"]
        lines.append(f"{'✔' if good else '✘'} {f['prompt']}: {shown_want}{told} — {why}")
    done = hits == len(fields)
    head = "Correct." if done else f"Partly right: {marks_text(hits, len(fields))}." if hits else \
        f"Not quite: 0 of {len(fields)} marks."
    return Feedback(done, "\n".join([head, *lines]), score=hits / len(fields))


def _grade_policy(question: dict, chosen) -> Feedback:
    """One mark per requirement met, measured by running ordinary traffic and the attacks against the policy."""
    if chosen is None or chosen == {}:
        return Feedback(False, "Write the policy first.", answered=False)
    from .pbq import task_for

    try:
        checks = task_for(question).measure(chosen)
    except ValueError as exc:
        return Feedback(False, f"The policy cannot be used: {exc}", answered=False)
    met = sum(c.met for c in checks.values())
    total = len(question["requirements"])
    lines = ["Correct: every requirement met." if met == total else f"Partly right: {marks_text(met, total)}."
             if met else f"Not quite: 0 of {total} marks."]
    for r in question["requirements"]:
        c = checks[r["name"]]
        lines.append(f"{'✔' if c.met else '✘'} {r['text']} Measured: {c.measured}. — {r['explanation']}")
    return Feedback(met == total, "\n".join(lines), score=met / total)


def gateway_check(question_id: str, policy, detector: str | None = None) -> Feedback:
    """Grade a gateway policy from a notebook: a spec dict like the question's template, or an AccessPolicy (with
    detector='adaptive' if wanted). Runs the day's traffic and the attacks against it: a few seconds."""
    question = next((q for q in load_questions() if q["id"] == question_id), None)
    if question is None or question["format"] != "policy":
        raise ValueError(f"{question_id!r} is not a gateway question; they are: "
                         + ", ".join(q["id"] for q in load_questions() if q["format"] == "policy"))
    return grade_question(question, (policy, detector) if detector else policy)


def grade_question(question: dict, chosen) -> Feedback:
    """Feedback on one answer, with every option's explanation.

    chosen: an option index or a set of them, as stored in question["options"] (single, multiple; the learner
    saw them in option_order(question)); the step indices in the learner's order
    (ordering); for each item, the index of the chosen match in match_choices(question) (matching); field name ->
    answer, a choice field's answer being the stored choice index (fields); a policy spec or an AccessPolicy (policy).
    Partial credit, where the format has it, is in the feedback's `score` (0 to 1) and in its first line.
    """
    fmt = question["format"]
    if fmt in ("single", "multiple"):
        return _grade_options(question, chosen)
    if fmt == "ordering":
        return _grade_ordering(question, chosen)
    if fmt == "matching":
        return _grade_matching(question, chosen)
    if fmt == "fields":
        return _grade_fields(question, chosen)
    if fmt == "policy":
        return _grade_policy(question, chosen)
    raise ValueError(f"Unknown question format {fmt!r}: valid formats are {', '.join(FORMATS)}.")


def right_answer(question: dict):
    """The right answer to a question, as grade_question takes it (a policy question has none: a policy is graded
    by running it, and many policies pass)."""
    fmt = question["format"]
    if fmt in ("single", "multiple"):
        right = correct_options(question)
        return next(iter(right)) if fmt == "single" else right
    if fmt == "ordering":
        return list(range(len(question["steps"])))
    if fmt == "matching":
        return list(range(len(question["pairs"])))
    if fmt == "fields":
        return field_answers(question)
    return None


def unanswered_feedback(question: dict) -> Feedback:
    """What the end of a mock exam shows for a question left unanswered: the right answer and every explanation."""
    if question["format"] == "policy":
        lines = ["Not answered. What each requirement needs:"]
        lines += [f"✘ {r['text']} — {r['explanation']}" for r in question["requirements"]]
        return Feedback(False, "\n".join(lines), score=0.0)
    text = grade_question(question, right_answer(question)).message
    heading = "Not answered." if question["format"] == "ordering" else "Not answered. The right answer:"
    return Feedback(False, text.replace("Correct.", heading, 1), score=0.0)


# ---------------------------------------------------------------- plain text (terminal, static viewers)

def answer_hint(question: dict) -> str:
    """How to type an answer to this question in a terminal."""
    fmt = question["format"]
    if fmt == "single":
        return "type one letter, e.g. B"
    if fmt == "multiple":
        n = declared_choices(question)
        return f"type {n} letters, e.g. A C" if n else "type every letter that applies, e.g. A C D"
    if fmt == "ordering":
        return "type the letters in the right order, e.g. C A D B"
    if fmt == "fields":
        return "type the answers in field order, separated by ';', a choice by its letter, e.g. abc; 12; B; A"
    if fmt == "policy":
        return "type the policy as one line of JSON, starting from the template above"
    return "type one letter per item, in item order, e.g. B D A C (or 1B 2D 3A 4C); each choice once"


def question_text(question: dict, number: int = 1, prepare: bool = True) -> str:
    """The question as plain text, without its answers (prepare=False: a task's materials are named, not built)."""
    fmt = question["format"]
    tag = " [best control]" if question.get("style") == "best-control" else ""
    lines = [f"Q{number}.{tag} {question['stem']}"]
    if fmt in ("single", "multiple"):
        lines += [f"  {chr(65 + k)}. {question['options'][i]['text']}" for k, i in enumerate(option_order(question))]
    elif fmt == "ordering":
        lines += [f"  {chr(65 + k)}. {question['steps'][i]['text']}" for k, i in enumerate(display_order(question))]
    elif fmt in TASK_FORMATS:
        if question.get("task"):
            from .pbq import task_for

            lines += ["  " + line if line else "" for line in task_for(question).brief(prepare).splitlines()]
        if fmt == "policy":
            import json

            lines.append("  Requirements (one mark each):")
            lines += [f"  {k + 1}. {r['text']}" for k, r in enumerate(question["requirements"])]
            lines.append("  The policy the gateway has now (edit it): " + json.dumps(question["template"]))
        else:
            for k, f in enumerate(question["fields"], 1):
                lines.append(f"  {k}. {field_text(question, f)}")
    else:
        choices = match_choices(question)
        lines += [f"  {i + 1}. {p['item']}" for i, p in enumerate(question["pairs"])]
        lines.append("  Choices:")
        lines += [f"  {chr(65 + k)}. {choices[i]}" for k, i in enumerate(choice_order(question))]
    lines.append(f"  ({answer_hint(question)})")
    return "\n".join(lines)


def field_text(question: dict, field: dict) -> str:
    """A field's prompt with its choices as lettered in the shuffle shown ('... (A. faces, B. patients)')."""
    if field["kind"] != "choice":
        return f"{field['prompt']} ({'a number' if field['kind'] == 'number' else 'type it'})"
    shown = field_choice_order(question, field)
    return f"{field['prompt']}: " + "; ".join(f"{chr(65 + k)}. {field['choices'][i]}" for k, i in enumerate(shown))


def parse_field(question: dict, field: dict, text: str):
    """One field's typed answer: a choice by its letter (the stored index), a number, or a text; ValueError says how."""
    text = str(text).strip()
    if not text:
        return None
    if field["kind"] == "choice":
        letters = [chr(65 + k) for k in range(len(field["choices"]))]
        if text.upper() not in letters:
            raise ValueError(f"Answer {field['prompt'].lower()} with one letter, {letters[0]}-{letters[-1]}.")
        return field_choice_order(question, field)[ord(text.upper()) - 65]
    if field["kind"] == "number":
        try:
            number = float(text.lstrip("#"))
        except ValueError:
            raise ValueError(f"Answer {field['prompt'].lower()} with a number, e.g. 42.") from None
        return int(number) if number.is_integer() else number
    return text


def parse_answer(question: dict, text: str):
    """A typed answer ('B', 'A C', 'C A D B', '1B 2A') as grade_question expects it; ValueError says how to type it.

    A fields question takes its answers in field order, separated by ';' ('clinician-2; 412; A; C'); a policy
    question takes one line of JSON.
    """
    fmt = question["format"]
    if fmt == "fields":
        parts = str(text).split(";")
        if len(parts) != len(question["fields"]):
            raise ValueError(f"Give the {len(question['fields'])} answers in order, separated by ';'.")
        return {f["name"]: parse_field(question, f, part) for f, part in zip(question["fields"], parts)}
    if fmt == "policy":
        import json

        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"The policy must be one line of JSON ({exc.msg} at character {exc.pos}).") from None
        from .pbq import policy_from_spec

        policy_from_spec(spec)  # ValueError says what is wrong
        return spec
    tokens = re.findall(r"[0-9]+\s*[A-Za-z]|[A-Za-z]", text.upper())
    letters = [t[-1] for t in tokens]
    size = {"single": len(question.get("options", [])), "multiple": len(question.get("options", [])),
            "ordering": len(question.get("steps", [])), "matching": len(question.get("distractors", [])) + len(question.get("pairs", []))}[fmt]
    valid = [chr(65 + i) for i in range(size)]
    if not letters or any(ch not in valid for ch in letters):
        raise ValueError(f"Answer with the letters {valid[0]}-{valid[-1]}: {answer_hint(question)}.")
    picked = [ord(ch) - 65 for ch in letters]
    if fmt == "single":
        if len(picked) != 1:
            raise ValueError("One answer only: type a single letter.")
        return option_order(question)[picked[0]]
    if fmt == "multiple":
        shown = option_order(question)
        return {shown[p] for p in picked}
    if fmt == "ordering":
        order = display_order(question)
        if sorted(picked) != list(range(size)):
            raise ValueError(f"List every step once ({len(valid)} letters): {answer_hint(question)}.")
        return [order[p] for p in picked]
    n_items = len(question["pairs"])
    order = choice_order(question)
    numbered = [t for t in tokens if t[0].isdigit()]
    if numbered:
        slots = {int(t[:-1].strip()) - 1: order[ord(t[-1]) - 65] for t in numbered}
        if sorted(slots) != list(range(n_items)):
            raise ValueError(f"Give one letter for each item 1-{n_items}, e.g. 1B 2D.")
        if len(set(slots.values())) != n_items:
            raise ValueError("Use each choice once: one letter is given to two items.")
        return [slots[i] for i in range(n_items)]
    if len(picked) != n_items:
        raise ValueError(f"Give one letter for each of the {n_items} items, in item order.")
    if len(set(picked)) != len(picked):
        raise ValueError("Use each choice once: one letter is given to two items.")
    return [order[p] for p in picked]


# ---------------------------------------------------------------- picking questions

def _history_rank(qid: str, history: dict | None) -> int:
    """0 last answer wrong (it comes back first), 1 never answered, 2 last answer right."""
    record = (history or {}).get(qid)
    if not record:
        return 1
    return 2 if record.get("last_correct") else 0


def pick_questions(pool: list[dict], n: int, history: dict | None = None, seed: int = 0,
                   spread: str = "concepts") -> list[dict]:
    """n questions from pool: missed ones first, then unseen ones, covering as many concepts (or topics) as possible."""
    if not pool:
        raise ValueError("No questions to pick from: check the lab number or topic.")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"The number of questions must be a whole number, 1 or more (got {n!r}).")
    if spread not in ("concepts", "topics"):
        raise ValueError(f"spread must be 'concepts' or 'topics' (got {spread!r}).")
    rng = random.Random(seed)
    tiebreak = {q["id"]: rng.random() for q in sorted(pool, key=lambda q: q["id"])}
    covered, chosen, rest = set(), [], list(pool)
    while rest and len(chosen) < n:
        def key(q):
            tags = question_topics(q) if spread == "topics" else question_concepts(q)
            return (_history_rank(q["id"], history), -len(tags - covered), tiebreak[q["id"]])
        best = min(rest, key=key)
        rest.remove(best)
        chosen.append(best)
        covered |= question_topics(best) if spread == "topics" else question_concepts(best)
        if spread == "topics" and all(question_topics(q) <= covered for q in rest):
            covered = set()  # every topic seen once: start another round
    return chosen


def quick_check_questions(lab: str | int, n: int = 4, history: dict | None = None, seed: int = 0) -> list[dict]:
    """The end-of-lab quick check: n questions tagged with this lab (missed and unseen ones first; PBQs and the
    pre/post check's questions left out)."""
    number = lab_number(lab)
    held_out = check_ids()  # the pre/post check's questions: not practised during the day
    pool = [q for q in load_questions(lab=number) if not is_performance_based(q) and q["id"] not in held_out]
    if not pool:
        raise ValueError(f"The bank has no questions for lab {number} yet: add some to data/questions/lab{number}.json.")
    return pick_questions(pool, n, history, seed)


def kit_mentions(question: dict) -> list[str]:
    """Words in a question's stem or answers that tie it to this kit or to research trivia ('lab 03', 'the seed',
    'et al.', '(2015)'); [] when there are none."""
    texts = [question.get("stem", "")] + [o.get("text", "") for o in question.get("options", [])]
    texts += [s.get("text", "") for s in question.get("steps", [])]
    texts += [t for p in question.get("pairs", []) for t in (p.get("item", ""), p.get("match", ""))]
    texts += [d.get("text", "") for d in question.get("distractors", [])]
    return [m.group(0) for t in texts for m in KIT_WORDS.finditer(t)]


def in_mock_exam(question: dict) -> bool:
    """May the mock exam ask this question? Not when it is marked "mock_exam": false (kit-specific: a library,
    an HTTP status code, a lab's own numbers or design; or research trivia: a paper's attack, a formula's constants);
    such a question stays in its lab's quick check."""
    return question.get("mock_exam", True) is not False


def mock_exam_pool(topic: str | None = None) -> list[dict]:
    """Every question a mock exam (or the whole-bank terminal quiz) may ask, optionally of one topic or concept; the
    pre/post check's questions are held out."""
    held_out = check_ids()
    return [q for q in load_questions(topic=topic) if in_mock_exam(q) and q["id"] not in held_out]


def is_performance_based(question: dict) -> bool:
    """A performance-based question (PBQ): a task on the kit's artefacts, or an ordering or matching task marked
    "pbq": true; all are graded with partial credit."""
    return question.get("pbq") is True or question.get("format") in TASK_FORMATS


# ---------------------------------------------------------------- sessions, scores and what to review

@dataclass
class TopicScore:
    """Marks earned, questions asked and marks possible in one topic."""

    topic: str
    title: str
    right: float  # marks earned, with partial credit (weighted, when the questions carry weights)
    asked: int
    possible: float | None = None  # marks possible: the questions' weights added up; None: one mark a question

    @property
    def marks(self) -> float:
        """The marks this topic's questions were worth."""
        return float(self.asked) if self.possible is None else self.possible

    @property
    def share(self) -> float:
        """Share of this topic's marks earned (0 when none were asked)."""
        return self.right / self.marks if self.marks else 0.0


@dataclass
class ReviewItem:
    """A lab to go back to, the concepts missed there and the questions that showed it."""

    lab: str
    notebook: str
    concepts: list[str]
    question_ids: list[str]

    def text(self) -> str:
        """'Lab 03 (03_face_reconstruction.ipynb): white-box vs black-box — 1 question missed'."""
        n, shown = len(self.question_ids), self.concepts[:5]
        more = f" and {len(self.concepts) - 5} more" if len(self.concepts) > 5 else ""
        return (f"Lab {self.lab} ({self.notebook}): {', '.join(shown) or 'the whole lab'}{more} — "
                f"{n} question{'s' if n != 1 else ''} missed")


def score_by_topic(questions: list[dict], right: dict[str, float],
                   weights: dict[str, float] | None = None) -> list[TopicScore]:
    """For every topic the questions touch: the marks earned (a share of a question's marks for partial credit;
    unanswered counts as none). weights: question id -> marks it is worth (the mock exam's); default one each."""
    titles, rows = topic_titles(), {}
    for q in questions:
        worth = 1.0 if weights is None else float(weights.get(q["id"], 1))
        for topic in sorted(question_topics(q)):
            row = rows.setdefault(topic, TopicScore(topic, titles.get(topic, topic), 0, 0,
                                                    None if weights is None else 0.0))
            row.asked += 1
            row.right += worth * float(right.get(q["id"]) or 0)
            if weights is not None:
                row.possible += worth
    return [rows[k] for k in titles if k in rows]


def review_list(questions: list[dict], right: dict[str, float]) -> list[ReviewItem]:
    """The labs to review, in lab order, with the concepts of the questions not answered fully right."""
    items: dict[str, ReviewItem] = {}
    counts: dict[str, dict[str, int]] = {}
    for q in questions:
        if float(right.get(q["id"]) or 0) >= 1:
            continue
        item = items.setdefault(q["lab"], ReviewItem(q["lab"], LAB_NOTEBOOKS.get(q["lab"], "?"), [], []))
        item.question_ids.append(q["id"])
        for concept in question_concepts(q):
            counts.setdefault(q["lab"], {})[concept] = counts.get(q["lab"], {}).get(concept, 0) + 1
    for lab, item in items.items():  # the concepts missed most often first
        item.concepts = sorted(counts.get(lab, {}), key=lambda c: (-counts[lab][c], c))
    return [items[k] for k in sorted(items)]


@dataclass
class ExamResult:
    """The outcome of a quiz session: score (partial credit included), score by topic, labs to review, time used.

    A mock exam weighs its questions (lab_helpers.exam.mock: PBQs more than the others): `marks` and `max_marks`
    are then the weighted marks, and the share, the verdict and the topic rows follow them.
    """

    right: float  # questions' worth earned: one per question, a share of one for a partly right answer
    asked: int
    answered: int
    late: int
    by_topic: list[TopicScore]
    review: list[ReviewItem]
    seconds: float
    minutes: float | None = None
    pass_mark: float | None = None  # a mock exam's pass line (share of the marks); None: no pass mark
    partial: int = 0  # questions answered partly right
    marks: float | None = None  # weighted marks earned; None: one mark a question
    max_marks: float | None = None  # weighted marks possible

    @property
    def earned(self) -> float:
        """Marks earned (weighted, when the questions carry weights)."""
        return self.right if self.marks is None else self.marks

    @property
    def possible(self) -> float:
        """Marks possible (weighted, when the questions carry weights)."""
        return float(self.asked) if self.max_marks is None else self.max_marks

    @property
    def share(self) -> float:
        """Share of the marks earned, in time (partial credit counts as a share of a question's marks)."""
        return self.earned / self.possible if self.possible else 0.0

    @property
    def passed(self) -> bool | None:
        """Did the score reach the pass mark? None when there is no pass mark."""
        return None if self.pass_mark is None else self.share >= self.pass_mark - 1e-9

    def verdict(self) -> str:
        """'PASS (75 % needed)' or 'FAIL (75 % needed)', the words CompTIA reports; '' without a pass mark."""
        if self.pass_mark is None:
            return ""
        return f"{'PASS' if self.passed else 'FAIL'} ({percent(self.pass_mark)} needed)"

    def pass_line(self) -> str:
        """How the verdict is reached, in words (the kit's approximation of a result CompTIA does not score)."""
        weighted = "weighted " if self.max_marks is not None else ""
        return (f"CompTIA reports SecurityX (CAS-005) as pass or fail only and publishes no score; the kit's line is "
                f"{percent(self.pass_mark)} of the {weighted}marks, and you earned {percent(self.share)}.")

    def score_line(self) -> str:
        """'Score: 3 of 4 (75 %); answered 4, in 2.0 min of 10.' (weighted: marks, and the questions beside them)."""
        partly = f", {self.partial} of them partly right (partial credit counts)" if self.partial else ""
        if self.max_marks is None:
            head = f"Score: {number_text(self.right)} of {self.asked} ({percent(self.share)})"
        else:
            head = (f"Score: {number_text(self.earned)} of {number_text(self.possible)} marks ({percent(self.share)}) "
                    f"over {self.asked} questions")
        return (f"{head}; answered {self.answered}{partly}, in {self.seconds / 60:.1f} min"
                + (f" of {self.minutes:g}" if self.minutes else "") + ".")

    def topic_lines(self) -> list[str]:
        """The score by topic, one line each (marks earned of marks possible; a mock exam adds the share)."""
        lines = ["By topic (" + TOPIC_NOTE[0].lower() + TOPIC_NOTE[1:-1] + "):"]
        for t in self.by_topic:
            share = f"  {percent(t.share):>5}" if self.pass_mark is not None else ""
            lines.append(f"  {t.title:<36} {number_text(t.right)} of {number_text(t.marks)}{share}")
        return lines

    def text(self) -> str:
        """The result as plain text. A mock exam: the verdict first, then the topics, the score and what to review;
        a quiz: the score, the topics and what to review."""
        late = ([f"{self.late} answer{'s' if self.late != 1 else ''} came after the time limit and did not count."]
                if self.late else [])
        if self.pass_mark is not None:
            lines = [f"Result: {self.verdict()}.", self.pass_line(), *self.topic_lines(), self.score_line(), *late]
        else:
            lines = [self.score_line(), *late, *self.topic_lines()]
        if self.review:
            lines.append("Review these:")
            lines += [f"  - {item.text()}" for item in self.review]
        else:
            lines.append("Nothing to review: every question right.")
        return "\n".join(lines)

    def record(self, kind: str) -> dict:
        """The session as progress.py stores it (marks with partial credit, rounded to two decimals)."""
        record = {"kind": kind, "right": round(self.right, 2), "asked": self.asked, "seconds": round(self.seconds, 1),
                  "by_topic": {t.topic: [round(t.right, 2), t.asked] for t in self.by_topic},
                  "review": [item.lab for item in self.review]}
        if self.max_marks is not None:
            record |= {"marks": round(self.earned, 2), "max_marks": round(self.possible, 2)}
        if self.pass_mark is not None:
            record |= {"pass_mark": self.pass_mark, "passed": bool(self.passed)}
        return record


@dataclass
class ExamSession:
    """A timed (or untimed) set of questions: answers are graded as they come, late ones are not scored.

    `right` maps a question id to the share of its marks earned (1 right, 0 wrong, between for partial credit);
    `weights` (optional) says how many marks each question is worth, and the result counts them.
    """

    questions: list[dict]
    minutes: float | None = None
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    right: dict[str, float] = field(default_factory=dict)
    late: set[str] = field(default_factory=set)
    pass_mark: float | None = None
    weights: dict[str, float] | None = None  # question id -> marks it is worth (a mock exam's); None: one each

    def __post_init__(self):
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"The time limit must be a positive number of minutes (got {self.minutes!r}).")
        if self.pass_mark is not None and not 0 < self.pass_mark <= 1:
            raise ValueError(f"The pass mark is a share of the marks, above 0 and at most 1 (got {self.pass_mark!r}).")
        if self.started is None:
            self.started = self.clock()

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until the time limit (negative once it has passed); None when untimed."""
        if self.minutes is None:
            return None
        return self.started + 60 * self.minutes - (self.clock() if now is None else now)

    def time_up(self, now: float | None = None) -> bool:
        """Has the time limit passed?"""
        left = self.seconds_left(now)
        return left is not None and left <= 0

    def answer(self, question: dict, chosen, now: float | None = None) -> Feedback:
        """Grade one answer and remember it (an answer after the time limit is remembered as late)."""
        feedback = grade_question(question, chosen)
        if not feedback.answered:
            return feedback
        if self.time_up(now):
            self.late.add(question["id"])
            self.right.pop(question["id"], None)
            return Feedback(feedback.correct, "Time is up: this answer does not count.\n" + feedback.message,
                            score=feedback.score)
        self.right[question["id"]] = feedback.credit
        return feedback

    def grade_all(self, answers: dict, late: set[str] | frozenset = frozenset()) -> dict[str, Feedback]:
        """Grade a whole exam at once (the mock exam grades when it is submitted): question id -> answer given in
        time. `late` names the questions whose answer was changed after the time limit (that change does not count)."""
        graded = {}
        for q in self.questions:
            if q["id"] in answers:
                feedback = grade_question(q, answers[q["id"]])
                if feedback.answered:
                    self.right[q["id"]] = feedback.credit
                graded[q["id"]] = feedback
        self.late |= set(late)
        return graded

    def result(self, now: float | None = None) -> ExamResult:
        """Score, score by topic and the labs to review (unanswered and late questions count as not right)."""
        now = self.clock() if now is None else now
        seconds = now - self.started
        if self.minutes is not None:
            seconds = min(seconds, 60 * self.minutes)
        partial = sum(0 < v < 1 for v in self.right.values())
        marks = max_marks = None
        if self.weights is not None:
            worth = {q["id"]: float(self.weights.get(q["id"], 1)) for q in self.questions}
            marks = sum(worth[qid] * v for qid, v in self.right.items() if qid in worth)
            max_marks = sum(worth.values())
        return ExamResult(sum(self.right.values()), len(self.questions), len(self.right) + len(self.late - set(self.right)),
                          len(self.late), score_by_topic(self.questions, self.right, self.weights),
                          review_list(self.questions, self.right), seconds, self.minutes, self.pass_mark, partial,
                          marks, max_marks)
