"""Interactive pieces for the notebooks. Each handler is a plain function; the widgets only wire it up."""
from __future__ import annotations

import html

import ipywidgets as w

from ..exam.bank import (
    THREATS,
    TOPIC_NOTE,
    Feedback,
    drill_score,
    grade_card,
    grade_question,
    load_threat_cards,
)
from ..formatting import percent


def feedback_html(feedback: Feedback) -> str:
    """A green or red box around a feedback message."""
    colour = "#1b7f3b" if feedback.correct else "#b3261e"
    body = "<br>".join(html.escape(line) for line in feedback.message.splitlines())
    return f'<div style="border-left:4px solid {colour};padding:4px 8px;margin:2px 0">{body}</div>'


def drill_score_text(answers: dict, cards: list[dict]) -> str:
    """'Score: 3 of 4 sorted correctly (8 cards)'."""
    right, answered = drill_score(answers, cards)
    return f"<b>Score: {right} of {answered} sorted correctly</b> ({len(cards)} cards)"


class SortingDrill:
    """Scenario cards the learner sorts into the four threats, with feedback on every click."""

    def __init__(self, cards: list[dict] | None = None):
        self.cards = cards if cards is not None else load_threat_cards()
        self.choices: dict[str, w.ToggleButtons] = {}
        self.feedback: dict[str, w.HTML] = {}
        self.score = w.HTML(drill_score_text({}, self.cards))
        rows = [self.score]
        for number, card in enumerate(self.cards, 1):
            buttons = w.ToggleButtons(options=list(THREATS), value=None, style={"button_width": "165px"})
            self.choices[card["id"]] = buttons
            self.feedback[card["id"]] = w.HTML("")
            self.feedback[card["id"]].add_class("drill-feedback")
            buttons.observe(lambda change, c=card: self.on_choice(c, change["new"]), names="value")
            rows += [w.HTML(f"<b>Card {number}.</b> {html.escape(card['scenario'])}"), buttons, self.feedback[card["id"]]]
        self.box = w.VBox(rows)

    def answers(self) -> dict[str, str | None]:
        """What the learner has chosen so far, card id -> threat."""
        return {cid: b.value for cid, b in self.choices.items()}

    def on_choice(self, card: dict, choice: str | None) -> None:
        """Show feedback for one card and update the score."""
        self.feedback[card["id"]].value = feedback_html(grade_card(card, choice)) if choice else ""
        self.score.value = drill_score_text(self.answers(), self.cards)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def sorting_drill(cards: list[dict] | None = None) -> SortingDrill:
    """The lab 00 sorting drill: model inversion vs extraction vs adversarial examples vs poisoning."""
    return SortingDrill(cards)


# ---------------------------------------------------------------- exam-style questions, quick checks, mock exams
# The logic (grading, picking, scoring, progress) is plain Python in lab_helpers.quiz and lab_helpers.progress.

def _quiz_text(questions: list[dict], heading: str, command: str) -> str:
    """The plain-text view of a quiz for viewers that do not render widgets."""
    from ..exam.bank import question_text

    body = "\n\n".join(question_text(q, i) for i, q in enumerate(questions, 1))
    return (f"{heading}\n(Interactive widgets are not shown here. To answer these questions in a terminal, run:\n"
            f"    {command})\n\n{body}")


