"""What an output control costs the attacker, by the strict judges: cost curves and query multipliers (lab 04)."""
from __future__ import annotations

import pytest

from lab_helpers.evaluation.output_controls import (
    COST_BUDGETS,
    adaptive_attacks,
    label_attack,
    queries_needed,
    query_multiplier,
)
from lab_helpers.defences.output_policies import parse_policy


def test_queries_needed_interpolates_on_a_log_scale_and_says_when_never_reached():
    curve = {200: 0.05, 1_000: 0.1, 2_000: 0.2, 10_000: 0.4}
    assert queries_needed(curve, 0.05) == 200 and queries_needed(curve, 0.2) == 2_000
    assert queries_needed(curve, 0.3) == pytest.approx(2_000 * 5 ** 0.5)  # halfway between 2,000 and 10,000, in log
    assert queries_needed(curve, 0.5) is None
    assert queries_needed({200: 0.3, 1_000: 0.3}, 0.3) == 200  # a flat curve: the first budget that reached it


def test_a_query_multiplier_is_the_price_against_exact_scores_at_2000():
    exact = {1_000: 0.1, 2_000: 0.2, 10_000: 0.4}
    assert query_multiplier(exact, exact) == 1.0
    slower = {1_000: 0.05, 2_000: 0.1, 5_000: 0.2, 10_000: 0.3}
    assert query_multiplier(slower, exact) == pytest.approx(2.5)
    assert query_multiplier({2_000: 0.05, 10_000: 0.1}, exact) is None  # never reaches it within 10,000


@pytest.mark.slow
def test_labels_only_cost_the_strongest_attacker_less_than_twice_the_queries_of_exact_scores(faces, evaluator, softmax):
    # lab 04's headline by the strict evaluator: the boundary attack on the label every answer carries reaches what
    # exact scores give at 2,000 queries per person with about 1.4 times the queries (at most 1.6x on any lab 03
    # target: docs/performance.md), and at 10,000 it is recognised about as often as the white-box attack (40 %)
    budget = max(COST_BUDGETS)
    labels = label_attack(softmax, faces, evaluator, budget)
    exact = adaptive_attacks(softmax, parse_policy("probabilities"), faces, evaluator, budget, labels=labels)["strongest"]
    label = adaptive_attacks(softmax, parse_policy("label"), faces, evaluator, budget, labels=labels)["strongest"]
    assert sorted(exact.by_budget) == list(COST_BUDGETS) == sorted(label.by_budget)
    price = query_multiplier(label.curve(), exact.curve())
    assert price is not None and 1.0 <= price <= 2.0, price
    assert label.rate(budget) >= 0.3 and label.rate(budget, "recognised_nearest") >= 0.25
    assert exact.rate(budget) >= label.rate(budget) - 0.05  # exact scores never help the attacker less
    assert label.rate(2_000, "template_lineup") >= 0.9  # while the template leaks for nearly everyone
