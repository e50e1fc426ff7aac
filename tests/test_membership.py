"""Lab 01: the confidence-threshold membership test, the two models, the regularisation sweep and its self-check."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lab_helpers.ui import check_regularisation_choice, placeholder
from lab_helpers.attacks import best_threshold_test, member_confidences, membership_advantage, threshold_test, true_label_confidence
from lab_helpers.evaluation import leaf_size_sweep
from lab_helpers.targets import OVERFIT_LEAF, make_forest


@pytest.fixture(scope="module")
def sweep(people):
    return leaf_size_sweep(people, seed=0)


def test_threshold_test_counts_rates():
    test = threshold_test(np.array([0.9, 0.8, 0.4, 0.95]), np.array([0.3, 0.85, 0.2, 0.1]), 0.8)
    assert (test.tpr, test.fpr) == (0.75, 0.25) and test.advantage == pytest.approx(0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        threshold_test(np.ones(2), np.ones(2), 1.5)


def test_best_threshold_perfect_and_useless():
    assert best_threshold_test(np.array([0.9, 0.95]), np.array([0.1, 0.2])).advantage == 1.0
    same = np.linspace(0, 1, 101)
    assert best_threshold_test(same, same).advantage == 0.0


def test_confidence_needs_one_label_per_record(people, patient_models):
    with pytest.raises(ValueError, match="one label per record"):
        true_label_confidence(patient_models["overfit"].model, people.X_test.iloc[:5], people.y_test[:4])


def test_bad_leaf_size_is_refused_clearly():
    with pytest.raises(ValueError, match="min_samples_leaf must be a whole number"):
        make_forest(["sex"], min_samples_leaf=0)


def test_overfit_memorises_and_regularised_pays_a_few_points(patient_models):
    overfit, regularised = patient_models["overfit"], patient_models["regularised"]
    assert overfit.train_accuracy == 1.0  # lab 01: "right about every patient it trained on"
    assert 0.6 < overfit.test_accuracy < 0.72 and overfit.gap > 0.25
    assert regularised.gap < 0.12
    assert 0.01 <= overfit.test_accuracy - regularised.test_accuracy <= 0.06  # "a few points"


def test_members_get_more_confidence_only_from_the_overfit_model(people, patient_models):
    gaps = {name: np.subtract(*[c.mean() for c in member_confidences(m.model, people)]) for name, m in patient_models.items()}
    assert gaps["overfit"] > 0.2
    assert abs(gaps["regularised"]) < 0.06  # "the two histograms nearly coincide"


def test_membership_advantage_is_larger_for_the_overfit_model(people, patient_models):
    overfit = membership_advantage(patient_models["overfit"].model, people).advantage
    regularised = membership_advantage(patient_models["regularised"].model, people).advantage
    assert 0.5 < overfit < 0.8
    assert 0.03 < regularised < 0.2
    assert overfit > 3 * regularised


@pytest.mark.slow
def test_sweep_gap_and_advantage_fall_together(sweep):
    assert list(sweep.columns) == ["min_samples_leaf", "train_accuracy", "test_accuracy", "gap", "advantage"]
    assert sweep["gap"].corr(sweep["advantage"]) > 0.9
    first, last = sweep.iloc[0], sweep.iloc[-1]
    assert last["advantage"] < first["advantage"] / 4 and last["gap"] < first["gap"] / 4
    assert last["test_accuracy"] < first["test_accuracy"] - 0.03  # "test accuracy falls too at the strong end"


def test_exercise_has_answers_and_the_check_accepts_only_them(sweep, capsys):
    best = sweep["test_accuracy"].max()
    limit = sweep.loc[sweep["min_samples_leaf"] == OVERFIT_LEAF, "advantage"].item() / 2
    passing = sweep[(sweep["test_accuracy"] >= best - 0.02) & (sweep["advantage"] <= limit)]["min_samples_leaf"]
    assert len(passing) >= 1
    for leaf in passing:
        assert check_regularisation_choice(int(leaf), sweep, tolerance=0.02)
    for leaf in set(sweep["min_samples_leaf"]) - set(passing):
        assert not check_regularisation_choice(int(leaf), sweep, tolerance=0.02)
    assert "✘" in capsys.readouterr().out


def test_regularisation_check_copes_with_placeholder_and_nonsense(capsys):
    sweep = pd.DataFrame({"min_samples_leaf": [1, 5, 50], "train_accuracy": [1.0, 0.85, 0.65],
                          "test_accuracy": [0.70, 0.69, 0.60], "gap": [0.3, 0.16, 0.05], "advantage": [0.6, 0.25, 0.05]})
    assert check_regularisation_choice(5, sweep)
    assert not check_regularisation_choice(placeholder(1, "pick a leaf size"), sweep)  # the stub's value
    assert not check_regularisation_choice(50, sweep)  # leaks little but loses 10 points
    assert not check_regularisation_choice(None, sweep)
    assert not check_regularisation_choice(7, sweep)
    assert not check_regularisation_choice("5", sweep)
    out = capsys.readouterr().out
    assert "Nothing to check yet" in out and "pick one of [1, 5, 50]" in out
