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
    colour = "#1b7f3b" if feedback.correct else "#b36b00" if feedback.credit > 0 else "#b3261e"  # partial credit: amber
    body = "<br>".join(html.escape(line) for line in feedback.message.splitlines())
    return f'<div style="border-left:4px solid {colour};padding:4px 8px;margin:2px 0">{body}</div>'


def drill_score_text(answers: dict, cards: list[dict]) -> str:
    """'Score: 3 of 4 sorted correctly (8 cards)'."""
    right, answered = drill_score(answers, cards)
    return f"<b>Score: {right} of {answered} sorted correctly</b> ({len(cards)} cards)"


# Button colours with white text at 4.5:1 or more (WCAG AA); ipywidgets' own button_style colours are lighter
# (white on its teal 3.5:1, orange 2.7:1, green 4.1:1). Never colour alone: the label says the state too.
BUTTON_COLOURS = {"primary": "#0b5394", "info": "#00607a", "success": "#1b6e36", "warning": "#8a4500",
                  "danger": "#a4161a"}


def paint(button, kind: str = "") -> None:
    """Give a button one of BUTTON_COLOURS with white text ('' = the theme's plain button)."""
    button.style.button_color = BUTTON_COLOURS.get(kind) or None
    button.style.text_color = "white" if kind else None
    button.shown_state = kind  # what it shows, readable by tests


def accessible_button(description: str, kind: str, **kwargs):
    """An ipywidgets Button in one of BUTTON_COLOURS (white text at 4.5:1 or more)."""
    button = w.Button(description=description, **kwargs)
    paint(button, kind)
    return button


class SortingDrill:
    """Scenario cards the learner sorts into the four threats, with feedback on every click.

    The cards are shown in a fixed shuffle (seed) in which no two neighbours share an answer; n: only that many
    cards (every threat among them), None: all of them.
    """

    def __init__(self, cards: list[dict] | None = None, seed: int = 0, n: int | None = None):
        from ..exam.bank import drill_order

        self.cards = drill_order(cards if cards is not None else load_threat_cards(), seed, n)
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


def sorting_drill(cards: list[dict] | None = None, seed: int = 0, n: int | None = None) -> SortingDrill:
    """The lab 00 sorting drill: model inversion vs extraction vs adversarial examples vs poisoning, cards shuffled
    (n: only that many cards, every threat among them; None: all)."""
    return SortingDrill(cards, seed, n)


# ---------------------------------------------------------------- exam-style questions, quick checks, mock exams
# The logic (grading, picking, scoring, progress) is plain Python in lab_helpers.exam; these widgets only wire it up.

# Long options wrap inside their own row: ipywidgets gives each radio label a fixed height, so a wrapped label ran over
# the next option's button. Here a label grows with its text, its button (after the text in the page) shown first, on
# the left. Every quiz box carries the class below and this style sheet.
QUIZ_CSS = """<style>
.lab-quiz .widget-radio-box label { height: auto !important; min-height: var(--jp-widgets-radio-item-height);
  line-height: 1.35 !important; white-space: normal; display: flex; flex-direction: row-reverse;
  justify-content: flex-end; align-items: flex-start; margin: 2px 0 7px 0; }
.lab-quiz .widget-radio-box input { flex: none; margin: 2px 8px 0 1px !important; height: auto !important; float: none; }
.lab-quiz .widget-html-content { line-height: 1.35; white-space: normal; }
.lab-quiz .lab-option { align-items: flex-start; margin-bottom: 4px; }
.lab-quiz .lab-option .widget-checkbox { flex: 1 1 auto; width: auto !important; height: auto !important; }
.lab-quiz .lab-option .widget-label-basic { height: auto !important; display: flex; align-items: flex-start;
  line-height: 1.35 !important; white-space: normal; cursor: pointer; }
.lab-quiz .lab-option .widget-label-basic input { flex: none; margin: 2px 8px 0 1px !important; }
.lab-quiz .lab-option .widget-label-basic span { white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; }
.lab-quiz .lab-nav button { min-width: 34px; }
</style>"""


def _quiz_text(questions: list[dict], heading: str, command: str) -> str:
    """The plain-text view of a quiz for viewers that do not render widgets."""
    from ..exam.bank import question_text

    body = "\n\n".join(question_text(q, i, prepare=False) for i, q in enumerate(questions, 1))
    return (f"{heading}\n(Interactive widgets are not shown here. To answer these questions in a terminal, run:\n"
            f"    {command})\n\n{body}")


def _task_materials(question: dict) -> list:
    """What a performance-based question gives the learner to work on: the log's path and how to read it, the model
    card, or what a policy may set (built on first use)."""
    from ..exam.pbq import GatewayTask, LogTriage, ReleaseReview, task_for

    if not question.get("task"):
        return []
    task = task_for(question)
    if isinstance(task, ReleaseReview):
        from IPython.display import Markdown, display

        card = w.Output(layout=w.Layout(border="1px solid #ccc", padding="4px 10px", margin="4px 0"))
        with card:
            display(Markdown(task.brief()))
        return [card]
    if isinstance(task, LogTriage):
        return [LogPanel(task).box]
    if isinstance(task, GatewayTask):
        return [w.HTML(f"<div style='margin:4px 0'><i>{html.escape(task.brief())}</i></div>")]
    return []


