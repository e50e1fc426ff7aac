"""The mock exam's shape: its two forms, what each question weighs, and how a form is drawn from the bank.

CAS-005 (SecurityX) has up to 90 questions in 165 minutes, opens with performance-based questions (PBQs) and reports
pass or fail only: CompTIA publishes no score and no cut score for it. The kit's mock exam follows that shape:

- two forms (`EXAM_FORMS`): a **short practice form**, 25 questions in 45 minutes with 3 PBQs, and a **full-length
  form**, up to 90 questions in 165 minutes with 6 PBQs; PBQs of at least three kinds in every draw, shown first;
- PBQs weigh `PBQ_WEIGHT` (3) marks, every other question 1 (`QUESTION_WEIGHT`); partial credit is a share of a
  question's marks (2 of 4 fields right on a PBQ earns 1.5 of its 3 marks);
- the verdict is PASS or FAIL, as CompTIA reports it, with the score by topic; the kit's own line is
  `PASS_MARK` (75 %) of the weighted marks, an approximation stated wherever the verdict is;
- the other questions are drawn by topic weights (`TOPIC_WEIGHTS`, a share of the form per topic), each from the
  questions whose first concept is in that topic, missed ones first, then unseen ones, spread over concepts;
- PBQs are drawn in a rotation fixed by the seed, kinds interleaved, so that consecutive seeds show different ones
  and a few draws show them all (the tests: every PBQ appears over seeds 0..19, in both forms).

The bank may hold fewer exam-eligible questions than a form asks for: the form then asks all of them and says so.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .bank import (
    _history_rank,
    is_performance_based,
    mock_exam_pool,
    pick_questions,
    resolve_tag,
    topic_titles,
)

PBQ_WEIGHT = 3  # marks a performance-based question is worth (its partial credit is a share of them)
QUESTION_WEIGHT = 1  # marks every other question is worth
# The share of a form's other questions drawn from each topic (a question counts under the topic of its first
# concept). The threats of objective 1.5 and the controls against them carry most; the rest share what is left.
TOPIC_WEIGHTS = {"threats": 0.25, "defences": 0.22, "basics": 0.10, "governance": 0.08, "why": 0.07, "data": 0.07,
                 "impact": 0.07, "scenarios": 0.07, "practice": 0.07}
MINUTES_PER_QUESTION = 1.8  # a form of another length (-n): the short form's pace, 45 minutes for 25 questions
MIN_PBQ_KINDS = 3  # every draw of a form shows PBQs of at least this many kinds (when it has that many PBQs)


@dataclass(frozen=True)
class ExamForm:
    """One shape of the mock exam: how many questions, how long, how many of them performance-based."""

    key: str
    title: str
    questions: int
    minutes: float
    pbqs: int

    def describe(self) -> str:
        """'short practice form: 25 questions (3 performance-based, first), 45 minutes'."""
        return (f"{self.title}: {self.questions} questions ({self.pbqs} performance-based, first), "
                f"{self.minutes:g} minutes")


EXAM_FORMS = {
    "short": ExamForm("short", "short practice form", 25, 45, 3),
    "full": ExamForm("full", "full-length form", 90, 165, 6),
}


def exam_form(key: str = "short") -> ExamForm:
    """The form called 'short' or 'full' (a clear error otherwise)."""
    try:
        return EXAM_FORMS[key]
    except KeyError:
        raise ValueError(f"There is no {key!r} form: the mock exam has {' and '.join(EXAM_FORMS)}.") from None


def pbq_kind(question: dict) -> str:
    """The kind of task a PBQ sets: 'log triage', 'model card review', 'gateway policy', 'ordering' or 'matching'."""
    task = question.get("task") or ""
    if question["format"] == "policy":
        return "gateway policy"
    if task.startswith("log-triage"):
        return "log triage"
    if task.startswith("release-review"):
        return "model card review"
    return question["format"]


def question_weight(question: dict) -> float:
    """What a question is worth in the mock exam: PBQ_WEIGHT marks for a performance-based one, else QUESTION_WEIGHT."""
    return PBQ_WEIGHT if is_performance_based(question) else QUESTION_WEIGHT


def exam_weights(questions: list[dict]) -> dict[str, float]:
    """Question id -> its marks (question_weight), as ExamSession takes them."""
    return {q["id"]: question_weight(q) for q in questions}


def weights_text() -> str:
    """The weights in words, for the exam's heading and the terminal."""
    return (f"performance-based questions {PBQ_WEIGHT} marks each, every other question {QUESTION_WEIGHT}; "
            "partial credit is a share of a question's marks")