class QuizQuestion:
    """One exam-style question: choose, press Check, read why every option is right or wrong."""

    def __init__(self, question: dict, number: int = 1, on_graded=None, reveal: bool = True):
        self.question, self.on_graded, self.reveal = question, on_graded, reveal
        self.format = question["format"]
        self.multiple = self.format == "multiple"
        self.result: Feedback | None = None
        self.order: list[int] = []  # single, multiple: the stored option shown at each position (option_order)
        self.inputs, rows, hint = self._inputs()
        self.button = w.Button(description="Check" if reveal else "Lock in answer", button_style="primary")
        self.feedback = w.HTML("")
        self.button.on_click(lambda _: self.check())
        flavour = " <i>[best control]</i>" if question.get("style") == "best-control" else ""
        stem = w.HTML(f"<b>Q{number}.</b>{flavour} {html.escape(question['stem'])}{hint}")
        self.box = w.VBox([stem, *rows, self.button, self.feedback])

    def _inputs(self) -> tuple[list, list, str]:
        """The answer widgets, the rows that lay them out, and a hint after the stem, for this question's format."""
        from ..exam.bank import choice_order, display_order, match_choices, option_order

        q = self.question
        if self.format in ("single", "multiple"):  # options in the question's fixed shuffle; chosen() maps them back
            self.order = option_order(q)
            shown = [q["options"][i]["text"] for i in self.order]
        if self.format == "multiple":
            boxes = [w.Checkbox(value=False, indent=False, layout=w.Layout(width="28px")) for _ in shown]
            rows = [w.HBox([box, w.HTML(f"{chr(65 + k)}. {html.escape(text)}")]) for k, (box, text) in enumerate(zip(boxes, shown))]
            return boxes, rows, "" if "choose" in q["stem"].lower() else " <i>(choose all that apply)</i>"
        if self.format == "single":
            radio = w.RadioButtons(options=[f"{chr(65 + k)}. {text}" for k, text in enumerate(shown)], value=None,
                                   layout=w.Layout(width="auto"))
            return [radio], [radio], ""
        if self.format == "ordering":
            options = [("— choose —", None)] + [(q["steps"][i]["text"], i) for i in display_order(q)]
            menus = [w.Dropdown(options=options, value=None, layout=w.Layout(width="90%")) for _ in q["steps"]]
            rows = [w.HBox([w.HTML(f"<b>Step {k + 1}</b>&nbsp;", layout=w.Layout(width="70px")), m]) for k, m in enumerate(menus)]
            return menus, rows, " <i>(choose a step for each position)</i>"
        choices = match_choices(q)
        options = [("— choose —", None)] + [(f"{chr(65 + k)}. {choices[i]}", i) for k, i in enumerate(choice_order(q))]
        menus = [w.Dropdown(options=options, value=None, layout=w.Layout(width="60%")) for _ in q["pairs"]]
        rows = [w.HBox([w.HTML(f"<b>{html.escape(p['item'])}</b>", layout=w.Layout(width="38%")), m]) for p, m in zip(q["pairs"], menus)]
        return menus, rows, " <i>(match each item)</i>"

    def chosen(self):
        """The current answer, as grade_question expects it (stored option indices, whatever order they are shown in)."""
        if self.format == "multiple":
            return {self.order[k] for k, box in enumerate(self.inputs) if box.value}
        if self.format == "single":
            radio = self.inputs[0]
            return set() if radio.value is None else {self.order[radio.options.index(radio.value)]}
        return [d.value for d in self.inputs]

    def select(self, options) -> None:
        """Tick these stored option indices (single, multiple): what a learner's clicks on them would do."""
        wanted = {options} if isinstance(options, int) else set(options)
        if self.format == "single":
            radio = self.inputs[0]
            radio.value = radio.options[self.order.index(next(iter(wanted)))] if wanted else None
        elif self.format == "multiple":
            for k, box in enumerate(self.inputs):
                box.value = self.order[k] in wanted
        else:
            raise ValueError(f"select() is for single- and multiple-answer questions, not {self.format!r}.")

    def check(self) -> Feedback:
        """Grade the current answer; show the explanations (or, in a mock exam, lock the answer until the end)."""
        chosen = self.chosen()
        result = grade_question(self.question, chosen)
        if result.answered and self.on_graded is not None:
            result = self.on_graded(self.question, result, chosen) or result
        if not result.answered or self.reveal:
            self.feedback.value = feedback_html(result)
        else:
            self.result = result
            for widget in (*self.inputs, self.button):
                widget.disabled = True
            self.feedback.value = "<i>Answer locked in.</i>"
        return result

    def show_feedback(self) -> None:
        """Reveal the explanations (the end of a mock exam); unanswered questions show the right answer."""
        from ..exam.bank import correct_options

        if self.result is None:
            fmt = self.format
            right = (correct_options(self.question) if fmt in ("single", "multiple") else
                     list(range(len(self.question["steps" if fmt == "ordering" else "pairs"]))))
            heading = "Not answered." if fmt == "ordering" else "Not answered. The right answer:"  # ordering adds "The right order:"
            text = grade_question(self.question, right).message.replace("Correct.", heading, 1)
            self.result = Feedback(False, text)
        for widget in (*self.inputs, self.button):
            widget.disabled = True
        self.feedback.value = feedback_html(self.result)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


