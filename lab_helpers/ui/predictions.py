"""Predict, then see: the learner commits a prediction before the measurement is shown, then reads why."""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import Callable

import ipywidgets as w

from .widgets import keyboard_guard

from ..formatting import percent

CHECK_ENV = "LAB_CHECK_GUIDED"  # set by the test suite: predictions measure and decisions grade every option at once
MEASURE_ENV = "LAB_MEASURE_PREDICTIONS"  # set by `prepare`: predictions measure at once (for the labs' summaries)


@dataclass
class Prediction:
    """One prediction point of a guided path.

    Parameters
    ----------
    key : a short id, kept in the progress file with the learner's choice (e.g. 'lab02-letters').
    question : what the learner predicts, one sentence.
    options : the choices, as the learner reads them.
    measure : returns (index of the option the measurement supports, the measured result in one or two sentences);
        called once, on the first commit, so the result stays hidden until the learner has chosen.
    why : two sentences on why it comes out that way.
    """

    key: str
    question: str
    options: list[str]
    measure: Callable[[], tuple[int, str]]
    why: str
    _measured: tuple[int, str] | None = field(default=None, repr=False)

    def result(self) -> tuple[int, str]:
        """The measurement (cached after the first call)."""
        if self._measured is None:
            right, text = self.measure()
            if not 0 <= right < len(self.options):
                raise ValueError(f"measure() named option {right}; this prediction has options 0..{len(self.options) - 1}.")
            self._measured = (int(right), str(text))
            from ..exam.summaries import record_measurement
            record_measurement(self.key, self.question, self._measured[1], self.why)  # for the lab's summary page
        return self._measured

    def commit(self, choice: int | None, record: bool = False) -> str:
        """The feedback (HTML) for a choice: what was measured, whether the prediction held, and why."""
        if choice is None:
            return "<i>Choose one answer first, then lock it in: the measurement is shown after you commit.</i>"
        if not 0 <= choice < len(self.options):
            raise ValueError(f"Choice {choice} does not exist: the options are 0..{len(self.options) - 1}.")
        right, text = self.result()
        verdict = "✔ Your prediction held." if choice == right else (
            f"✘ Not this time: the measurement supports “{html.escape(self.options[right])}”.")
        if record:
            from ..exam.progress import record_session
            record_session({"kind": "prediction", "id": self.key, "chosen": self.options[choice],
                            "held": choice == right})
        colour = "#1b7f3b" if choice == right else "#b3261e"
        return (f'<div role="status" style="border-left:4px solid {colour};padding:4px 8px">'
                f"<b>{verdict}</b><br><b>Measured:</b> {html.escape(text)}<br><b>Why:</b> {html.escape(self.why)}</div>")


def predict_first(prediction: Prediction, record: bool = True) -> w.VBox:
    """The widget: radio buttons (keyboard: Tab, then arrow keys), a Lock in button, the feedback below."""
    from .widgets import accessible_button

    choices = w.RadioButtons(options=[(text, i) for i, text in enumerate(prediction.options)], value=None,
                             layout=w.Layout(width="auto"), description="")
    button = accessible_button("Lock in my prediction", "primary", tooltip="Commit, then see the measurement")
    out = w.HTML("")

    def on_click(_):
        out.value = prediction.commit(choices.value, record=record)
        if choices.value is not None:
            choices.disabled = button.disabled = True

    button.on_click(on_click)
    box = w.VBox([w.HTML(f"<b>Predict first:</b> {html.escape(prediction.question)}"), choices, button, out,
                  keyboard_guard()])
    box.prediction = prediction  # for tests: the plain handler behind the widget
    if os.environ.get(CHECK_ENV) or os.environ.get(MEASURE_ENV):  # a test run or `prepare`: measure now (nothing
        prediction.result()  # shown), so a broken measure fails and the lab's summary has its numbers
    return box


MIN_WORDS, MAX_WORDS = 8, 120


