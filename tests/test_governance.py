"""Lab 07 governance: model cards with measured leakage, the release gate on real retrained models, the privacy review."""
from __future__ import annotations

import pytest

from lab_helpers.ui import check_privacy_review, check_release_fix
from lab_helpers.defences import OutputPolicy
from lab_helpers.targets import train_face_model
from lab_helpers.governance.card import MEASURES, measure
from lab_helpers.governance import PRIVACY_REVIEW, REVIEW_FACTS, Approval, Audience, Candidate, Measurement, ModelCard, measures_for, model_card, percent, release_gate, review_privacy
from lab_helpers.governance.gate import more_detailed
from lab_helpers.data import load_people
from lab_helpers.targets import train_tabular_model

SOLUTION_REVIEW = {key: (status, "evidence: " + fact) for key, (fact, status) in REVIEW_FACTS.items()}


@pytest.fixture(scope="module")
def patients():
    return load_people()


@pytest.fixture(scope="module")
def face_v1(faces):
    return Candidate("face", train_face_model(faces, "softmax", regularised=True, progress=False), faces, "label", "1")


@pytest.fixture(scope="module")
def face_v2_model(faces):
    return train_face_model(faces, "softmax", regularised=True, seed=1, progress=False)


@pytest.fixture(scope="module")
def face_card(face_v1):
    return model_card(face_v1, "purpose", "out of scope", "data", "Restricted",
                      [Audience("kiosks", OutputPolicy("label"), "a door needs a name")],
                      [Approval("privacy officer", "DPO", "approved", "2025-01-01")], progress=False)


@pytest.fixture(scope="module")
def dosing_v1(patients):
    return Candidate("dosing", train_tabular_model(patients, 20, seed=0), patients, "probabilities", "1")


@pytest.fixture(scope="module")
def dosing_card(dosing_v1):
    return model_card(dosing_v1, "p", "o", "d", "c", [], progress=False)


def dosing(patients, leaf: int, policy="probabilities") -> Candidate:
    return Candidate("dosing", train_tabular_model(patients, leaf, seed=0), patients, policy, "2")


def test_labs_01_to_03_are_registered_measures():
    keys = {m.key: m for m in MEASURES}
    assert {"lab01-membership", "lab02-attribute-inference", "lab03-white-box", "lab03-black-box"} <= set(keys)
    assert [m.lab for m in measures_for("face")] == sorted(m.lab for m in measures_for("face"))
    assert all(m.kind == "tabular" for m in measures_for("tabular"))
    with pytest.raises(ValueError, match="kind must be one of face, tabular"):
        measure("x", "04", "audio", "t", "a", 0.1)


@pytest.mark.slow
def test_face_card_numbers_are_measured_and_in_range(face_card, face_v1):
    white, black = face_card.measurements["lab03-white-box"], face_card.measurements["lab03-black-box"]
    assert 0.2 <= white.value <= 0.7 and white.chance == pytest.approx(1 / 40)  # lab 07: "must be protected like the photos"
    cheap = face_card.measurements["lab04-black-box-cheap"]
    # lab 07: through labels alone the strongest attack (the boundary attack) is recognised by the strict evaluator
    # about one time in five after 5,000 queries per person (measured 22.5 %), one in ten after 1,000 (10 %), while
    # its template leaks for nearly everyone (lineup about 97 %)
    assert black.details["attack"] == "adaptive labels" and black.details["budget"] == 5_000 and cheap.details["budget"] == 1_000
    assert 0.12 <= black.value <= 0.35 and 0.05 <= cheap.value <= 0.2 and black.chance == pytest.approx(1 / 40)
    assert cheap.value <= black.value and black.details["template_lineup"] >= 0.9
    assert black.details["nearest_photo"] >= 0.075
    assert black.details["attack_seconds"] > 0  # what the attack took when it ran (the card may read it from the cache)
    text = face_card.to_markdown()
    assert percent(white.value) in text and "label only" in text and "Restricted" in text and "DPO" in text
    assert face_card.test_accuracy == face_v1.test_accuracy >= 0.9


def test_dosing_card_measures_labs_01_and_02(dosing_card):
    assert set(dosing_card.measurements) == {"lab01-membership", "lab02-attribute-inference"}
    assert 0.03 < dosing_card.measurements["lab01-membership"].value < 0.25
    assert 0.1 < dosing_card.measurements["lab02-attribute-inference"].value < 0.3
    advantage = dosing_card.measurements["lab01-membership"]
    assert advantage.describe() == f"{advantage.value:.2f} (chance 0.00)"


@pytest.mark.slow
def test_card_survives_save_and_load(face_card, tmp_path):
    again = ModelCard.load(face_card.save(tmp_path / "card.json"))
    assert again.to_markdown() == face_card.to_markdown()
    assert again.external_policy == OutputPolicy("label")