class Quiz:
    """A column of exam-style questions, each with its own Check button; optionally saves answers to progress."""

    def __init__(self, questions: list[dict], heading: str = "", record: bool = False, command: str = "python -m lab_helpers quiz"):
        self.questions, self.record, self.command = questions, record, command
        self.heading = heading
        self.notes = w.HTML("")
        self.items = [QuizQuestion(q, i, on_graded=self.on_graded) for i, q in enumerate(questions, 1)]
        self.box = w.VBox(([w.HTML(heading)] if heading else []) + [item.box for item in self.items] + [self.notes])

    def on_graded(self, question: dict, feedback: Feedback, chosen=None) -> None:
        """Save one graded answer to the learner's progress file (when recording), and show any note."""
        if self.record:
            from ..exam.progress import record_answer

            note = record_answer(question["id"], feedback.correct)
            if note:
                self.notes.value = f"<i>{html.escape(note)}</i>"

    def text(self) -> str:
        """The questions as plain text (what a static viewer shows)."""
        import re

        return _quiz_text(self.questions, html.unescape(re.sub(r"<[^>]+>", "", self.heading)) or "Exam-style questions", self.command)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.text()
        return bundle


def show_quiz(questions: list[dict], record: bool = False) -> Quiz:
    """Exam-style questions to answer in the notebook, with an explanation for every option."""
    if not questions:
        raise ValueError("No questions to show: check the lab number passed to load_questions().")
    labs = sorted({q["lab"] for q in questions})
    command = "python -m lab_helpers quiz" + (f" --lab {labs[0]}" if len(labs) == 1 else "")
    return Quiz(questions, record=record, command=command)


def quick_check(lab: str | int, n: int = 4, seed: int = 0, record: bool = True) -> Quiz:
    """The end-of-lab quick check: n questions tagged with the lab, missed and unseen ones first; answers are saved."""
    from ..exam.bank import lab_number, load_questions, quick_check_questions
    from ..exam.progress import load_progress, progress_path

    number = lab_number(lab)
    progress = load_progress()
    questions = quick_check_questions(number, n, progress.history(), seed)
    pool = len(load_questions(lab=number))
    note = f"<br><i>{html.escape(progress.note)}</i>" if progress.note else ""
    saved = f"Your answers are saved in {html.escape(str(progress_path()))}, so the next run" if record else "The next run"
    heading = (f"<b>Quick check — lab {number}:</b> {len(questions)} of the {pool} questions for this lab, "
               f"the ones you got wrong or have not answered first. {saved} shows others.{note}")
    return Quiz(questions, heading=heading, record=record, command=f"python -m lab_helpers quiz --lab {number}")


