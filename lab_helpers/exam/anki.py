"""The question bank as an Anki deck (genanki): revise on a phone with the spaced-repetition app candidates already use.

One note per question: the front shows the scenario and the options in the order the kit shows them (the same
letters as the widgets and the terminal quiz), the back the answer and every option's explanation. Ordering and
matching questions become cards too; the performance-based tasks on the kit's own artefacts (`fields`, `policy`)
are left out (they need the kit), and so are ordering and matching PBQs built on a lab's artefacts. Each note's id
comes from its question id, so importing a newer deck updates the cards instead of adding copies.
"""
from __future__ import annotations

import html
from pathlib import Path

DECK_ID = 1_864_205_511  # fixed: a newer export updates the same deck
MODEL_ID = 1_864_205_512
DECK_NAME = "Model Inversion Lab — CompTIA SecurityX objective 1.5"
CARD_FORMATS = ("single", "multiple", "ordering", "matching")
CSS = """.card { font-family: system-ui, sans-serif; font-size: 18px; line-height: 1.45; color: #1a1a1a;
background: #ffffff; text-align: left; max-width: 46em; margin: auto; }
.options li { margin: 0.25em 0; } .answer { font-weight: 600; } .why { color: #333333; }
.meta { font-size: 14px; color: #4a4a4a; margin-top: 1em; }"""


def _e(text: str) -> str:
    return html.escape(str(text))


def card_sides(question: dict) -> tuple[str, str]:
    """(front, back) of one question's card, as HTML."""
    from .bank import choice_order, correct_options, display_order, match_choices, option_order

    fmt = question["format"]
    front = [f"<p>{_e(question['stem'])}</p>"]
    back = []
    if fmt in ("single", "multiple"):
        order = option_order(question)
        letters = {stored: chr(65 + k) for k, stored in enumerate(order)}
        front.append("<ol class='options' type='A'>" + "".join(
            f"<li>{_e(question['options'][i]['text'])}</li>" for i in order) + "</ol>")
        right = sorted(correct_options(question), key=lambda i: letters[i])
        back.append("<p class='answer'>Answer: " + ", ".join(
            f"{letters[i]}. {_e(question['options'][i]['text'])}" for i in right) + "</p>")
        back.append("<ul class='why'>" + "".join(
            f"<li><b>{letters[i]}</b> ({'right' if i in right else 'wrong'}): {_e(question['options'][i]['explanation'])}</li>"
            for i in order) + "</ul>")
    elif fmt == "ordering":
        shown = display_order(question)
        front.append("<p>Put these in order:</p><ul class='options'>" + "".join(
            f"<li>{_e(question['steps'][i]['text'])}</li>" for i in shown) + "</ul>")
        back.append("<ol class='answer'>" + "".join(
            f"<li>{_e(s['text'])} <span class='why'>— {_e(s['explanation'])}</span></li>" for s in question["steps"])
            + "</ol>")
    elif fmt == "matching":
        choices = match_choices(question)
        front.append("<p>Match each item:</p><ul class='options'>" + "".join(
            f"<li>{_e(p['item'])}</li>" for p in question["pairs"]) + "</ul><p>Choices:</p><ul class='options'>"
            + "".join(f"<li>{_e(choices[i])}</li>" for i in choice_order(question)) + "</ul>")
        back.append("<ul class='answer'>" + "".join(
            f"<li>{_e(p['item'])} → {_e(p['match'])} <span class='why'>— {_e(p['explanation'])}</span></li>"
            for p in question["pairs"]) + "</ul>")
        if question.get("distractors"):
            back.append("<p class='why'>Left over: " + "; ".join(
                f"{_e(d['text'])} ({_e(d['explanation'])})" for d in question["distractors"]) + "</p>")
    else:
        raise ValueError(f"A {fmt!r} question is a task on the kit's artefacts: it has no card. Cards: "
                         f"{', '.join(CARD_FORMATS)}.")
    return "".join(front), "".join(back)


def export_anki(path: str | Path, lab: str | None = None, topic: str | None = None) -> dict:
    """Write the bank (or one lab's or topic's questions) as an Anki deck (.apkg); returns what went in and what not."""
    import genanki

    from .bank import filter_by_topic, is_performance_based, lab_number, load_questions

    path = Path(path)
    if path.suffix != ".apkg":
        raise ValueError(f"An Anki deck file ends in .apkg (got {path.name!r}), e.g. model-inversion.apkg.")
    questions = load_questions(lab=lab_number(lab) if lab else None)
    if topic:
        questions = filter_by_topic(questions, topic)
    model = genanki.Model(MODEL_ID, "Model Inversion Lab question",
                          fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Lab"}, {"name": "Id"}],
                          templates=[{"name": "Card", "qfmt": "{{Question}}",
                                      "afmt": "{{FrontSide}}<hr id='answer'>{{Answer}}"
                                              "<p class='meta'>Review: lab {{Lab}} · {{Id}}</p>"}],
                          css=CSS)
    deck = genanki.Deck(DECK_ID, DECK_NAME)
    left_out = []
    for q in questions:
        if q["format"] not in CARD_FORMATS or (is_performance_based(q) and q.get("task")):
            left_out.append(q["id"])
            continue
        front, back = card_sides(q)
        tags = [f"lab{q['lab']}", q["difficulty"], q["format"]] + [c.replace(" ", "_") for c in q.get("concepts", [])]
        deck.add_note(genanki.Note(model=model, fields=[front, back, q["lab"], q["id"]], guid=genanki.guid_for(q["id"]),
                                   tags=[t.replace('"', "") for t in tags]))
    path.parent.mkdir(parents=True, exist_ok=True)
    genanki.Package(deck).write_to_file(str(path))
    return {"path": str(path), "cards": len(deck.notes), "left_out": left_out}