def manager_note_feedback(lab: str, text: str, record: bool = False) -> str:
    """The handler of 'explain it to your manager': checks the length, saves the sentence to the progress file.

    The note is not graded: it is the learner's own words, kept so they can read them back before the exam.
    """
    words = len(str(text or "").split())
    if words < MIN_WORDS:
        return (f"<i>Write at least {MIN_WORDS} words ({words} so far): what the attack got, from what, and which "
                "control reduced it.</i>")
    if words > MAX_WORDS:
        return f"<i>Keep it to {MAX_WORDS} words or fewer ({words} now): a manager reads one or two sentences.</i>"
    saved = ""
    if record:
        from ..exam.progress import record_session
        note = record_session({"kind": "manager_note", "lab": str(lab), "text": " ".join(str(text).split())})
        saved = f" {html.escape(note)}" if note else ""
    return f'<div role="status">✔ Saved ({words} words). Read it again before the exam: does it name the control?{saved}</div>'


def explain_to_your_manager(lab: str, record: bool = True) -> w.VBox:
    """A free-text box for one or two sentences in the learner's own words, saved to the progress file."""
    from .widgets import accessible_button

    box = w.Textarea(placeholder="e.g. An attacker who can ask our model questions can ... The control that helped was ...",
                     layout=w.Layout(width="95%", height="80px"), description="",
                     # sent once, when the box loses focus: typed keys sent one by one queue behind each other in
                     # ipywidgets, and a quick Tab + Enter on Save reached the kernel before the last words (issue 26)
                     continuous_update=False)
    button = accessible_button("Save my sentence", "primary")
    out = w.HTML("")
    button.on_click(lambda _: setattr(out, "value", manager_note_feedback(lab, box.value, record=record)))
    widget = w.VBox([w.HTML("<b>Explain it to your manager</b> in one or two sentences, in your own words: what "
                            "leaked, through what, and what reduced it."), box, button, out])
    widget.handler = manager_note_feedback
    return widget


@dataclass
class Decision:
    """The guided path's graded decision: one choice, partial credit, feedback that explains what is wrong.

    Parameters
    ----------
    key : a short id, kept in the progress file with the credit (e.g. 'lab01-leaf-size').
    question : the decision and its requirements, as the learner reads them.
    options : the choices (shown as given).
    grade : choice -> (credit from 0 to 1, one line per requirement saying whether the choice meets it and why);
        the lines must say what is wrong, never which option to pick.
    """

    key: str
    question: str
    options: list
    grade: Callable[[object], tuple[float, list[str]]]

    def check(self, choice, record: bool = False) -> str:
        """The feedback (HTML) for a choice, with the credit in marks."""
        if choice is None:
            return "<i>Choose one first.</i>"
        if choice not in self.options:
            raise ValueError(f"{choice!r} is not one of the options: {self.options}.")
        credit, lines = self.grade(choice)
        credit = float(min(1.0, max(0.0, credit)))
        if record:
            from ..exam.progress import record_session
            record_session({"kind": "decision", "id": self.key, "chosen": str(choice), "credit": round(credit, 2)})
        head = ("✔ Full marks." if credit == 1 else "✘ No marks yet." if credit == 0 else
                f"◐ Partly right: {percent(credit)} of the marks.")
        colour = "#1b7f3b" if credit == 1 else "#b36b00" if credit > 0 else "#b3261e"
        body = "<br>".join(html.escape(line) for line in lines)
        return f'<div role="status" style="border-left:4px solid {colour};padding:4px 8px"><b>{head}</b><br>{body}</div>'


def decide(decision: Decision, record: bool = True) -> w.VBox:
    """The widget: a drop-down (keyboard: Tab, then arrow keys), a Check button, the feedback; re-checkable."""
    from .widgets import accessible_button

    menu = w.Dropdown(options=[("— choose —", None)] + [(str(o), o) for o in decision.options], value=None,
                      description="", layout=w.Layout(width="auto"))
    button = accessible_button("Check my decision", "primary")
    out = w.HTML("")
    button.on_click(lambda _: setattr(out, "value", decision.check(menu.value, record=record)))
    box = w.VBox([w.HTML(f"<b>Your decision</b> (graded like a performance-based question): "
                         f"{html.escape(decision.question)}"), menu, button, out, keyboard_guard()])
    box.decision = decision
    if os.environ.get(CHECK_ENV):
        credits = [decision.grade(option)[0] for option in decision.options]
        if max(credits) < 1:
            raise ValueError(f"Decision {decision.key!r}: no option earns full marks ({credits}); the grade is wrong.")
    return box
