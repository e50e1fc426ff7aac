"""Scenario cards and exam-style questions as data, and the plain functions that grade them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from .paths import data_dir

THREATS = ("model inversion", "model extraction", "adversarial example", "data poisoning")


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer and the explanation a learner reads."""

    correct: bool
    message: str


@lru_cache(maxsize=None)
def _read_json(name: str) -> dict:
    """A JSON file from the kit's data/ folder (read once)."""
    return json.loads((data_dir() / name).read_text(encoding="utf-8"))


def load_threat_cards() -> list[dict]:
    """The sorting drill's scenario cards: id, scenario, answer (one of THREATS), explanation."""
    return list(_read_json("threat_cards.json")["cards"])


def threat_definitions() -> dict[str, str]:
    """One-line definitions of the four threats the drill sorts into."""
    return dict(_read_json("threat_cards.json")["threats"])


def load_questions(lab: str | None = None) -> list[dict]:
    """Exam-style questions from every file in data/questions/, optionally only those of one lab ('00')."""
    questions = []
    for path in sorted((data_dir() / "questions").glob("*.json")):
        questions += _read_json(f"questions/{path.name}")["questions"]
    return [q for q in questions if lab is None or q["lab"] == str(lab).zfill(2)]


def grade_card(card: dict, choice: str | None) -> Feedback:
    """Feedback on sorting one scenario card into a threat."""
    if choice is None:
        return Feedback(False, "Pick the threat this scenario describes.")
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
    """Indices of the options marked correct."""
    return {i for i, o in enumerate(question["options"]) if o["correct"]}


def grade_question(question: dict, chosen: set[int] | list[int] | int | None) -> Feedback:
    """Feedback on an answer to one exam-style question, with every option's explanation."""
    if chosen is None or chosen == () or chosen == set() or chosen == []:
        return Feedback(False, "Choose an answer first.")
    chosen = {chosen} if isinstance(chosen, int) else set(chosen)
    bad = [i for i in chosen if not 0 <= i < len(question["options"])]
    if bad:
        raise ValueError(f"Option {bad[0]} does not exist: the question has options 0..{len(question['options']) - 1}.")
    right = correct_options(question)
    verdict = "Correct." if chosen == right else "Not quite."
    lines = [verdict]
    for i, option in enumerate(question["options"]):
        mark = "✔" if option["correct"] else "✘"
        lines.append(f"{mark} {chr(65 + i)}. {option['text']} — {option['explanation']}")
    return Feedback(chosen == right, "\n".join(lines))
