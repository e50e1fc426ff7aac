"""Lab 07's guided path (issue 26): the model card's label-only measurement, the two release gates and the graded fix
come out as the options and the words say. The notebook's own definitions run here (its models come from
data/cache/, and the card's strongest attack from data/cache/lab07/ once the notebook has run on this worker)."""
from __future__ import annotations

from pathlib import Path

import pytest
from notebook_code import notebook_definitions

KIT = Path(__file__).resolve().parent.parent
NOTEBOOK = KIT / "solutions" / "07_governance_and_exam_review.ipynb"
DEFINED = ("faces", "patients", "face_v1", "dosing_v1", "face_card_measured", "measure_label_only_card", "face_card",
           "dosing_card", "face_gates", "measure_release_a", "dosing_gate", "measure_release_b", "KIOSKS", "FIXES",
           "grade_fix")

pytestmark = pytest.mark.slow  # the face card's attacks and two face gates (cached once the notebook ran), six dosing gates


@pytest.fixture(scope="module")
def lab():
    """The guided path's cards, gates and grade, defined as the notebook defines them."""
    from IPython.display import display

    return notebook_definitions(NOTEBOOK, DEFINED, {"display": display}, imports=True)


def test_names_only_still_give_about_one_face_in_five_to_the_strongest_attack(lab):
    option, text = lab["measure_label_only_card"]()
    black = lab["face_card"].measurements["lab03-black-box"]
    assert option == 1 and 0.1 <= black.value <= 0.35 and black.details["budget"] == 5_000
    assert black.details["template_lineup"] >= 0.8  # the card's words: "nearly every person's template"
    source = NOTEBOOK.read_text(encoding="utf-8")
    assert "about one face in five after 5,000 queries per person" in source  # the text after the decision


def test_release_a_is_blocked_by_change_control_alone(lab):
    option, text = lab["measure_release_a"]()
    assert option == 2 and "change control" in text
    gates = lab["face_gates"]()
    assert [c.key for c in gates["probabilities"].failed] == ["output-change"] and gates["label"].passed


def test_release_b_is_blocked_by_the_leaks_with_accuracy_held(lab):
    option, text = lab["measure_release_b"]()
    candidate, gate = lab["dosing_gate"](1)
    assert option == 2 and {c.key for c in gate.failed} >= {"lab01-membership", "lab02-attribute-inference"}
    assert "utility-test-accuracy" not in {c.key for c in gate.failed}
    assert candidate.test_accuracy >= lab["dosing_v1"].test_accuracy - 0.02


def test_the_fix_gets_full_marks_only_with_both_gates_passing(lab):
    credits = {choice: lab["grade_fix"](choice)[0] for choice in lab["FIXES"]}
    full = [c for c, v in credits.items() if v == 1]
    assert full == [f"dosing leaf size {leaf}; kiosks get names only (as approved)" for leaf in (12, 20, 30)]
    assert credits["dosing leaf size 1; kiosks get names only (as approved)"] == 0.5
    assert credits["dosing leaf size 20; kiosks get full probabilities (the match bar)"] == 0.5
    assert credits["dosing leaf size 1; kiosks get full probabilities (the match bar)"] == 0
    small, large = (" ".join(lab["grade_fix"](f"dosing leaf size {leaf}; kiosks get names only (as approved)")[1])
                    for leaf in (1, 80))
    assert "single patients" in small and "stopped being useful" in large  # says what is wrong, not which size
    assert "20" not in small.replace("v2", "")