def primary_topic(question: dict) -> str | None:
    """The topic of a question's first concept tag that resolves (what the topic weights count it under)."""
    for tag in question.get("concepts", []):
        try:
            return resolve_tag(tag)[0]
        except KeyError:
            continue
    return None


def topic_quotas(n: int, supply: dict[str, int], weights: dict[str, float] | None = None) -> dict[str, int]:
    """How many of n questions each topic gets: its weight's share (whole parts, then the largest remainders), never
    more than it has; a topic's shortfall goes to the others by weight. Adds up to min(n, total supply)."""
    weights = TOPIC_WEIGHTS if weights is None else weights
    quotas = {t: 0 for t in supply}
    left = min(n, sum(supply.values()))
    while left > 0:
        open_topics = [t for t in supply if quotas[t] < supply[t]]
        w = {t: max(weights.get(t, 0.0), 0.0) for t in open_topics}
        if sum(w.values()) <= 0:
            w = {t: 1.0 for t in open_topics}
        share = {t: left * w[t] / sum(w.values()) for t in open_topics}
        whole = {t: min(int(share[t]), supply[t] - quotas[t]) for t in open_topics}
        spare = [t for t in open_topics if whole[t] < supply[t] - quotas[t]]
        spare.sort(key=lambda t: (-(share[t] - int(share[t])), -w[t], t))
        for t in spare[:left - sum(whole.values())]:
            whole[t] += 1
        for t, k in whole.items():
            quotas[t] += k
        left -= sum(whole.values())
    return quotas


def draw_by_topic(pool: list[dict], n: int, history: dict | None = None, seed: int = 0,
                  weights: dict[str, float] | None = None) -> list[dict]:
    """n questions from pool by topic weights: each topic's quota from its own questions (missed first, then unseen,
    spread over concepts), in the topics' order."""
    by_topic: dict[str, list[dict]] = {}
    for q in pool:
        by_topic.setdefault(primary_topic(q) or "", []).append(q)
    quotas = topic_quotas(n, {t: len(qs) for t, qs in by_topic.items()}, weights)
    order = [t for t in topic_titles() if t in by_topic] + sorted(t for t in by_topic if t not in topic_titles())
    chosen = []
    for t in order:
        if quotas.get(t):
            chosen += pick_questions(by_topic[t], quotas[t], history, seed, "concepts")
    return chosen


def pick_pbqs(tasks: list[dict], k: int, history: dict | None = None, seed: int = 0) -> list[dict]:
    """k PBQs: kinds interleaved in a fixed rotation that moves on k places with every seed (so consecutive seeds
    show different PBQs, and every PBQ comes up within a few seeds); missed and unseen ones before those answered
    right; MIN_PBQ_KINDS kinds first, so that a draw of k >= 3 shows at least three kinds when the bank has them."""
    if k <= 0 or not tasks:
        return []
    kinds: dict[str, list[dict]] = {}
    for q in sorted(tasks, key=lambda q: q["id"]):
        kinds.setdefault(pbq_kind(q), []).append(q)
    ring = []  # round robin over the kinds: no two neighbours of the same kind while two kinds are left
    for row in range(max(len(qs) for qs in kinds.values())):
        ring += [kinds[name][row] for name in sorted(kinds) if row < len(kinds[name])]
    start = (seed * k) % len(ring)
    ranked = sorted(range(len(ring)), key=lambda i: (_history_rank(ring[i]["id"], history), (i - start) % len(ring)))
    chosen, seen = [], set()
    for i in ranked:  # one of each of the first MIN_PBQ_KINDS kinds in the rotation, then the rotation's order
        if len(chosen) < min(k, MIN_PBQ_KINDS) and pbq_kind(ring[i]) not in seen:
            chosen.append(ring[i])
            seen.add(pbq_kind(ring[i]))
    chosen += [ring[i] for i in ranked if ring[i] not in chosen][:k - len(chosen)]
    return chosen


