"""The question bank in a terminal, no widgets needed: `python -m lab_helpers quiz` (and `quiz --exam`)."""
from __future__ import annotations

import time
from typing import Callable

from .bank import (
    PASS_MARK,
    ExamResult,
    ExamSession,
    Feedback,
    in_mock_exam,
    lab_number,
    load_questions,
    parse_answer,
    pick_questions,
    question_text,
    unanswered_feedback,
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


# ---------------------------------------------------------------- the mock exam, as the real one behaves

EXAM_HELP = ("Type an answer (letters; a form's answers separated by ';'; a policy as one line of JSON) to save it and "
             "move on. Commands: n next, p previous, g 7 go to question 7, f flag or unflag for review, r review, "
             "submit to finish (end of input submits too).")


def _review_text(questions: list[dict], answers: dict, flags: set[int]) -> str:
    """The review screen: each question answered or not, flagged or not."""
    lines = ["Review:"]
    for k, q in enumerate(questions):
        state = ("answered" if q["id"] in answers else "NOT ANSWERED") + (", flagged" if k in flags else "")
        lines.append(f"  Q{k + 1:<3} {state:<24} {q['stem'][:70]}…")
    missing = sum(q["id"] not in answers for q in questions)
    lines.append(f"{missing} not answered, {len(flags)} flagged. Go back with g N, or type submit.")
    return "\n".join(lines)


def exam_intro(questions: list[dict], minutes: float | None, pass_mark: float | None,
               weights: dict[str, float] | None = None, title: str = "Mock exam") -> str:
    """The exam's first line: its length and time, how it is scored and reported, what weighs more."""
    from .bank import is_performance_based
    from .mock import weights_text

    limit = f"{minutes:g} minutes" if minutes else "no time limit"
    pbqs = sum(is_performance_based(q) for q in questions)
    first = f" ({pbqs} performance-based, first)" if pbqs else ""
    weighted = "weighted " if weights is not None else ""
    mark = (f"pass mark {round(100 * pass_mark)} % of the {weighted}marks, reported as PASS or FAIL as CompTIA reports "
            "it (the kit's approximation: CompTIA publishes no score for SecurityX)" if pass_mark else "no pass mark")
    worth = f" Weights: {weights_text()}." if weights is not None else \
        " Performance-based questions earn partial credit."
    return f"{title}: {len(questions)} questions{first}, {limit}, {mark}.{worth}"


def run_terminal_exam(questions: list[dict], minutes: float | None = 30, ask: Callable[[str], str] = input,
                      say: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                      pass_mark: float | None = PASS_MARK, weights: dict[str, float] | None = None,
                      title: str = "Mock exam", note: str = "") -> tuple[ExamResult, dict[str, Feedback]]:
    """A mock exam in a terminal, as the real one behaves: the pass mark and the weights stated up front, a clock,
    flags for review, going back to change any answer, a review before submitting; then the verdict (PASS or FAIL)
    and the score by topic first, and every question's explanation after them. weights: question id -> marks
    (default: lab_helpers.exam.mock.exam_weights, PBQs worth more). Returns the result and the graded answers
    (question id -> Feedback)."""
    from .mock import exam_weights

    weights = exam_weights(questions) if weights is None else weights
    session = ExamSession(questions, minutes, clock, pass_mark=pass_mark, weights=weights)
    say(exam_intro(questions, minutes, pass_mark, weights, title) + (f"\n{note}" if note else "")
        + f"\n{EXAM_HELP}\n")
    answers: dict[str, object] = {}
    flags: set[int] = set()
    late: set[str] = set()
    k, shown, prompts = 0, None, 0
    while prompts < 30 * len(questions) + 50:
        prompts += 1
        if session.time_up():
            say("Time is up: the exam is submitted with the answers given in time.")
            break
        q = questions[k]
        if shown != k:
            left = session.seconds_left()
            clock_text = f" · {int(left // 60)}:{int(left % 60):02d} left" if left is not None else ""
            state = ("answered" if q["id"] in answers else "not answered") + (", flagged" if k in flags else "")
            say(f"[Question {k + 1} of {len(questions)} · {state}{clock_text}]")
            say(question_text(q, k + 1))
            shown = k
        try:
            text = ask("Answer or command: ").strip()
        except (EOFError, KeyboardInterrupt):
            say("\n(no more input: the exam is submitted)")
            break
        word = text.lower()
        if word in ("submit", "q", "quit"):
            break
        if word in ("n", "next", "s", "skip"):
            if k == len(questions) - 1:
                say(_review_text(questions, answers, flags))
            else:
                k, shown = k + 1, None
            continue
        if word in ("p", "prev", "previous"):
            k, shown = max(k - 1, 0), None
            continue
        if word in ("f", "flag"):
            flags ^= {k}
            say("Flagged for review." if k in flags else "Flag taken off.")
            continue
        if word in ("r", "review"):
            say(_review_text(questions, answers, flags))
            continue
        if word.startswith("g ") or word.startswith("go "):
            target = word.split()[-1]
            if target.isdigit() and 1 <= int(target) <= len(questions):
                k, shown = int(target) - 1, None
            else:
                say(f"Go to a question from 1 to {len(questions)}, e.g. g 3.")
            continue
        if not text:
            say(EXAM_HELP)
            continue
        try:
            chosen = parse_answer(q, text)
        except ValueError as exc:
            say(str(exc))
            continue
        if session.time_up():
            late.add(q["id"])
            say("Time is up: this answer does not count.")
            break
        answers[q["id"]] = chosen
        say("Saved.")
        if k == len(questions) - 1:
            say(_review_text(questions, answers, flags))
        else:
            k, shown = k + 1, None
    graded = session.grade_all(answers, late)
    result = session.result()
    say("\n" + result.text())
    say("\nEvery question, with its explanation:")
    for number, q in enumerate(questions, 1):
        feedback = graded.get(q["id"])
        if feedback is None or not feedback.answered:
            feedback = unanswered_feedback(q)
        flag = " (flagged)" if number - 1 in flags else ""
        say(f"\nQ{number}{flag}. {q['stem']}\n{feedback.message}")
    return result, graded


def terminal_quiz(topic: str | None = None, lab: str | int | None = None, n: int | None = 10,
                  minutes: float | None = None, seed: int = 0, record: bool = True, ask: Callable[[str], str] = input,
                  say: Callable[[str], None] = print, exam: bool = False, review: bool = False,
                  form: str = "short") -> ExamResult | None:
    """`python -m lab_helpers quiz`: pick n questions (by topic and/or lab), ask them, save answers and the session.

    exam=True (`quiz --exam [--short|--full]`): a mock exam as the real one behaves (run_terminal_exam), one of the
    forms of lab_helpers.exam.mock (short: 25 questions in 45 minutes; full: up to 90 in 165), PBQs first and
    weighted; n=None takes the form's length, another n its pace (1.8 minutes a question) unless minutes is given.
    review=True (`quiz --review`): spaced review, the questions due again (Leitner boxes: a missed question at once,
    one answered right k times in a row after 1, 3, 7 or 21 days), then new ones; None when nothing is due.
    """
    from .progress import load_progress, next_review, progress_path, record_answer, record_session, review_due

    if exam:
        if lab is not None:
            raise ValueError("A mock exam spans every lab: leave out --lab (or use --topic).")
        from .mock import draw_form

        progress = load_progress()
        if progress.note:
            say(progress.note)
        draw = draw_form(form, progress.history(), seed, topic, n, "form" if minutes is None else minutes)
        title = f"Mock exam, {draw.form.title}" if n is None else "Mock exam"
        result, graded = run_terminal_exam(draw.questions, draw.minutes, ask, say, weights=draw.weights, title=title,
                                           note=draw.note)
        if record:
            notes = [record_answer(qid, f.correct, score=f.credit) for qid, f in graded.items() if f.answered]
            notes.append(record_session(result.record("mock exam") | {"form": draw.form.key if n is None else "custom"}))
            problems = sorted({x for x in notes if x})
            say("\n".join(problems) if problems else f"Progress saved in {progress_path()}.")
        return result

    n = 10 if n is None else n
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
    if review:
        due, fresh = review_due(progress, pool)
        questions = due[:n]
        if len(questions) < n and fresh:
            questions += pick_questions(fresh, min(n - len(questions), len(fresh)), None, seed, spread)
        if not questions:
            when = next_review(progress, pool)
            say("Nothing is due for review" + (f": the next question comes back on {when:%A %d %B at %H:%M}." if when
                                               else "."))
            return None
        say(f"Spaced review: {min(len(due), n)} question(s) due again, {len(questions) - min(len(due), n)} new.")
    else:
        questions = pick_questions(pool, n, progress.history(), seed, spread)
    notes: list[str] = []

    def save(question: dict, feedback: Feedback) -> None:
        if record:
            notes.append(record_answer(question["id"], feedback.correct, score=feedback.credit))

    result = run_terminal_quiz(questions, minutes, ask, say, on_answer=save)
    if record:
        notes.append(record_session(result.record("mock exam" if minutes else "terminal quiz")))
        problems = sorted({x for x in notes if x})
        say("\n".join(problems) if problems else f"Progress saved in {progress_path()}.")
    return result


def terminal_check(form: str, record: bool = True, ask: Callable[[str], str] = input,
                   say: Callable[[str], None] = print) -> ExamResult:
    """`python -m lab_helpers quiz --check pre|post`: one form of the pre/post check (lab_helpers.exam.checks), timed,
    kept in the progress file as a "check" session for `scores`."""
    from .checks import SESSION_KIND, check_form, check_minutes
    from .progress import progress_path, record_answer, record_session

    questions = check_form(form)
    say(f"{form.capitalize()}-check: {len(questions)} questions, one mark each. Not a grade: your instructor compares "
        "the class's pre- and post-check. Answer alone, without notes; a guess is fine.")
    result, graded = run_terminal_exam(questions, check_minutes(), ask, say, pass_mark=None,
                                       title=f"{form.capitalize()}-check")
    if record:
        notes = [record_answer(qid, f.correct, score=f.credit) for qid, f in graded.items() if f.answered]
        notes.append(record_session(result.record(SESSION_KIND) | {"form": form}))
        problems = sorted({x for x in notes if x})
        say("\n".join(problems) if problems else f"Progress saved in {progress_path()}.")
    return result