@pytest.mark.slow
def test_gate_blocks_exposed_scores_on_change_control_while_the_measured_leak_barely_moves(face_card, face_v2_model, faces):
    gate = release_gate(face_card, Candidate("face", face_v2_model, faces, "probabilities", "2"), progress=False)
    checks = {c.key: c for c in gate.checks}
    assert not gate.passed and [c.key for c in gate.failed] == ["output-change"]
    # lab 07's words: by the strict evaluator full probabilities add "a few points" to what labels already give
    for key in ("lab03-black-box", "lab04-black-box-cheap"):
        assert checks[key].passed and -0.1 <= checks[key].worse_by <= 0.1, key
    assert checks["lab03-white-box"].passed
    message = gate.message()
    assert message.startswith("RELEASE BLOCKED") and "full probabilities" in message and "needs the privacy owner's approval" in message
    assert gate.table().loc[checks["output-change"].title, "result"] == "BLOCK"
    assert gate.table().loc[checks["output-change"].title, "approved"] == "label only"


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["rounded:2", "label_score", "top_k:3"])
def test_gate_blocks_every_unapproved_kiosk_policy_and_measures_it_by_the_strongest_attack(face_card, face_v2_model,
                                                                                           faces, policy):
    from lab_helpers.defences.output_policies import parse_policy

    gate = release_gate(face_card, Candidate("face", face_v2_model, faces, parse_policy(policy), "2"), progress=False)
    assert [c.key for c in gate.failed] == ["output-change"]
    # the label is in every answer, so the boundary attack is always available: no policy leaks much less than labels
    assert {c.key: c for c in gate.checks}["lab03-black-box"].after >= face_card.measurements["lab03-black-box"].value - 0.1


@pytest.mark.slow
def test_the_strongest_attack_is_measured_once_per_model_and_output(face_card, face_v2_model, faces, monkeypatch):
    import lab_helpers.evaluation.output_controls as output_controls
    import lab_helpers.governance.card as card

    candidate = Candidate("face", face_v2_model, faces, "label", "2")
    first = release_gate(face_card, candidate, progress=False)  # measured now, or by an earlier test or notebook

    def measured_again(*args, **kwargs):
        raise AssertionError("the same model and output were attacked twice")

    card._STRONGEST.clear()  # a new process would start with nothing in memory
    monkeypatch.setattr(output_controls, "adaptive_attacks", measured_again)
    again = release_gate(face_card, candidate, progress=False)
    assert again.table().equals(first.table())  # the seeded attacks' numbers, read back from data/cache/lab07/


@pytest.mark.slow
def test_gate_passes_the_same_retrain_with_labels_only(face_card, face_v2_model, faces):
    gate = release_gate(face_card, Candidate("face", face_v2_model, faces, "label", "2"), progress=False)
    assert gate.passed and gate.message().startswith("RELEASE PASSED") and gate.notes == []
    assert "**RELEASE PASSED**" in gate._repr_markdown_()


def test_gate_blocks_an_overfit_retrain_of_the_dosing_model(dosing_card, dosing_v1, patients):
    v2 = dosing(patients, 1)
    gate = release_gate(dosing_card, v2, progress=False)
    assert {c.key for c in gate.failed} == {"lab01-membership", "lab02-attribute-inference"}
    assert v2.test_accuracy >= dosing_v1.test_accuracy  # lab 07: "test accuracy did not fall"
    assert v2.train_accuracy == 1.0
    assert any("memorisation" in n for n in gate.notes) and "regularise" in gate.message()


@pytest.mark.parametrize("leaf, passes", [(1, False), (20, True), (80, False)])
def test_exercise_b_leaf_sizes(dosing_card, patients, leaf, passes):
    gate = release_gate(dosing_card, dosing(patients, leaf), progress=False)
    assert gate.passed is passes
    if leaf == 80:  # too much regularisation: blocked on utility, not on leakage
        assert [c.key for c in gate.failed] == ["utility-test-accuracy"] and "less useful" in gate.message()


def test_gate_against_a_candidate_measures_both_and_thresholds_can_be_set(dosing_v1, patients):
    v2 = dosing(patients, 1)
    lenient = release_gate(dosing_v1, v2, thresholds={"lab01-membership": 1.0, "lab02-attribute-inference": 1.0}, progress=False)
    assert lenient.passed
    with pytest.raises(KeyError, match="thresholds are keyed by"):
        release_gate(dosing_v1, v2, thresholds={"lab09-telepathy": 0.1}, progress=False)


def test_gate_refuses_to_compare_unlike_models(face_card, dosing_v1, face_v1):
    with pytest.raises(ValueError, match="like with like"):
        release_gate(face_card, dosing_v1, progress=False)
    with pytest.raises(ValueError, match="like with like"):
        release_gate(face_v1, dosing_v1, progress=False)
    with pytest.raises(TypeError, match="FaceData"):
        _ = Candidate("x", None, [1, 2, 3]).kind


