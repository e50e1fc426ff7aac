"""Interactive pieces for the notebooks. Each handler is a plain function; the widgets only wire it up."""
from __future__ import annotations

import html

import ipywidgets as w

from .quiz import THREATS, Feedback, drill_score, grade_card, grade_question, load_threat_cards


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


class QuizQuestion:
    """One exam-style question: pick, press Check, read why every option is right or wrong."""

    def __init__(self, question: dict, number: int = 1):
        self.question = question
        labels = [f"{chr(65 + i)}. {o['text']}" for i, o in enumerate(question["options"])]
        self.multiple = question["format"] == "multiple"
        if self.multiple:
            self.inputs = [w.Checkbox(value=False, description=label, indent=False, layout=w.Layout(width="auto")) for label in labels]
        else:
            self.inputs = [w.RadioButtons(options=labels, value=None, layout=w.Layout(width="auto"))]
        self.button = w.Button(description="Check", button_style="primary")
        self.feedback = w.HTML("")
        self.button.on_click(lambda _: self.check())
        hint = " <i>(choose all that apply)</i>" if self.multiple else ""
        stem = w.HTML(f"<b>Q{number}.</b> {html.escape(question['stem'])}{hint}")
        self.box = w.VBox([stem, *self.inputs, self.button, self.feedback])

    def chosen(self) -> set[int]:
        """Indices of the options currently ticked."""
        if self.multiple:
            return {i for i, box in enumerate(self.inputs) if box.value}
        radio = self.inputs[0]
        return set() if radio.value is None else {radio.options.index(radio.value)}

    def check(self) -> Feedback:
        """Grade the current choice and show the explanations."""
        result = grade_question(self.question, self.chosen())
        self.feedback.value = feedback_html(result)
        return result

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


class Quiz:
    """A column of exam-style questions, each with its own Check button."""

    def __init__(self, questions: list[dict]):
        self.items = [QuizQuestion(q, i) for i, q in enumerate(questions, 1)]
        self.box = w.VBox([item.box for item in self.items])

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def show_quiz(questions: list[dict]) -> Quiz:
    """Exam-style questions to answer in the notebook, with an explanation for every option."""
    if not questions:
        raise ValueError("No questions to show: check the lab number passed to load_questions().")
    return Quiz(questions)