class MockExam:
    """A timed mock exam: answers are locked in as you go; Finish shows the score by topic, what to review and every explanation."""

    def __init__(self, questions: list[dict], minutes: float | None = 30, record: bool = True, clock=None):
        import time

        from ..exam.bank import ExamSession

        self.session = ExamSession(questions, minutes, clock or time.monotonic)
        self.record, self.questions = record, questions
        self.items = [QuizQuestion(q, i, on_graded=self.on_graded, reveal=False) for i, q in enumerate(questions, 1)]
        limit = f"{minutes:g} minutes" if minutes else "no time limit"
        self.clock_line = w.HTML(self.time_text())
        self.finish_button = w.Button(description="Finish and score", button_style="success")
        self.finish_button.on_click(lambda _: self.finish())
        self.results = w.HTML("")
        self.finished = None
        heading = w.HTML(f"<b>Mock exam:</b> {len(questions)} questions spread over the kit's topics, {limit}. Lock in each answer; "
                         "the explanations, your score by topic and the labs to review appear when you press "
                         "<b>Finish and score</b>. Answers locked in after the time limit do not count.")
        self.box = w.VBox([heading, self.clock_line, *[item.box for item in self.items], self.finish_button, self.results])

    def time_text(self) -> str:
        """'About 23 minutes left' (checked whenever you lock in an answer)."""
        left = self.session.seconds_left()
        if left is None:
            return "<i>No time limit.</i>"
        if left <= 0:
            return "<b>Time is up</b>: press Finish and score."
        return f"<i>About {left / 60:.0f} minute{'s' if round(left / 60) != 1 else ''} left (updated when you lock in an answer).</i>"

    def on_graded(self, question: dict, feedback: Feedback, chosen=None) -> Feedback:
        """Score a locked-in answer in the session (late answers do not count) and save it to progress."""
        counted = self.session.answer(question, chosen)
        self.clock_line.value = self.time_text()
        if self.record and question["id"] not in self.session.late:
            from ..exam.progress import record_answer

            record_answer(question["id"], counted.correct)
        return counted

    def finish(self):
        """End the exam: reveal every explanation, show the score by topic and the labs to review."""
        if self.finished is not None:
            return self.finished
        result = self.session.result()
        for item in self.items:
            item.show_feedback()
        self.finish_button.disabled = True
        self.results.value = exam_result_html(result)
        if self.record:
            from ..exam.progress import record_session

            record_session(result.record("mock exam"))
        self.finished = result
        return result

    def text(self) -> str:
        """The questions as plain text (what a static viewer shows)."""
        return _quiz_text(self.questions, "Mock exam", "python -m lab_helpers quiz -n 20 --minutes 30")

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.text()
        return bundle


def exam_result_html(result) -> str:
    """The score, a table of scores by topic, and the labs to review."""
    cell = "style='text-align:right;padding:0 12px'"
    rows = "".join(f"<tr><td>{html.escape(t.title)}</td><td {cell}>{t.right} of {t.asked}</td><td {cell}>{percent(t.share)}</td></tr>"
                   for t in result.by_topic)
    review = ("".join(f"<li>{html.escape(item.text())}</li>" for item in result.review)
              or "<li>Nothing: every question right.</li>")
    late = f" {result.late} late answer(s) did not count." if result.late else ""
    return (f"<h4>Score: {result.right} of {result.asked} ({percent(result.share)}) in {result.seconds / 60:.1f} min.{late}</h4>"
            f"<table><tr><th>topic</th><th>right</th><th></th></tr>{rows}</table><p><i>{html.escape(TOPIC_NOTE)}</i></p>"
            f"<p><b>Review these:</b></p><ul>{review}</ul>")


def mock_exam(n: int = 20, minutes: float | None = 30, seed: int = 0, topic: str | None = None, record: bool = True,
              clock=None) -> MockExam:
    """A timed mock exam of n questions over every topic (or one topic); missed and unseen questions first."""
    from ..exam.bank import mock_exam_questions
    from ..exam.progress import load_progress

    return MockExam(mock_exam_questions(n, load_progress().history(), seed, topic), minutes, record, clock)


def progress_table():
    """The learner's progress over the whole bank, by topic (a DataFrame), with a one-line summary printed."""
    import pandas as pd

    from ..exam.bank import load_questions
    from ..exam.progress import load_progress, progress_by_topic, progress_summary

    progress, questions = load_progress(), load_questions()
    if progress.note:
        print(progress.note)
    print(progress_summary(progress, questions))
    return pd.DataFrame(progress_by_topic(progress, questions)).set_index("topic")
