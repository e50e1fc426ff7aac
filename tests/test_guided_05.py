"""Lab 05's guided path (issue 26): the measurements behind its predictions and its graded decision come out as the
options and the words say. The notebook's own prediction and decision cells are run on the kit's measurements (the
shared fixtures: nothing heavy is trained twice), so a change in the numbers or in the cells' mapping shows here."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_guided_paths import guided_path, notebooks, path_problems  # noqa: E402

INF = float("inf")


def path_cell(marker: str) -> str:
    """The source of the guided path's code cell (solution copy) that holds `marker`."""
    cells, _ = guided_path(notebooks("05")[0])
    found = [c.source for c in cells if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, f"{marker!r}: {len(found)} cells"
    return found[0]


def run_cell(marker: str, namespace: dict):
    """Run a path cell in `namespace`; return the value of its last expression (the widget it shows)."""
    tree = ast.parse(path_cell(marker))
    last = tree.body.pop()
    assert isinstance(last, ast.Expr)
    exec(compile(tree, "<lab 05 cell>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<lab 05 cell>", "eval"), namespace)


@pytest.fixture(scope="module")
def minimised(people):
    from lab_helpers.defences import train_variants
    from lab_helpers.evaluation import minimisation_table

    trained = train_variants(people)
    return trained, minimisation_table(trained)


@pytest.fixture(scope="module")
def regularised(faces, evaluator):
    from lab_helpers.evaluation import regularisation_sweep

    return regularisation_sweep(faces, evaluator, progress=False)


@pytest.fixture(scope="module")
def sweep(faces, evaluator):
    from lab_helpers.evaluation import epsilon_sweep

    return epsilon_sweep(faces, evaluator, progress=False)


def test_lab_05_has_a_guided_path_in_both_copies():
    for path in notebooks("05"):
        assert path_problems(path) == [], path.name


def test_the_proxy_keeps_the_hunt_sharp_until_it_goes_too(minimised):
    from lab_helpers.evaluation import proxy_reliance

    trained, table = minimised
    full, no_genotype, no_proxy = (table.loc[n] for n in table.index)
    hunt, share = "AA hunt precision (members)", "AA share (members)"
    box = run_cell("measure_hunt", {"full": full, "no_genotype": no_genotype, "hunt": hunt, "share": share})
    right, text = box.prediction.result()
    assert box.prediction.options[right] == "Nearly as much as before", text
    kept = (no_genotype[hunt] - full[share]) / (full[hunt] - full[share])
    assert kept >= 0.75  # the option's threshold is 0.7: margin
    # the words: a price for dropping the genotype, little more for the proxy; the top guess at the prior; the hunt
    # back at the base rate only without both
    assert full["test accuracy"] - no_genotype["test accuracy"] >= 0.05
    assert no_genotype["test accuracy"] - no_proxy["test accuracy"] <= 0.03
    assert abs(no_genotype["attack accuracy (members)"] - no_genotype["prior only (members)"]) <= 0.02
    assert no_proxy[hunt] <= full[share] + 0.05
    reliance = proxy_reliance(trained)
    assert reliance.iloc[1]["rank among the inputs"].startswith("1 of")  # leans on it more than on any other input


@pytest.mark.slow
def test_weight_decay_cuts_membership_but_not_the_template_leak(regularised):
    decay = regularised[regularised["defence"] == "weight decay"]
    weakest, strongest = decay.iloc[0], decay.iloc[-1]
    box = run_cell("measure_decay", {"weakest": weakest, "strongest": strongest})
    right, text = box.prediction.result()
    assert right == 1 and "membership" in box.prediction.options[right], text
    assert strongest["membership advantage"] <= 0.45 * weakest["membership advantage"]  # threshold 0.6: margin
    assert strongest["correlation top-1"] >= 0.65  # threshold 0.5: margin
    # the words: membership falls to about luck; the strict evaluator falls with accuracy but stays above chance;
    # early stopping weakens the template leak only once the model is useless
    assert strongest["membership advantage"] <= strongest["membership noise level"] + 0.03
    assert 0.1 <= strongest["evaluator top-1"] < weakest["evaluator top-1"]
    early = regularised[regularised["defence"] == "early stopping"].set_index("epochs")
    assert early["lineup"].min() == early.loc[early.index.min(), "lineup"] and early.loc[early.index.min(), "test accuracy"] <= 0.1


@pytest.mark.slow
def test_dp_at_epsilon_10_leaks_identity_about_as_often_as_the_model_is_right(sweep):
    box = run_cell("measure_dp", {"sweep": sweep})
    right, text = box.prediction.result()
    assert right == 1, text
    row, none = sweep.loc[10.0], sweep.loc[INF]
    assert 0.25 <= row["correlation top-1"] <= none["correlation top-1"] - 0.15  # thresholds 0.1 and -0.1: margin
    assert abs(row["correlation top-1"] - row["test accuracy"]) <= 0.15
    # the words: recognised at about chance at every ε; membership about halved at ε = 50, near luck at small ε
    private = sweep.drop(index=INF)
    assert (private["evaluator top-1"] <= 0.075).all()
    assert 0.3 <= sweep.loc[50.0, "membership advantage"] / none["membership advantage"] <= 0.7
    small = sweep.loc[[5.0, 3.0, 1.0]]
    assert (small["membership advantage"] <= small["membership noise level"] + 0.02).all()
    assert ((sweep["correlation top-1"] - sweep["test accuracy"]).abs() <= 0.15).all()


@pytest.mark.slow
def test_the_epsilon_decision_gives_partial_credit_per_rule_and_never_names_the_answer(sweep, monkeypatch):
    monkeypatch.setenv("LAB_CHECK_GUIDED", "1")  # decide() then checks that some option earns full marks
    box = run_cell("grade_epsilon", {"sweep": sweep})
    decision = box.decision
    credits = {option: decision.grade(option)[0] for option in decision.options}
    assert credits == pytest.approx({"no DP (ε = ∞)": 1 / 3, "ε = 50": 2 / 3, "ε = 20": 1.0, "ε = 10": 1 / 3,
                                     "ε = 5": 1 / 3, "ε = 3": 1 / 3, "ε = 1": 1 / 3})
    for option in decision.options:
        credit, lines = decision.grade(option)
        assert len(lines) == 3 and sum(line.startswith("✔") for line in lines) == round(credit * 3)
        assert not any(other in line for line in lines for other in decision.options), lines  # no option named
    # the full-marks option keeps the floor with a margin, and its membership advantage is clearly under the ceiling
    ceiling = 2 / 3 * sweep.loc[INF, "membership advantage"]
    assert sweep.loc[20.0, "test accuracy"] >= 0.72 and sweep.loc[20.0, "membership advantage"] <= ceiling - 0.05
    assert sweep.loc[10.0, "test accuracy"] <= 0.68 and sweep.loc[50.0, "membership advantage"] <= ceiling - 0.05