class LogPanel:
    """Where a log-triage task's audit log is and how to read it; the log is built when the learner opens it (about
    30 seconds the first time on a machine, then it is reused)."""

    def __init__(self, task):
        self.task = task
        self.button = accessible_button("Open the audit log", "info", icon="database")
        self.button.on_click(lambda _: self.open())
        self.info = w.HTML("")
        self.box = w.VBox([self.button, self.info])
        if task.built():
            self.open()

    def open(self) -> None:
        """Build the log if needed, then say where it is and how to query it."""
        self.button.disabled = True
        self.info.value = "<i>Writing the day's audit log (about 30 seconds the first time)…</i>"
        path = html.escape(str(self.task.path()))
        self.button.layout.display = "none"
        self.info.value = (f"<div style='margin:4px 0'>The audit log: <code>{path}</code><br>Tables: <code>requests</code> "
                           "(id, time, key_id, client address:port, model, n_inputs, status, output, returned labels…), "
                           "<code>sketches</code> (per answered input, sealed in the file, opened by <code>read_sketches</code>: an 8×8 thumbnail of an image in hex, or one keyed "
                           "digest per field of a record), <code>alerts</code> (rule, key_id, request_id). Query it in a "
                           "cell below, e.g.<br><code>from lab_helpers.defences import read_requests; "
                           f"log = read_requests(r\"{path}\")</code>, or with <code>sqlite3</code>.</div>")


