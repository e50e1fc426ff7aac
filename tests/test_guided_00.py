"""Lab 00's guided path (issue 26): its three predictions measure what the options and the instructor guide say, and
its graded decision gives full marks to one option only, half marks for half right. The notebook's own functions run
here on the same recogniser (trained in about a second)."""
from __future__ import annotations

from pathlib import Path

import pytest
from notebook_code import notebook_definitions

from lab_helpers.formatting import percent

KIT = Path(__file__).resolve().parent.parent
NOTEBOOK = KIT / "solutions" / "00_orientation.ipynb"
DEFINED = ("measure_scores", "confidence_in_the_right_person", "measure_members", "nudged_answers", "measure_nudges",
           "THREATS", "CONTROLS", "INCIDENT", "grade_incident")


@pytest.fixture(scope="module")
def lab(faces):
    """The notebook's measure and grade functions, run on the recogniser and the photo the notebook uses."""
    import numpy as np

    from lab_helpers.targets import confidence_scores, train_quick_face_classifier

    recogniser = train_quick_face_classifier(faces, seed=0)
    ns = {"np": np, "percent": percent, "faces": faces, "recogniser": recogniser, "photo_index": 0,
          "confidence_scores": confidence_scores, "scores": confidence_scores(recogniser.model, faces.X_test[0])}
    notebook_definitions(NOTEBOOK, DEFINED, ns)
    assert "photo_index = 0" in NOTEBOOK.read_text(encoding="utf-8")
    return ns


def test_an_unseen_photo_gets_a_handful_of_scores_above_one_percent(lab):
    option, text = lab["measure_scores"]()
    assert option == 1 and "5 of the 40 people" in text  # "about five" (instructor guide)


def test_the_model_is_surer_about_its_training_photos(lab):
    option, text = lab["measure_members"]()
    seen = lab["confidence_in_the_right_person"](lab["faces"].X_train, lab["faces"].y_train)
    unseen = lab["confidence_in_the_right_person"](lab["faces"].X_test, lab["faces"].y_test)
    assert option == 1 and 0.92 <= seen <= 0.97 and 0.75 <= unseen <= 0.83  # "about 95 % vs 79 %"
    assert percent(seen) in text and percent(unseen) in text


def test_a_faint_change_keeps_the_name_and_moves_about_a_dozen_scores(lab):
    import numpy as np

    option, text = lab["measure_nudges"]()
    answers = lab["nudged_answers"](lab["faces"].X_test[0])
    moved = (np.abs(answers - lab["scores"]) > 1e-4).sum(axis=1).mean()
    assert option == 1 and 8 <= moved <= 18 and "in 100 % of the 20 nudges" in text
    louder = lab["nudged_answers"](lab["faces"].X_test[0], noise=0.05)  # louder noise moves more scores (a real measure)
    assert (np.abs(louder - lab["scores"]) > 1e-4).sum(axis=1).mean() > moved


def test_the_incident_decision_gives_full_marks_once_and_half_for_half_right(lab):
    credits = {choice: lab["grade_incident"](choice)[0] for choice in lab["INCIDENT"]}
    assert [c for c, v in credits.items() if v == 1] == ["model inversion; return the name only and cap each key's queries"]
    assert credits["model inversion; add DLP to the API's replies"] == 0.5
    assert credits["model theft (extraction); return the name only and cap each key's queries"] == 0.5
    assert credits["training data poisoning; check where the training photos came from"] == 0
    feedback = " ".join(lab["grade_incident"]("model inversion; add DLP to the API's replies")[1])
    assert "DLP matches patterns" in feedback and "return the name only" not in feedback  # explains, does not hand over