def pbq_share(n: int) -> int:
    """How many of a custom-length mock exam's n questions are performance-based: one in ten, at least one from 5
    questions (the forms set their own: 3 of 25, 6 of 90)."""
    return max(1, n // 10) if n >= 5 else 0


def mock_exam_questions(n: int = 20, history: dict | None = None, seed: int = 0, topic: str | None = None,
                        shuffle: bool = True, pbqs: int | None = None,
                        topic_weights: dict[str, float] | None = None) -> list[dict]:
    """A mock exam of n questions (fewer when the pool is smaller): the performance-based ones first (pbqs of them,
    one in ten by default; at least three kinds when there are three), then the others drawn by topic weights (one
    topic or concept given: spread over its concepts), missed and unseen ones first, shuffled (fixed by the seed).

    Kit-specific questions ("mock_exam": false) are left out: they belong to the labs' quick checks.
    """
    pool = mock_exam_pool(topic)
    if not pool:
        raise ValueError(f"No mock-exam questions for topic {topic!r}: its questions are all lab-specific; "
                         "try the lab's quick check.")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"The number of questions must be a whole number, 1 or more (got {n!r}).")
    tasks, others = [q for q in pool if is_performance_based(q)], [q for q in pool if not is_performance_based(q)]
    k = pbq_share(n) if pbqs is None else pbqs
    k = min(k, len(tasks), n) if others else min(n, len(tasks))
    first = pick_pbqs(tasks, k, history, seed)
    rest_n = min(n - len(first), len(others))
    if topic is None:
        rest = draw_by_topic(others, rest_n, history, seed, topic_weights) if rest_n else []
    else:
        rest = pick_questions(others, rest_n, history, seed, "concepts") if rest_n else []
    if len(first) + len(rest) < n:  # few questions of one kind: more PBQs fill the exam
        first += [q for q in pick_pbqs(tasks, len(tasks), history, seed) if q not in first][:n - len(first) - len(rest)]
    if shuffle:
        random.Random(f"mock-exam/{seed}").shuffle(rest)
    return first + rest


@dataclass
class ExamDraw:
    """A form drawn from the bank: its questions (PBQs first), its time, their weights, and a note when the bank
    held fewer eligible questions than the form asks for."""

    form: ExamForm
    questions: list[dict]
    minutes: float | None
    weights: dict[str, float]
    note: str = ""


def draw_form(form: str | ExamForm = "short", history: dict | None = None, seed: int = 0, topic: str | None = None,
              n: int | None = None, minutes: float | None | str = "form") -> ExamDraw:
    """A form's questions (n: another length, at MINUTES_PER_QUESTION unless minutes is given; minutes=None:
    untimed). When the bank holds fewer exam-eligible questions than asked for, it asks all of them, at the form's
    pace, and says so in the draw's note."""
    shape = form if isinstance(form, ExamForm) else exam_form(form)
    wanted = shape.questions if n is None else n
    pbqs = shape.pbqs if n is None else None
    questions = mock_exam_questions(wanted, history, seed, topic, pbqs=pbqs)
    note = ""
    if len(questions) < wanted:
        where = f"for topic {topic!r}" if topic else "in the bank"
        note = (f"There are {len(questions)} exam questions {where}, fewer than the {wanted} this form asks for: "
                f"it asks all {len(questions)}.")
    if minutes == "form":  # the form's time, or its pace for fewer questions; another length at MINUTES_PER_QUESTION
        pace = MINUTES_PER_QUESTION if n is not None else shape.minutes / shape.questions
        minutes = shape.minutes if n is None and len(questions) == shape.questions else \
            max(1, round(pace * len(questions)))
    return ExamDraw(shape, questions, minutes, exam_weights(questions), note)