class QuizQuestion:
    """One exam-style question. reveal=True: choose, press Check, read why every option is right or wrong.
    reveal=False (a mock exam): no button; the answer can be changed until the exam is submitted, and
    on_change(item) is called on every change."""

    def __init__(self, question: dict, number: int = 1, on_graded=None, reveal: bool = True, on_change=None):
        self.question, self.on_graded, self.reveal, self.on_change = question, on_graded, reveal, on_change
        self.format = question["format"]
        self.multiple = self.format == "multiple"
        self.result: Feedback | None = None
        self.order: list[int] = []  # single, multiple: the stored option shown at each position (option_order)
        self.inputs, rows, hint = self._inputs()
        self.button = accessible_button("Check", "primary")
        self.feedback = w.HTML("")
        self.answer_line = w.HTML("")
        self.answer_line.add_class("lab-answer")
        self.button.on_click(lambda _: self.check())
        for widget in self.inputs:
            widget.observe(lambda _change: self._changed(), names="value")
        flavour = " <i>[best control]</i>" if question.get("style") == "best-control" else ""
        stem = w.HTML(f"<b>Q{number}.</b>{flavour} {html.escape(question['stem'])}{hint}")
        controls = [self.button] if reveal else [self.answer_line]
        self.box = w.VBox([stem, *_task_materials(question), *rows, *controls, self.feedback],
                          layout=w.Layout(width="100%"))
        self.box.add_class("lab-quiz")
        if not reveal:
            self.answer_line.value = f"<i>{html.escape(self.answer_text())}</i>"

    def _inputs(self) -> tuple[list, list, str]:
        """The answer widgets, the rows that lay them out, and a hint after the stem, for this question's format."""
        from ..exam.bank import choice_order, display_order, field_choice_order, match_choices, option_order, ordering_rule

        q = self.question
        if self.format in ("single", "multiple"):  # options in the question's fixed shuffle; chosen() maps them back
            self.order = option_order(q)
            shown = [q["options"][i]["text"] for i in self.order]
        if self.format == "multiple":
            # the option's text is the checkbox's own label: clicking it ticks the box, and a screen reader names it
            boxes = [w.Checkbox(value=False, indent=False, description=f"{chr(65 + k)}. {text}",
                                layout=w.Layout(width="auto")) for k, text in enumerate(shown)]
            rows = []
            for box in boxes:
                row = w.HBox([box], layout=w.Layout(width="100%"))
                row.add_class("lab-option")
                rows.append(row)
            return boxes, rows, "" if "choose" in q["stem"].lower() else " <i>(choose all that apply)</i>"
        if self.format == "single":
            radio = w.RadioButtons(options=[f"{chr(65 + k)}. {text}" for k, text in enumerate(shown)], value=None,
                                   layout=w.Layout(width="100%"))
            return [radio], [radio], ""
        if self.format == "ordering":
            options = [("— choose —", None)] + [(f"{chr(65 + k)}. {q['steps'][i]['text']}", i)
                                                 for k, i in enumerate(display_order(q))]
            menus = [w.Dropdown(options=options, value=None, layout=w.Layout(width="90%")) for _ in q["steps"]]
            rows = [w.HBox([w.HTML(f"<b>Step {k + 1}</b>&nbsp;", layout=w.Layout(width="70px")), m]) for k, m in enumerate(menus)]
            return menus, rows, f" <i>(choose a step for each position; partial credit: {ordering_rule(len(q['steps']))})</i>"
        if self.format == "matching":
            choices = match_choices(q)
            options = [("— choose —", None)] + [(f"{chr(65 + k)}. {choices[i]}", i) for k, i in enumerate(choice_order(q))]
            menus = [w.Dropdown(options=options, value=None, layout=w.Layout(width="60%")) for _ in q["pairs"]]
            rows = [w.HBox([w.HTML(f"<b>{html.escape(p['item'])}</b>", layout=w.Layout(width="38%")), m])
                    for p, m in zip(q["pairs"], menus)]
            return menus, rows, " <i>(match each item; each choice once at most; credit for each item)</i>"
        if self.format == "fields":
            inputs, rows = [], []
            for f in q["fields"]:
                if f["kind"] == "choice":
                    options = [("— choose —", None)] + [(f["choices"][i], i) for i in field_choice_order(q, f)]
                    box = w.Dropdown(options=options, value=None, layout=w.Layout(width="58%"))
                else:
                    box = w.Text(value="", placeholder="a number" if f["kind"] == "number" else "type it",
                                 layout=w.Layout(width="58%"))
                inputs.append(box)
                rows.append(w.HBox([w.HTML(f"<b>{html.escape(f['prompt'])}</b>", layout=w.Layout(width="40%")), box]))
            return inputs, rows, " <i>(one mark per answer)</i>"
        return self._policy_inputs()

    def _policy_inputs(self) -> tuple[list, list, str]:
        """A form for a gateway policy, filled in with the policy the gateway has now (the question's template)."""
        from ..exam.pbq import DETECTORS, OUTPUTS

        template, self.fields = self.question["template"], {}
        rows = [w.HTML("<b>Requirements</b> (one mark each):<ol>" + "".join(
            f"<li>{html.escape(r['text'])}</li>" for r in self.question["requirements"]) + "</ol>")]
        for role in ("public", "analyst"):
            spec = template[role]
            self.fields[role] = {
                "output": w.Dropdown(options=list(OUTPUTS), value=spec["output"], description="output",
                                     layout=w.Layout(width="230px")),
                "burst": w.BoundedIntText(value=spec["burst"], min=1, max=10**7, description="burst", layout=w.Layout(width="190px")),
                "per_minute": w.BoundedFloatText(value=spec["per_minute"], min=0.001, max=10**7, description="per minute",
                                                 layout=w.Layout(width="210px")),
                "per_day": w.BoundedIntText(value=spec["per_day"], min=1, max=10**9, description="per day",
                                            layout=w.Layout(width="220px")),
            }
            rows.append(w.HBox([w.HTML(f"<b>{role} role</b>", layout=w.Layout(width="110px")), *self.fields[role].values()]))
        self.fields["flags"] = {k: w.Checkbox(value=bool(template.get(k, False)), description=k.replace("_", " "), indent=False,
                                              layout=w.Layout(width="170px"))
                                for k in ("rate_limits", "granularity", "block_on_alert")}
        self.fields["flags"]["detector"] = w.Dropdown(options=list(DETECTORS), value=template.get("detector", "baseline"),
                                                      description="detector", layout=w.Layout(width="220px"))
        rows.append(w.HBox(list(self.fields["flags"].values())))
        inputs = [x for group in self.fields.values() for x in group.values()]
        return inputs, rows, " <i>(graded by running ordinary traffic and the attacks against your policy: a few seconds)</i>"

    def chosen(self):
        """The current answer, as grade_question expects it (stored option indices, whatever order they are shown in)."""
        if self.format == "multiple":
            return {self.order[k] for k, box in enumerate(self.inputs) if box.value}
        if self.format == "single":
            radio = self.inputs[0]
            return set() if radio.value is None else {self.order[radio.options.index(radio.value)]}
        if self.format == "fields":
            from ..exam.bank import parse_field

            answers = {}
            for f, box in zip(self.question["fields"], self.inputs):
                if f["kind"] == "choice":
                    answers[f["name"]] = box.value
                else:
                    try:
                        answers[f["name"]] = parse_field(self.question, f, box.value)
                    except ValueError:
                        answers[f["name"]] = box.value.strip()  # graded as given: a wrong number earns no mark
            return answers
        if self.format == "policy":
            spec = {role: {k: x.value for k, x in self.fields[role].items()} for role in ("public", "analyst")}
            return spec | {k: x.value for k, x in self.fields["flags"].items()}
        return [d.value for d in self.inputs]

    def answered(self) -> bool:
        """Has the learner given an answer (a policy counts once it differs from the gateway's current one)?"""
        value = self.chosen()
        if self.format == "policy":
            return value != self.question["template"]
        if self.format == "fields":
            return any(v not in (None, "") for v in value.values())
        if self.format in ("ordering", "matching"):
            return all(v is not None for v in value)
        return bool(value)

    def _changed(self) -> None:
        """Keep the 'your answer' line current and tell the exam (mock exam only)."""
        if self.reveal:
            return
        self.answer_line.value = f"<i>{html.escape(self.answer_text())}</i>"
        if self.on_change is not None:
            self.on_change(self)

    def answer_text(self) -> str:
        """'Your answer: B', 'Your answers: A, C', '3 of 5 steps placed', 'Not answered yet'."""
        value = self.chosen()
        if self.format in ("single", "multiple"):
            letters = sorted(chr(65 + self.order.index(i)) for i in value)
            return (f"Your answer{'s' if len(letters) > 1 else ''}: {', '.join(letters)}" if letters else "Not answered yet")
        if self.format in ("ordering", "matching"):
            from ..exam.bank import choice_order, display_order

            shown = display_order(self.question) if self.format == "ordering" else choice_order(self.question)
            letters = ["—" if v is None else chr(65 + shown.index(v)) for v in value]
            placed = sum(v is not None for v in value)
            what = (f"Your order: {', '.join(letters)}" if self.format == "ordering" else
                    "Your matches: " + ", ".join(f"{k + 1}→{x}" for k, x in enumerate(letters)))
            return what + ("" if placed == len(value) else " (it counts once every one is chosen)")
        if self.format == "fields":
            from ..exam.bank import field_choice_order

            parts = []
            for k, f in enumerate(self.question["fields"], 1):
                v = value[f["name"]]
                shown = ("—" if v in (None, "") else chr(65 + field_choice_order(self.question, f).index(v))
                         if f["kind"] == "choice" else str(v))
                parts.append(f"{k}. {shown}")
            return "Your answers: " + "; ".join(parts)
        return "Your policy differs from the gateway's current one" if self.answered() else "Not changed yet"

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

    def fill(self, answer) -> None:
        """Enter an answer as grade_question takes it (every format): what a learner's clicks and typing would do."""
        if self.format in ("single", "multiple"):
            self.select(answer)
        elif self.format == "fields":
            for f, box in zip(self.question["fields"], self.inputs):
                value = answer.get(f["name"])
                box.value = value if f["kind"] == "choice" else ("" if value is None else str(value))
        elif self.format == "policy":
            for role in ("public", "analyst"):
                for k, x in self.fields[role].items():
                    x.value = answer[role][k]
            for k, x in self.fields["flags"].items():
                x.value = answer.get(k, False if k != "detector" else "baseline")
        else:
            for box, value in zip(self.inputs, answer):
                box.value = value

    def check(self) -> Feedback:
        """Grade the current answer and show the explanations."""
        chosen = self.chosen()
        if self.format == "policy":
            self.feedback.value = "<i>Running the ordinary day and the attacks against your policy…</i>"
        result = grade_question(self.question, chosen)
        if result.answered and self.on_graded is not None:
            result = self.on_graded(self.question, result, chosen) or result
        self.feedback.value = feedback_html(result)
        return result

    def show_feedback(self, result: Feedback | None = None) -> None:
        """Reveal the explanations (the end of a mock exam); unanswered questions show the right answer."""
        from ..exam.bank import unanswered_feedback

        self.result = result if result is not None and result.answered else unanswered_feedback(self.question)
        for widget in (*self.inputs, self.button):
            widget.disabled = True
        self.feedback.value = feedback_html(self.result)

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


