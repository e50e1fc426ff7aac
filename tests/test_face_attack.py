"""Lab 03: face targets, MI-FACE white-box and black-box, and the independent judges — numbers in ranges."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lab_helpers.service import ModelAPI
from lab_helpers.targets import FaceModelSpec, train_face_model
from lab_helpers.judges import as_images, judge, lineup_accuracy, normalise_contrast
from lab_helpers.attacks import check_identities, gradient_step, invert_black_box, invert_white_box

PEOPLE = np.arange(40)


@pytest.mark.parametrize("kind", ["softmax", "mlp"])
@pytest.mark.parametrize("regularised", [False, True])
def test_targets_learn_the_faces(faces, kind, regularised):
    model = train_face_model(faces, kind, regularised, progress=False)
    assert model.train_accuracy == 1.0 and model.test_accuracy >= 0.9
    again = train_face_model(faces, kind, regularised, progress=False)
    assert again.from_cache and again.test_accuracy == model.test_accuracy


def test_cache_key_changes_with_every_setting():
    keys = {FaceModelSpec().key(), FaceModelSpec(epochs=999).key(), FaceModelSpec(weight_decay=0.1).key(), FaceModelSpec(seed=1).key()}
    assert len(keys) == 4


def test_evaluator_is_accurate_and_judges_real_photos_and_blanks(faces, evaluator):
    assert evaluator.test_accuracy >= 0.85
    real = faces.images[[faces.test_idx[faces.y_test == p][0] for p in PEOPLE]]
    v = judge(real, PEOPLE, faces, evaluator)
    assert v.recognised_top1 >= 0.8 and v.template_correlation >= 0.85 and v.template_lineup >= 0.95
    blank = judge(np.full((40, 64, 64), 0.5, dtype=np.float32), PEOPLE, faces, evaluator)
    assert blank.recognised_top1 <= 0.05 and blank.template_correlation <= 0.05 and abs(blank.template_lineup - 0.2) < 0.01


def test_lineup_of_random_noise_is_near_chance(faces):
    noise = np.random.default_rng(0).random((40, 64, 64))
    assert 0.05 <= lineup_accuracy(noise, PEOPLE, faces, trials=50) <= 0.4


def test_white_box_recovers_faces(faces, evaluator, softmax):
    rec = invert_white_box(softmax, PEOPLE, progress=False)
    v = judge(rec.images, rec.identities, faces, evaluator)
    assert rec.images.shape == (40, 64, 64) and 0 <= rec.images.min() and rec.images.max() <= 1
    assert v.template_lineup >= 0.9 and v.template_correlation >= 0.8
    assert v.recognised_top1 >= 0.2 and v.recognised_top5 >= 0.4  # chance: 2.5 % and 12.5 %
    assert rec.seconds > 0  # recorded for the learner; how fast is a benchmark, not a test


@pytest.mark.slow
def test_white_box_works_on_every_target(faces, evaluator):
    for kind in ("softmax", "mlp"):
        for regularised in (False, True):
            model = train_face_model(faces, kind, regularised, progress=False)
            v = judge(invert_white_box(model, PEOPLE, progress=False).images, PEOPLE, faces, evaluator)
            assert v.template_lineup >= 0.85, (model.name, v)


def test_the_papers_original_recipe_fools_the_cnn_judge_but_not_the_correlation_judge(faces, evaluator, softmax):
    rec = invert_white_box(softmax, PEOPLE, start="black", objective="one_minus_p", l2_weight=0, tv_weight=0, progress=False)
    v = judge(rec.images, PEOPLE, faces, evaluator)
    default = judge(invert_white_box(softmax, PEOPLE, progress=False).images, PEOPLE, faces, evaluator)
    assert v.template_correlation >= 0.8 and v.recognised_top1 < default.recognised_top1


def test_a_do_nothing_update_stays_at_chance_and_fails_the_self_check(faces, evaluator, softmax, capsys):
    from lab_helpers.ui import check_reconstructions

    rec = invert_white_box(softmax, PEOPLE, iterations=20, update=lambda x, g, s: x, progress=False)
    assert not check_reconstructions(judge(rec.images, PEOPLE, faces, evaluator), rec.images)
    assert "At chance" in capsys.readouterr().out
    good = invert_white_box(softmax, PEOPLE, update=lambda x, g, s: (x - s * g).clamp(0, 1), progress=False)
    assert check_reconstructions(judge(good.images, PEOPLE, faces, evaluator), good.images)


def test_the_self_check_names_each_mistake_a_learner_makes(faces, evaluator, softmax, capsys):
    from lab_helpers.ui import check_reconstructions, placeholder

    stub = placeholder(lambda x, g, s: x, "write my_update_step")
    untouched = invert_white_box(softmax, PEOPLE, iterations=20, update=stub, progress=False)
    capsys.readouterr()
    assert not check_reconstructions(judge(untouched.images, PEOPLE, faces, evaluator), untouched.images, stub)
    assert capsys.readouterr().out.startswith("Nothing to check yet")

    uphill = invert_white_box(softmax, PEOPLE, update=lambda x, g, s: (x + s * g).clamp(0, 1), progress=False)
    verdict = judge(uphill.images, PEOPLE, faces, evaluator)
    assert verdict.template_lineup < verdict.chance_lineup  # a sign error moves every image away from its person
    assert not check_reconstructions(verdict, uphill.images)
    assert "Below chance" in capsys.readouterr().out
    assert not check_reconstructions(verdict, uphill.images, lambda x, g, s: (x + s * g).clamp(0, 1))
    assert "step *down* it" in capsys.readouterr().out

    unclamped_step = lambda x, g, s: x - s * g  # noqa: E731 - the learner's mistake, as they would write it
    unclamped = invert_white_box(softmax, PEOPLE, update=unclamped_step, progress=False)
    assert not check_reconstructions(judge(unclamped.images, PEOPLE, faces, evaluator), unclamped.images, unclamped_step)
    assert "clamp(0, 1)" in capsys.readouterr().out


@pytest.mark.slow
def test_black_box_from_full_scores_beats_chance_and_counts_queries(faces, evaluator, softmax):
    api = ModelAPI(softmax.predict_proba, "probabilities", input_size=4096)
    rec = invert_black_box(api, PEOPLE, queries_per_person=5000, checkpoints=(200, 1000), progress=False)
    assert api.queries == 40 * 5000 and rec.queries_per_person == 5000 and set(rec.snapshots) == {200, 1000}
    v = judge(rec.images, PEOPLE, faces, evaluator)
    assert v.template_lineup >= 0.7 and v.template_correlation >= 0.5
    # lab 03's takeaway: a few hundred scored answers already give a likeness the lineup recognises most of the time
    early = judge(rec.snapshots[200], PEOPLE, faces, evaluator)
    assert early.template_lineup >= 0.6 and v.recognised_top1 >= early.recognised_top1


@pytest.mark.slow
def test_black_box_from_full_scores_is_recognised_about_as_often_as_white_box_by_10000_queries(faces, evaluator, softmax):
    # Issue 24's goal, by both strict judges: at least 0.8 of white-box's rate (42.5 % and 45 %) at 10,000 queries
    # per person, measured 37.5-42.5 % and 42.5-50 % over seeds 0-2; at 2,000, 15-17.5 % and 12.5-15 %.
    api = ModelAPI(softmax.predict_proba, "probabilities", input_size=4096)
    rec = invert_black_box(api, PEOPLE, queries_per_person=10_000, checkpoints=(2_000,), progress=False)
    late, early = judge(rec.images, PEOPLE, faces, evaluator), judge(rec.snapshots[2_000], PEOPLE, faces, evaluator)
    assert late.recognised_top1 >= 0.3 and late.recognised_nearest >= 0.3
    # every person it got a signal for comes back at a contrast a person sees (person 5, whom the model already names
    # from a grey image, stayed under one grey level while the attack climbed log p instead of the log-odds)
    assert rec.signal.all() and late.faint == 0
    assert early.recognised_top1 >= 0.1 and early.recognised_nearest >= 0.1
    # coarse to fine is what makes the difference at 2,000: all 24 x 24 frequencies from the start recognise 2.5-10 %
    fixed = invert_black_box(ModelAPI(softmax.predict_proba, "probabilities", input_size=4096), PEOPLE,
                             queries_per_person=2_000, low_freq=24, step_size=3.0, progress=False)
    old = judge(fixed.images, PEOPLE, faces, evaluator)
    assert early.recognised_top1 + early.recognised_nearest > old.recognised_top1 + old.recognised_nearest + 0.1


def test_black_box_from_labels_only_is_at_chance(faces, evaluator, softmax):
    api = ModelAPI(softmax.predict_proba, "label", input_size=4096)
    v = judge(invert_black_box(api, PEOPLE, queries_per_person=1000, progress=False).images, PEOPLE, faces, evaluator)
    assert v.template_lineup <= 0.3 and v.template_correlation <= 0.1


@pytest.mark.parametrize("bad", [40, -1, [3, 41], 2.5, []])
def test_identity_outside_the_range_is_named(bad):
    with pytest.raises(ValueError, match="0 to 39"):
        check_identities(bad)


def test_bad_budget_start_objective_and_shape_say_what_is_valid(softmax):
    api = ModelAPI(softmax.predict_proba, "probabilities", input_size=4096)
    with pytest.raises(ValueError, match="at least 100"):
        invert_black_box(api, [0], queries_per_person=0)
    for schedule in (0, 65, ((100, 8), (2_000, 16))):
        with pytest.raises(ValueError, match="schedule starting at 0"):
            invert_black_box(api, [0], queries_per_person=1_000, low_freq=schedule)
    with pytest.raises(ValueError, match="valid starts"):
        invert_white_box(softmax, [0], start="white")
    with pytest.raises(ValueError, match="valid objectives"):
        invert_white_box(softmax, [0], objective="p")
    with pytest.raises(ValueError, match=r"\(n, 64, 64\)"):
        as_images(np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match="4096 values"):
        api.query(np.zeros((2, 100)))


def test_gradient_step_descends_and_clamps():
    x = torch.full((1, 4), 0.5)
    out = gradient_step(x, torch.tensor([[1.0, -1.0, 10.0, -10.0]]), 0.1)
    assert torch.allclose(out, torch.tensor([[0.4, 0.6, 0.0, 1.0]]))


def test_contrast_normalisation_stretches_dark_images():
    dark = np.random.default_rng(0).random((2, 64, 64)).astype(np.float32) * 0.05
    out = normalise_contrast(dark)
    assert out.min() == 0 and out.max() == 1


def test_closed_form_prior_gradient_matches_autograd():
    from lab_helpers.attacks import prior_gradient, total_variation

    x = torch.rand(3, 4096, requires_grad=True)
    prior = (0.005 * ((x - 0.5) ** 2).sum(1) + 0.02 * 4096 * total_variation(x)).sum()
    (auto,) = torch.autograd.grad(prior, x)
    assert torch.allclose(prior_gradient(x.detach(), 0.005, 0.02), auto, atol=1e-5)


def test_white_box_leaves_the_model_trainable(softmax):
    invert_white_box(softmax, [0, 1], iterations=3, progress=False)
    assert all(p.requires_grad for p in softmax.net.parameters())
