"""The question bank in a terminal, no widgets needed: `python -m lab_helpers quiz`."""
from __future__ import annotations

import time
from typing import Callable

from .bank import (
    ExamResult,
    ExamSession,
    Feedback,
    in_mock_exam,
    lab_number,
    load_questions,
    parse_answer,
    pick_questions,
    question_text,
)

# ---------------------------------------------------------------- the terminal quiz

def run_terminal_quiz(questions: list[dict], minutes: float | None = None, ask: Callable[[str], str] = input,
                      say: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                      on_answer: Callable[[dict, Feedback], None] | None = None) -> ExamResult:
    """Ask the questions one by one on a terminal (or any text input); q quits, s skips, end of input stops."""
    session = ExamSession(questions, minutes, clock)
    limit = f", {minutes:g} minutes" if minutes else ""
    say(f"{len(questions)} question{'s' if len(questions) != 1 else ''}{limit}. Type the letters of your answer; "
        "s skips a question, q stops the quiz.\n")
    stopped = False
    for number, question in enumerate(questions, 1):
        if session.time_up():
            say("Time is up.")
            break
        say(question_text(question, number))
        for _attempt in range(5):
            try:
                text = ask("Your answer: ").strip()
            except (EOFError, KeyboardInterrupt):
                say("\n(no more input: the quiz stops here)")
                stopped = True
                break
            if text.lower() in ("q", "quit", "exit"):
                stopped = True
                break
            if text.lower() in ("s", "skip"):
                say("Skipped.")
                break
            try:
                chosen = parse_answer(question, text)
            except ValueError as exc:
                say(str(exc))
                continue
            feedback = session.answer(question, chosen)
            say(feedback.message + "\n")
            if on_answer is not None and question["id"] not in session.late:
                on_answer(question, feedback)
            break
        else:
            say("Moving on: skipped after five tries.")
        if stopped:
            break
    result = session.result()
    say("\n" + result.text())
    return result


def terminal_quiz(topic: str | None = None, lab: str | int | None = None, n: int = 10, minutes: float | None = None,
                  seed: int = 0, record: bool = True, ask: Callable[[str], str] = input,
                  say: Callable[[str], None] = print) -> ExamResult:
    """`python -m lab_helpers quiz`: pick n questions (by topic and/or lab), ask them, save answers and the session."""
    from .progress import load_progress, progress_path, record_answer, record_session

    pool = load_questions(lab=None if lab is None else lab_number(lab), topic=topic)
    if lab is None:  # the whole bank: ask what the mock exam asks, not the labs' kit-specific questions
        pool = [q for q in pool if in_mock_exam(q)]
    if not pool:
        raise ValueError(f"No questions for lab {lab} and topic {topic!r} together: try one of them alone." if lab is not None
                         else f"No exam questions for topic {topic!r}: its questions are lab-specific; add --lab.")
    progress = load_progress()
    if progress.note:
        say(progress.note)
    spread = "topics" if topic is None and lab is None else "concepts"
    questions = pick_questions(pool, n, progress.history(), seed, spread)
    notes: list[str] = []

    def save(question: dict, feedback: Feedback) -> None:
        if record:
            notes.append(record_answer(question["id"], feedback.correct))

    result = run_terminal_quiz(questions, minutes, ask, say, on_answer=save)
    if record:
        notes.append(record_session(result.record("mock exam" if minutes else "terminal quiz")))
        problems = sorted({x for x in notes if x})
        say("\n".join(problems) if problems else f"Progress saved in {progress_path()}.")
    return result