# JupyterLab's notebook shortcuts (ArrowUp/ArrowDown: select another cell; A, B, M, X, D D, ...) match any focused
# element that is not a text field (selector ".jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus"), so an
# arrow key on a radio button or a drop-down moved to another cell instead of changing the answer (issue 26). This
# listener, installed once per page by the first widget drawn (also from a reopened notebook's saved state), stops
# those keys on the way to JupyterLab's document-level handler when a widget's radio button, tick box or drop-down
# has focus; the browser's own action (choose the next option) still happens. Ctrl/Alt/Cmd keys (Ctrl+S), Tab,
# Enter and Escape pass through. JupyterLab's own answer is the data-lm-suppress-shortcuts attribute, which ipywidgets
# cannot set from Python, and which would also swallow Ctrl+S and Shift+Enter.
_KEY_GUARD_JS = (
    "if(!window.__labKeyGuard){window.__labKeyGuard=1;window.addEventListener('keydown',function(e){"
    "var t=e.target;if(!t||!t.closest||!t.closest('.jupyter-widgets')||e.ctrlKey||e.metaKey||e.altKey)return;"
    "if(!t.matches('input[type=radio],input[type=checkbox],select'))return;"
    "if(/^(Arrow|Page)|^(Home|End| )$/.test(e.key)||e.key.length===1)e.stopPropagation();},true);"
    # ipywidgets draws RadioButtons as inputs without a shared name: each was its own Tab stop and group. Named
    # (on first focus), the options are one group: Tab enters on the chosen one, arrows move within, Tab leaves.
    "window.addEventListener('focusin',function(e){var t=e.target;"
    "if(!t||!t.matches||!t.matches('.jupyter-widgets .widget-radio-box input[type=radio]'))return;"
    "var b=t.closest('.widget-radio-box');if(b.getAttribute('role'))return;var n='lab-radio-'+(++window.__labKeyGuard);"
    "b.setAttribute('role','radiogroup');b.querySelectorAll('input[type=radio]').forEach(function(r){r.name=n;});},true);}"
)


def keyboard_guard() -> w.HTML:
    """An invisible widget that lets arrow keys and letters reach the kit's radio buttons and drop-downs in
    JupyterLab (see _KEY_GUARD_JS)."""
    guard = w.HTML(f'<img src="data:," alt="" hidden onerror="{html.escape(_KEY_GUARD_JS)}">',
                   layout=w.Layout(display="none"))
    guard.add_class("lab-key-guard")
    return guard


def _with_css(box: w.Widget) -> w.VBox:
    """The box with the quiz style sheet in front of it (long options wrap in their own row) and the keyboard guard
    (arrow keys on its radio buttons and menus change the answer, not JupyterLab's cell)."""
    out = w.VBox([w.HTML(QUIZ_CSS), keyboard_guard(), box], layout=w.Layout(width="100%"))
    out.add_class("lab-quiz")
    return out


class Quiz:
    """A column of exam-style questions, each with its own Check button; optionally saves answers to progress."""

    def __init__(self, questions: list[dict], heading: str = "", record: bool = False, command: str = "python -m lab_helpers quiz"):
        self.questions, self.record, self.command = questions, record, command
        self.heading = heading
        self.notes = w.HTML("")
        self.items = [QuizQuestion(q, i, on_graded=self.on_graded) for i, q in enumerate(questions, 1)]
        self.box = _with_css(w.VBox(([w.HTML(heading)] if heading else []) + [item.box for item in self.items] + [self.notes]))

    def on_graded(self, question: dict, feedback: Feedback, chosen=None) -> None:
        """Save one graded answer to the learner's progress file (when recording), and show any note."""
        if self.record:
            from ..exam.progress import record_answer

            note = record_answer(question["id"], feedback.correct, score=feedback.credit)
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
    from ..exam.bank import lab_number, quick_check_questions
    from ..exam.progress import load_progress, progress_path

    number = lab_number(lab)
    progress = load_progress()
    questions = quick_check_questions(number, n, progress.history(), seed)
    pool = len(quick_check_questions(number, 10_000))
    note = f"<br><i>{html.escape(progress.note)}</i>" if progress.note else ""
    saved = f"Your answers are saved in {html.escape(str(progress_path()))}, so the next run" if record else "The next run"
    heading = (f"<b>Quick check — lab {number}:</b> {len(questions)} of the {pool} questions for this lab, "
               f"the ones you got wrong or have not answered first. {saved} shows others.{note}")
    return Quiz(questions, heading=heading, record=record, command=f"python -m lab_helpers quiz --lab {number}")


