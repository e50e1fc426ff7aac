"""ModelAPI and the output policies: what a caller sees, query counting, and clear messages on bad input."""
from __future__ import annotations

import numpy as np
import pytest

from lab_helpers.service import ModelAPI
from lab_helpers.defences import POLICIES, OutputPolicy, add_noise, label_only, round_scores, top_k_scores

P = np.array([[0.55, 0.3, 0.1, 0.05], [0.1, 0.2, 0.3, 0.4]])


def fixed_model(x):
    return np.resize(P, (len(x), 4))


def test_round_top_k_label_only():
    assert np.allclose(round_scores(P, 1), [[0.6, 0.3, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])
    assert np.allclose(top_k_scores(P, 2), [[0.55, 0.3, 0, 0], [0, 0, 0.3, 0.4]])
    assert np.allclose(label_only(P), [[1, 0, 0, 0], [0, 0, 0, 1]])


def test_noise_keeps_a_distribution_and_is_seeded():
    a = add_noise(P, 0.1, np.random.default_rng(1))
    assert np.allclose(a.sum(axis=1), 1) and (a >= 0).all() and not np.allclose(a, P)
    assert np.allclose(a, add_noise(P, 0.1, np.random.default_rng(1)))


@pytest.mark.parametrize("kind", POLICIES)
def test_every_policy_keeps_the_top_label(kind):
    api = ModelAPI(fixed_model, kind, input_size=3, decimals=2, k=2, noise_scale=0.01)
    seen = api.query(np.zeros((2, 3)))
    assert seen.shape == (2, 4) and seen.argmax(axis=1).tolist() == [0, 3]


def test_queries_are_counted_per_row():
    api = ModelAPI(fixed_model, input_size=3)
    api.query(np.zeros(3))
    api.query(np.zeros((5, 3)))
    assert api.queries == 6
    api.reset_count()
    assert api.queries == 0


def test_respond_shows_what_a_caller_reads():
    names = ["ann", "bo", "cy", "di"]
    assert ModelAPI(fixed_model, "label", input_size=3, class_names=names).respond(np.zeros(3)) == [{"label": "ann"}]
    top = ModelAPI(fixed_model, "label_score", input_size=3, class_names=names).respond(np.zeros(3))[0]
    assert top == {"label": "ann", "scores": {"ann": 0.55}}


def test_unknown_policy_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        ModelAPI(fixed_model, "confidence")
    assert all(p in str(info.value) for p in POLICIES)


@pytest.mark.parametrize("level", [-1, 1.5, "2"])
def test_bad_rounding_level_is_refused_clearly(level):
    with pytest.raises(ValueError, match="rounding level"):
        OutputPolicy("rounded", decimals=level)


def test_bad_k_and_noise_are_refused_clearly():
    with pytest.raises(ValueError, match="1 or more"):
        ModelAPI(fixed_model, "top_k", input_size=3, k=0)
    assert np.allclose(ModelAPI(fixed_model, "top_k", input_size=3, k=9).query(np.zeros(3)), P[:1])  # k above 4 classes: all
    with pytest.raises(ValueError, match="noise scale"):
        OutputPolicy("noisy", noise_scale=-0.1)


def test_query_of_wrong_shape_or_missing_columns_says_what_is_needed():
    with pytest.raises(ValueError, match="4096 values"):
        ModelAPI(fixed_model, input_size=4096).query(np.zeros((2, 100)))
    api = ModelAPI(lambda frame: np.resize(P, (len(frame), 4)), columns=["age", "weight", "dose"])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['dose'\]"):
        api.query({"age": 40, "weight": 70})
    assert api.query({"age": 40, "weight": 70, "dose": 5}).shape == (1, 4)


def test_the_label_is_the_models_own_even_when_rounding_ties_the_scores():
    api = ModelAPI(lambda x: np.resize([[0.26, 0.34, 0.40]], (len(x), 3)), "rounded", input_size=3, decimals=0)
    labels, scores = api.answer(np.zeros(3))
    assert labels.tolist() == [2] and scores.tolist() == [[0.0, 0.0, 0.0]]
    assert api.respond(np.zeros(3))[0]["label"] == "2"
