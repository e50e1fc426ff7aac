"""The pre/post check: what a class knew before the labs and after them, on two parallel forms.

Each form has 10 single-answer questions from the bank, one per slot of data/check_forms.json; a slot's two questions
share a topic and a concept, so the forms ask about the same things with different items. The 20 questions are held
out of the labs' quick checks and the mock exam (the post form is not practised during the day). A finished check is
kept in the learner's progress file as a session of kind "check"; `python -m lab_helpers scores` puts the two forms
side by side.
"""
from __future__ import annotations

from .bank import check_forms_file, check_ids, load_questions
from .mock import primary_topic

FORMS = ("pre", "post")
SESSION_KIND = "check"


def _forms_file() -> dict:
    return check_forms_file()


def check_minutes() -> int:
    """The time a form allows (minutes)."""
    return int(_forms_file()["minutes"])


def check_slots() -> list[dict]:
    """The slots: topic, what both questions are about, the pre form's question id and the post form's."""
    return [dict(slot) for slot in _forms_file()["slots"]]


def check_form(form: str) -> list[dict]:
    """The questions of one form ('pre' or 'post'), in slot order."""
    if form not in FORMS:
        raise ValueError(f"The check has two forms, 'pre' and 'post'; got {form!r}.")
    by_id = {q["id"]: q for q in load_questions()}
    return [by_id[slot[form]] for slot in check_slots()]


def check_problems() -> list[str]:
    """What keeps the two forms from being parallel (empty: none): ten slots, each a pair of different single-answer
    questions in the bank with the slot's topic as their first topic and a concept in common, no question twice, and
    as many easy, medium and hard questions on one form as on the other."""
    by_id = {q["id"]: q for q in load_questions()}
    slots, problems = check_slots(), []
    if len(slots) != 10:
        problems.append(f"{len(slots)} slots, not 10")
    ids = [slot[form] for slot in slots for form in FORMS]
    problems += [f"{qid} is on the forms twice" for qid in sorted({i for i in ids if ids.count(i) > 1})]
    for n, slot in enumerate(slots, 1):
        pair = [by_id.get(slot[form]) for form in FORMS]
        if None in pair:
            problems.append(f"slot {n}: {[slot[f] for f, q in zip(FORMS, pair) if q is None]} not in the bank")
            continue
        for q in pair:
            if q["format"] != "single":
                problems.append(f"slot {n}: {q['id']} is a {q['format']} question, not single-answer")
            if primary_topic(q) != slot["topic"]:
                problems.append(f"slot {n}: {q['id']}'s topic is {primary_topic(q)}, not {slot['topic']}")
        if not set(pair[0]["concepts"]) & set(pair[1]["concepts"]):
            problems.append(f"slot {n}: {pair[0]['id']} and {pair[1]['id']} share no concept")
    if not problems:
        levels = [sorted(by_id[slot[form]].get("difficulty", "") for slot in slots) for form in FORMS]
        if levels[0] != levels[1]:
            problems.append(f"the forms' difficulties differ: pre {levels[0]}, post {levels[1]}")
    return problems


def check_sessions(progress) -> dict[str, dict]:
    """The latest finished session of each form in a learner's progress: form -> session."""
    latest = {}
    for session in progress.sessions:
        if isinstance(session, dict) and session.get("kind") == SESSION_KIND and session.get("form") in FORMS:
            latest[session["form"]] = session
    return latest