def review_questions(n: int = 10, now=None) -> tuple[list[dict], str]:
    """The spaced-review handler: up to n questions due again (Leitner boxes, most overdue first), then new ones, and
    a one-line summary of what is due (plain text, for the widget and its tests)."""
    from ..exam.bank import in_mock_exam, load_questions
    from ..exam.progress import REVIEW_DAYS, load_progress, next_review, review_due

    pool = [q for q in load_questions() if in_mock_exam(q)]
    progress = load_progress()
    due, fresh = review_due(progress, pool, now)
    chosen = (due + fresh)[:n]
    if not chosen:
        when = next_review(progress, pool)
        return [], "Nothing is due: " + (f"the next question comes back on {when:%d %B at %H:%M}." if when else
                                         "every question is answered and waiting in a later box.")
    days = ", ".join(str(d) for d in REVIEW_DAYS[1:])
    return chosen, (f"{min(len(due), n)} question(s) due again and {len(chosen) - min(len(due), n)} new one(s). A question "
                    f"you get right comes back after {days} days as your streak grows; a wrong one comes back at once.")


def spaced_review(n: int = 10, record: bool = True) -> Quiz | w.HTML:
    """The questions a learner is due to see again (from the progress file), as a quiz whose answers are saved."""
    questions, summary = review_questions(n)
    if not questions:
        return w.HTML(f"<i>{html.escape(summary)}</i>")
    heading = f"<b>Spaced review:</b> {html.escape(summary)}"
    return Quiz(questions, heading=heading, record=record, command="python -m lab_helpers quiz --review")


_EXAMS = __import__("itertools").count()  # a number per exam widget: its countdown's own CSS class

# The countdown runs in the browser alone: a registered CSS integer animated from the seconds left to 0 and printed by
# CSS counters, so nothing reaches the kernel while the clock runs (a widget ticking once a second kept the kernel
# "busy"). Every learner action redraws it with the time the kernel measured; the kernel checks the limit itself on
# every action and at submit (ExamSession.time_up), so a page's clock can never buy time.
COUNTDOWN_CSS = """<style>
@property --lab-exam-left { syntax: '<integer>'; inherits: true; initial-value: 0; }
@property --lab-exam-min { syntax: '<integer>'; inherits: true; initial-value: 0; }
@keyframes lab-exam-count-{total} { from { --lab-exam-left: {total}; } to { --lab-exam-left: 0; } }
@keyframes lab-exam-show { to { visibility: visible; } }
.lab-exam-clock-{uid} { animation: lab-exam-count-{total} {total}s linear -{elapsed}s forwards;
  --lab-exam-min: calc((var(--lab-exam-left) - 30) / 60);
  counter-reset: lab-exam-m var(--lab-exam-min) lab-exam-s calc(var(--lab-exam-left) - var(--lab-exam-min) * 60); }
.lab-exam-clock-{uid}::before { content: counter(lab-exam-m) ":" counter(lab-exam-s, decimal-leading-zero); }
.lab-exam-up-{uid} { visibility: hidden; animation: lab-exam-show 0s linear {left}s forwards; }
</style>"""


def countdown_html(uid: int, total: float, left: float) -> str:
    """A countdown from `left` seconds (of `total`) that runs in the browser alone (COUNTDOWN_CSS), with the time as
    the kernel measured it for screen readers, and a note that shows itself when the time is up."""
    total, left = max(1, round(total)), max(0, round(left))
    css = (COUNTDOWN_CSS.replace("{uid}", str(uid)).replace("{total}", str(total))
           .replace("{elapsed}", str(total - left)).replace("{left}", str(left)))
    said = f"{left // 60}:{left % 60:02d}"
    return (f"{css}<b><span class='lab-exam-clock lab-exam-clock-{uid}' role='timer' "
            f"aria-label='{said} left at your last action' title='{said} left at your last action'></span></b> left "
            f"<span class='lab-exam-up-{uid}' style='color:#a4161a'><b>Time is up:</b> press Submit; answers changed "
            "now do not count.</span>")