def test_a_new_lab_adds_a_measure_and_old_cards_lack_its_baseline(dosing_card, patients):
    @measure("lab99-test", "99", "tabular", "A test measure", advice="change nothing", allowed_rise=0.5)
    def fake(candidate):
        return Measurement(0.1, 0.0, {"unit": "score"})

    try:
        gate = release_gate(dosing_card, dosing(patients, 20), progress=False)
        missing = next(c for c in gate.checks if c.key == "lab99-test")
        assert not missing.passed and "no approved baseline" in gate.message()
        card = model_card(dosing(patients, 20), "p", "o", "d", "c", [], progress=False)
        assert "A test measure" in card.to_markdown()
    finally:
        MEASURES[:] = [m for m in MEASURES if m.key != "lab99-test"]


def test_more_detailed_orders_output_policies():
    assert more_detailed(OutputPolicy("probabilities"), OutputPolicy("label"))
    assert more_detailed(OutputPolicy("rounded", decimals=3), OutputPolicy("rounded", decimals=1))
    assert not more_detailed(OutputPolicy("label"), OutputPolicy("label_score"))
    assert not more_detailed(OutputPolicy("noisy", noise_scale=0.2), OutputPolicy("noisy", noise_scale=0.1))


def test_privacy_review_validation_and_open_items():
    outcome = review_privacy(SOLUTION_REVIEW)
    assert outcome.problems == [] and {i.key for i in outcome.open_items} == {"model_documentation", "output_changes",
                                                                              "explanations", "dataset_permissions"}
    assert not outcome.ready and "fix: Restrict read access" in outcome.text()
    bad = review_privacy({**SOLUTION_REVIEW, "threat_model": ("yes", ""), "periodic_review": "maybe", "extra": ("yes", "x")})
    assert any("needs evidence" in p for p in bad.problems) and any("'maybe'" in p for p in bad.problems)
    assert any("'extra' is not a review item" in p for p in bad.problems)
    assert review_privacy({k: ("yes", "documented and checked") for k in REVIEW_FACTS}).ready
    assert len(PRIVACY_REVIEW) == len(REVIEW_FACTS) == 9


def test_privacy_review_self_check(capsys):
    assert not check_privacy_review({})
    assert "Nothing to check yet" in capsys.readouterr().out
    assert check_privacy_review(SOLUTION_REVIEW)
    wrong = {**SOLUTION_REVIEW, "dataset_permissions": ("yes", "the bucket has permissions")}
    assert not check_privacy_review(wrong)
    assert "re-read the fact: The photo bucket" in capsys.readouterr().out


def test_release_fix_self_check(dosing_card, patients, capsys):
    good = release_gate(dosing_card, dosing(patients, 20), progress=False)
    bad = release_gate(dosing_card, dosing(patients, 1), progress=False)
    assert check_release_fix({"dosing": good})
    assert not check_release_fix({"dosing": good, "again": bad})
    assert "blocked by Membership test advantage" in capsys.readouterr().out


def test_a_measure_can_skip_candidates_it_does_not_apply_to(patients, dosing_card):
    from lab_helpers.data import PeopleData

    class WithoutGenotype(PeopleData):  # data minimisation: the model never sees the sensitive attribute
        @property
        def features(self):
            return [c for c in self.framing.features if c != self.framing.sensitive.name]

    data = WithoutGenotype(patients.frame, patients.framing, patients.train_idx, patients.test_idx)
    candidate = Candidate("dosing", train_tabular_model(data, 20, seed=0), data, "probabilities", "2")
    assert [m.key for m in measures_for(candidate)] == ["lab01-membership"]
    gate = release_gate(dosing_card, candidate, progress=False)
    assert [c.key for c in gate.checks] == ["lab01-membership", "utility-test-accuracy", "output-change"]


def test_gate_blocks_a_retrain_that_adds_explanations_and_measures_what_they_hand_over(face_card, face_v2_model, faces,
                                                                                       tmp_path):
    """Issue 27: the card lists explanation outputs, the gate measures them and treats a new one as an output change."""
    explained = Candidate("face", face_v2_model, faces, "label", "2", explanation="gradient:any")
    assert "lab04-explanations" in [m.key for m in measures_for(explained)]
    assert "lab04-explanations" not in [m.key for m in measures_for(Candidate("face", face_v2_model, faces, "label"))]
    gate = release_gate(face_card, explained, progress=False)
    checks = {c.key: c for c in gate.checks}
    assert not gate.passed and {c.key for c in gate.failed} == {"output-change", "lab04-explanations"}
    assert "with an explanation (gradient:any)" in checks["output-change"].advice
    leak = checks["lab04-explanations"]
    assert leak.before is None and leak.after >= 0.2  # recognised by the strict evaluator after 100 explained queries
    card = model_card(explained, "p", "o", "d", "Restricted", [], progress=False)
    assert "with an explanation: gradient:any" in card.to_markdown()
    reloaded = ModelCard.load(card.save(tmp_path / "card.json"))
    assert reloaded.external_explanation == "gradient:any"
    again = release_gate(reloaded, explained, progress=False)  # approved on its own card: only a real change fails
    assert {c.key: c for c in again.checks}["output-change"].passed
    coarser = Candidate("face", face_v2_model, faces, "label", "3", explanation="gradient:any+coarse:8")
    assert not {c.key: c for c in release_gate(reloaded, coarser, progress=False).checks}["output-change"].passed