class MockExam:
    """A mock exam that behaves like the real one: the pass mark and the weights stated up front, a clock, one
    question at a time (performance-based ones first, then the rest shuffled), flag for review, go back and change
    any answer, a review screen before submitting; then the verdict (PASS or FAIL) and the score by topic at the top,
    and every question's explanation under them.

    The clock counts down in the browser (countdown_html), not in the kernel; the kernel checks the time limit on
    every action and at submit. Every handler is a plain method (start, go, next, previous, toggle_flag, review,
    submit, tick), so tests drive it as a learner's clicks would.

    weights: question id -> marks (default: lab_helpers.exam.mock.exam_weights, PBQs worth more).
    """

    session_kind = "mock exam"  # what the progress file calls a finished sitting

    def __init__(self, questions: list[dict], minutes: float | None = 30, record: bool = True, clock=None,
                 pass_mark: float | None = None, weights: dict[str, float] | None = None, title: str = "Mock exam",
                 note: str = "", form: str = "custom"):
        import time

        from ..exam.bank import PASS_MARK, is_performance_based
        from ..exam.mock import exam_weights, weights_text

        self.questions, self.minutes, self.record, self.form = questions, minutes, record, form
        self.clock = clock or time.monotonic
        self.pass_mark = PASS_MARK if pass_mark is None else pass_mark
        self.weights = exam_weights(questions) if weights is None else weights
        self.uid = next(_EXAMS)
        self.session = None  # an ExamSession from start()
        self._items: dict[int, QuizQuestion] = {}  # built when first shown (a task builds its log then)
        self.answers: dict[str, object] = {}  # question id -> the answer given in time
        self.late: set[str] = set()  # questions whose answer was changed after the time limit
        self.flags: set[int] = set()
        self.current = 0
        self.finished = None
        self.graded: dict[str, Feedback] = {}
        self._submitting = False
        limit = f"{minutes:g} minutes" if minutes else "no time limit"
        pbqs = sum(is_performance_based(q) for q in questions)
        first = f", the {pbqs} performance-based ones first" if pbqs else ""
        self.heading = w.HTML(
            f"<b>{html.escape(title)}:</b> {len(questions)} questions{first}, in {limit}. "
            f"<b>Pass mark: {percent(self.pass_mark)}</b> of the weighted marks ({html.escape(weights_text())}). "
            "The result is PASS or FAIL with your score by topic, as CompTIA reports SecurityX (it publishes no score "
            "and no pass mark: the kit's line is its approximation). The real exam has up to 90 questions in 165 "
            "minutes and opens with performance-based ones. Flag any question for review, go back and change any "
            "answer until you submit. Partial credit: for an ordering, each step out of place costs a share of the "
            "mark (about half of it or more wrong earns nothing); a share for each item matched, field right or "
            "requirement met. After you submit: the verdict and your score by topic first, then every question's "
            "explanation. Answers changed after the time limit do not count."
            + (f"<br><i>{html.escape(note)}</i>" if note else ""))
        self.start_button = accessible_button("Start the exam", "success")
        self.start_button.on_click(lambda _: self.start())
        self.clock_line = w.HTML("")
        self.clock_line.add_class("lab-exam-clock-line")
        self.status = w.HTML("")
        self.nav_buttons = []
        for k in range(len(questions)):
            button = w.Button(description=str(k + 1), layout=w.Layout(width="38px", padding="0"))
            button.on_click(lambda _, k=k: self.go(k))
            self.nav_buttons.append(button)
        self.navigator = w.HBox(self.nav_buttons, layout=w.Layout(flex_flow="row wrap"))
        self.navigator.add_class("lab-nav")
        self.area = w.VBox([], layout=w.Layout(width="100%"))
        self.area.add_class("lab-exam-question")
        self.status.add_class("lab-exam-status")
        self.flag_button = w.ToggleButton(value=False, description="Flag for review", icon="flag")
        self.flag_button.observe(lambda change: self.set_flag(self.current, change["new"]), names="value")
        self.prev_button = w.Button(description="◀ Previous")
        self.next_button = w.Button(description="Next ▶")
        self.review_button = accessible_button("Review and submit", "warning")
        self.prev_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.review_button.on_click(lambda _: self.review())
        self.review_area = w.VBox([])
        self.submit_button = accessible_button("Submit the exam", "danger")
        self.submit_button.on_click(lambda _: self.submit())
        self.results = w.HTML("")
        self.results.add_class("lab-exam-results")
        self.bar = w.HBox([self.prev_button, self.next_button, self.flag_button, self.review_button])
        self.exam_box = w.VBox([self.clock_line, self.navigator, self.status, self.area, self.bar, self.review_area],
                               layout=w.Layout(display="none", width="100%"))
        # the results sit above the questions: after Submit, the verdict and the topics are what the learner sees first
        self.box = _with_css(w.VBox([self.heading, self.start_button, self.results, self.exam_box],
                                    layout=w.Layout(width="100%")))

    # ---- the questions
    def item(self, k: int) -> QuizQuestion:
        """Question k (0-based), built when first needed."""
        if k not in self._items:
            self._items[k] = QuizQuestion(self.questions[k], k + 1, reveal=False, on_change=self.on_change)
        return self._items[k]

    @property
    def items(self) -> list[QuizQuestion]:
        """Every question's widget (building those not shown yet)."""
        return [self.item(k) for k in range(len(self.questions))]

    # ---- handlers
    def start(self) -> None:
        """Start the clock and show the first question."""
        from ..exam.bank import ExamSession

        if self.session is not None:
            return
        self.session = ExamSession(self.questions, self.minutes, self.clock, pass_mark=self.pass_mark,
                                   weights=self.weights)
        self.start_button.layout.display = "none"
        self.exam_box.layout.display = None
        self.go(0)

    def go(self, k: int) -> None:
        """Show question k (0-based); past the time limit, submit instead."""
        if self.session is None:
            self.start()
        if self.tick():
            return
        if not 0 <= k < len(self.questions):
            raise ValueError(f"There is no question {k + 1}: the exam has {len(self.questions)}.")
        self.current = k
        self.area.children = [self.item(k).box]
        self.flag_button.value = k in self.flags
        self.prev_button.disabled = k == 0
        self.next_button.disabled = k == len(self.questions) - 1
        self.review_area.children = []
        self.refresh()

    def next(self) -> None:
        """The next question."""
        self.go(min(self.current + 1, len(self.questions) - 1))

    def previous(self) -> None:
        """The question before."""
        self.go(max(self.current - 1, 0))

    def set_flag(self, k: int, flagged: bool = True) -> None:
        """Flag question k for review (or take the flag off)."""
        if self.finished is not None:
            return
        (self.flags.add if flagged else self.flags.discard)(k)
        self.refresh()

    def toggle_flag(self) -> None:
        """Flag the current question for review, or take its flag off."""
        self.flag_button.value = not self.flag_button.value

    def on_change(self, item: QuizQuestion) -> None:
        """An answer changed: keep it if the time is not up (a change after the limit does not count)."""
        if self.session is None or self.finished is not None or self._submitting:
            return
        qid = item.question["id"]
        if self.session.time_up():
            self.late.add(qid)
        elif item.answered():
            self.answers[qid] = item.chosen()
        else:
            self.answers.pop(qid, None)
        if not self.tick():
            self.refresh()

    def tick(self) -> bool:
        """The kernel's own check of the clock, on every learner action (nothing calls it on a timer): submit when
        the time is up. True when the exam is over."""
        if self.finished is not None:
            return True
        if self.session is None:
            return False
        if self.session.time_up():
            self.submit()
            return True
        return False

    def time_text(self) -> str:
        """The clock line: a countdown that runs in the browser (countdown_html); 'No time limit'; 'Time is up'."""
        left = None if self.session is None else self.session.seconds_left()
        if self.minutes is None:
            return "<i>No time limit.</i>"
        if left is None:
            return f"<i>{self.minutes:g} minutes, from when you start.</i>"
        if left <= 0:
            return "<b>Time is up.</b>"
        return countdown_html(self.uid, 60 * self.minutes, left)

    def refresh(self) -> None:
        """The clock, the status line and the navigator (answered: ✓ on teal; flagged: ⚑ on amber; current: bordered)."""
        self.clock_line.value = self.time_text()
        for k, button in enumerate(self.nav_buttons):
            qid = self.questions[k]["id"]
            paint(button, "warning" if k in self.flags else "info" if qid in self.answers else "")
            mark = "⚑" if k in self.flags else "✓" if qid in self.answers else ""  # the state in words, not colour alone
            button.description = f"{k + 1}{mark}"
            button.tooltip = ("flagged, " if k in self.flags else "") + ("answered" if qid in self.answers else "not answered")
            button.layout.border = "2px solid #333" if k == self.current else ""
        self.status.value = (f"Question {self.current + 1} of {len(self.questions)} · answered {len(self.answers)} · "
                             f"flagged {len(self.flags)}")

    def review(self) -> None:
        """The review screen: every question's state, with a button to go back to each; then submit."""
        if self.session is None:
            self.start()
        if self.tick():
            return
        unanswered = [k for k, q in enumerate(self.questions) if q["id"] not in self.answers]
        rows = []
        for k, q in enumerate(self.questions):
            state = ("answered" if q["id"] in self.answers else "NOT ANSWERED") + (", flagged" if k in self.flags else "")
            button = w.Button(description=f"Q{k + 1}", layout=w.Layout(width="60px"))
            button.on_click(lambda _, k=k: self.go(k))
            rows.append(w.HBox([button, w.HTML(f"&nbsp;{html.escape(state)}: {html.escape(q['stem'][:90])}…")]))
        warn = (f"<b>{len(unanswered)} question(s) not answered</b> and {len(self.flags)} flagged. "
                if unanswered or self.flags else "Every question answered, none flagged. ")
        self.review_area.children = [w.HTML(f"<h4>Review</h4>{warn}Go back to any question, or submit: "
                                            "after submitting, answers cannot change."), *rows, self.submit_button]
        self.refresh()

    def submit(self):
        """End the exam: grade every answer given in time (partial credit counts, weighted), show the verdict and the
        score by topic at the top and every question's explanation under them; save the answers and the session to
        progress."""
        if self.finished is not None:
            return self.finished
        if self.session is None:
            self.start()
            if self.finished is not None:
                return self.finished
        self._submitting = True
        self.area.children = [w.HTML("<i>Scoring… (a gateway policy is graded by running the attacks: a few seconds)</i>")]
        self.graded = self.session.grade_all(self.answers, self.late)
        result = self.session.result()
        for k, item in enumerate(self.items):
            item.show_feedback(self.graded.get(self.questions[k]["id"]))
        if self.record:
            from ..exam.progress import record_answer, record_session

            for qid, feedback in self.graded.items():
                if feedback.answered:
                    record_answer(qid, feedback.correct, score=feedback.credit)
            record_session(result.record(self.session_kind) | {"form": self.form})
        self.finished = result
        # the explanations are sent first and the verdict last, so a page that shows the verdict shows them too; the
        # verdict's box sits above them on the page
        self.exam_box.children = [self.clock_line, w.HTML("<h4>Every question, with its explanations</h4>"),
                                  *[item.box for item in self.items]]
        self.clock_line.value = "<b>Submitted.</b> Your result is above; every question's explanation follows."
        self.results.value = self.result_html(result)
        return result

    def result_html(self, result) -> str:
        """What the learner sees first after submitting: the verdict and the score by topic."""
        return exam_result_html(result, self.flags)

    def finish(self):
        """Submit the exam (the name older notebooks used)."""
        return self.submit()

    def text(self) -> str:
        """The questions as plain text (what a static viewer shows)."""
        command = "python -m lab_helpers quiz --exam" + (" --full" if self.form == "full" else "")
        return _quiz_text(self.questions, "Mock exam", command)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.text()
        return bundle


def exam_result_html(result, flags: set | None = None) -> str:
    """The verdict first (PASS or FAIL, and how the kit reaches it), then the score by topic, the score, and the labs
    to review."""
    from ..exam.bank import number_text

    cell = "style='text-align:right;padding:0 12px;white-space:nowrap'"
    rows = "".join(f"<tr><td>{html.escape(t.title)}</td><td {cell}>{number_text(t.right)} of {number_text(t.marks)}</td>"
                   f"<td {cell}>{percent(t.share)}</td></tr>" for t in result.by_topic)
    review = ("".join(f"<li>{html.escape(item.text())}</li>" for item in result.review)
              or "<li>Nothing: every question right.</li>")
    late = f" {result.late} late answer(s) did not count." if result.late else ""
    partly = f" {result.partial} answered partly right (partial credit counts)." if result.partial else ""
    verdict = ""
    if result.pass_mark is not None:
        colour = "#1b7f3b" if result.passed else "#b3261e"
        verdict = (f"<h3 style='color:{colour};margin-bottom:2px'>Result: {html.escape(result.verdict())}</h3>"
                   f"<p style='margin-top:0'><i>{html.escape(result.pass_line())}</i></p>")
    return (f"{verdict}<h4>By topic</h4>"
            f"<table><tr><th>topic</th><th>marks</th><th></th></tr>{rows}</table><p><i>{html.escape(TOPIC_NOTE)}</i></p>"
            f"<p><b>{html.escape(result.score_line())}</b>{late}{partly}</p>"
            f"<p><b>Review these:</b></p><ul>{review}</ul>"
            "<p><i>Every question, with its explanation, follows below.</i></p>")


def check_exam_score(marks, passed, singles: int, singles_right: int, pbq_credits: list[float]) -> bool:
    """Self-check for lab 10: a form's weighted marks and its verdict, as the kit scores them (every question other
    than a PBQ worth QUESTION_WEIGHT, each PBQ PBQ_WEIGHT times its credit; PASS at PASS_MARK of the marks)."""
    from ..exam.bank import PASS_MARK
    from ..exam.mock import PBQ_WEIGHT, QUESTION_WEIGHT
    from .checks import is_placeholder, nothing_to_check

    if is_placeholder(marks) or passed is None:
        return nothing_to_check("compute my_marks and my_passed")
    possible = QUESTION_WEIGHT * singles + PBQ_WEIGHT * len(pbq_credits)
    expected = QUESTION_WEIGHT * singles_right + PBQ_WEIGHT * sum(pbq_credits)
    verdict = expected / possible >= PASS_MARK - 1e-9
    ok = True
    if abs(_as_float(marks) - expected) <= 0.05:
        print(f"  ✔ marks: {float(marks):.2f} of {possible:g}")
    else:
        unweighted = QUESTION_WEIGHT * singles_right + sum(pbq_credits)
        hint = (" — that is the unweighted count: a PBQ is worth its credit times the PBQ weight"
                if abs(_as_float(marks) - unweighted) <= 0.05 else "")
        print(f"  ✘ marks: you have {marks!r}; add each question's marks (a PBQ: its weight times its credit){hint}")
        ok = False
    if bool(passed) == verdict:
        print(f"  ✔ verdict: {'PASS' if verdict else 'FAIL'} ({percent(expected / possible)} of the marks, "
              f"{percent(PASS_MARK)} needed)")
    else:
        print(f"  ✘ verdict: compare the share of the marks ({percent(expected / possible)}) with {percent(PASS_MARK)}")
        ok = False
    print("All correct." if ok else "Not all correct yet.")
    return ok


def _as_float(value) -> float:
    """value as a float, or NaN when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def mock_exam(form: str = "short", n: int | None = None, minutes: float | None | str = "form", seed: int = 0,
              topic: str | None = None, record: bool = True, clock=None, pass_mark: float | None = None) -> MockExam:
    """A mock exam shaped like the real one (lab_helpers.exam.mock): the short practice form (25 questions, 3 of
    them performance-based, 45 minutes) or the full-length form ("full": up to 90 questions, 6 performance-based,
    165 minutes, by topic weights); PBQs first and worth more; missed and unseen questions first. n: another length
    (at 1.8 minutes a question unless minutes is given); minutes=None: untimed; pass mark 75 % of the weighted marks
    unless told."""
    from ..exam.mock import draw_form
    from ..exam.progress import load_progress

    draw = draw_form(form, load_progress().history(), seed, topic, n, minutes)
    title = f"Mock exam, {draw.form.title}" if n is None else "Mock exam"
    return MockExam(draw.questions, draw.minutes, record, clock, pass_mark, draw.weights, title, draw.note,
                    draw.form.key if n is None else "custom")


class KnowledgeCheck(MockExam):
    """The pre/post check (lab_helpers.exam.checks): one form of 10 questions, timed like the exam, with no verdict:
    the learner sees how many they got right and every explanation; the progress file keeps it as a "check" session,
    which `python -m lab_helpers scores` shows beside the other form."""

    session_kind = "check"

    def __init__(self, form: str, record: bool = True, clock=None):
        from ..exam.checks import check_form, check_minutes

        what = "before the labs" if form == "pre" else "after the labs"
        super().__init__(check_form(form), check_minutes(), record, clock, title=f"{form.capitalize()}-check",
                         form=form)
        self.heading.value = (
            f"<b>{form.capitalize()}-check</b> ({what}): {len(self.questions)} questions in {check_minutes()} minutes, "
            "one mark each. It is not a grade: your instructor compares the class's pre- and post-check to see what the "
            "day taught. The two checks ask about the same topics with different questions. Answer alone, without "
            "notes; a guess is fine. After you submit you see your score and every explanation.")
        self.start_button.description = "Start the check"
        self.submit_button.description = "Submit the check"

    def result_html(self, result) -> str:
        from ..exam.bank import number_text

        return (f'<div role="status" style="border-left:4px solid #1f4e79;padding:4px 8px"><b>{self.title_text()}: '
                f"{number_text(result.right)} of {result.asked} right.</b> Every question's explanation follows.</div>")

    def title_text(self) -> str:
        return f"{self.form.capitalize()}-check"

    def text(self) -> str:
        return _quiz_text(self.questions, self.title_text(), f"python -m lab_helpers quiz --check {self.form}")


class CheckLauncher:
    """A closed box for the pre/post check: one button opens the form (only when the instructor asks for it), so a
    learner working alone passes by. The check is built when the button is pressed."""

    def __init__(self, form: str, record: bool = True):
        if form not in ("pre", "post"):
            raise ValueError(f"The check has two forms, 'pre' and 'post'; got {form!r}.")
        self.form, self.record, self.check = form, record, None
        when = "before lab 00" if form == "pre" else "after the mock exam"
        self.button = accessible_button(f"Open the {form}-check (only if your instructor asks)", "info")
        self.button.on_click(lambda _: self.open())
        self.box = w.VBox([w.HTML(f"<b>In a class?</b> Your instructor may ask for the {form}-check ({when}, 10 "
                                  "questions, 15 minutes). Working alone, skip it."), self.button])

    def open(self) -> KnowledgeCheck:
        """Show the check under the button (once)."""
        if self.check is None:
            self.check = KnowledgeCheck(self.form, self.record)
            self.button.disabled = True
            self.box.children = [*self.box.children, self.check.box]
        return self.check

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = (f"The {self.form}-check (10 questions), if your instructor asks: in a terminal, "
                                f"python -m lab_helpers quiz --check {self.form}")
        return bundle


def pre_post_check(form: str, record: bool = True) -> CheckLauncher:
    """The pre-check ('pre', before lab 00) or the post-check ('post', after the mock exam), behind a button."""
    return CheckLauncher(form, record)


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
