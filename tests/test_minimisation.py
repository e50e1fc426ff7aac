"""Lab 05, tabular: data minimisation and the proxy that still leaks — numbers in ranges, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from lab_helpers.evaluation import hunt_precision, minimisation_table, posterior_through_proxy, proxy_reliance
from lab_helpers.defences import minimise, proxy_shares, train_variants
from lab_helpers.evaluation.proxy_leak import rarest_value
from lab_helpers.defences.dropped_columns import variants
from lab_helpers.data import load_people


@pytest.fixture(scope="module")
def data():
    return load_people("healthcare")


@pytest.fixture(scope="module")
def trained(data):
    return train_variants(data)


@pytest.fixture(scope="module")
def table(trained):
    return minimisation_table(trained)


def test_minimise_removes_columns_and_refuses_bad_names(data):
    small = minimise(data, ["vkorc1_genotype"])
    assert "vkorc1_genotype" not in small.features and "vkorc1_genotype" not in small.X_train.columns
    assert len(small.features) == len(data.features) - 1 and small.train_idx is data.train_idx
    with pytest.raises(ValueError, match="not input columns"):
        minimise(data, ["genotype"])
    with pytest.raises(ValueError, match="keep at least one"):
        minimise(data, data.features)
    assert list(variants(data).values())[2] == ("vkorc1_genotype", "family_history")


def test_dropping_the_genotype_costs_accuracy_and_takes_the_top_guess_to_the_prior(table):
    full, no_genotype, neither = (table.iloc[i] for i in range(3))
    assert full["test accuracy"] - no_genotype["test accuracy"] >= 0.05
    assert full["attack accuracy (members)"] >= full["prior only (members)"] + 0.1
    assert abs(no_genotype["attack accuracy (members)"] - no_genotype["prior only (members)"]) <= 0.02
    assert abs(neither["attack accuracy (members)"] - neither["prior only (members)"]) <= 0.005
    assert list(table["queries per person"]) == [6, 2, 1]


def test_the_proxy_still_leaks_in_the_hunt(table):
    hunt, share = table["AA hunt precision (members)"], table["AA share (members)"]
    assert hunt.iloc[0] >= 0.6 and hunt.iloc[1] >= 2.5 * share.iloc[1]
    assert hunt.iloc[2] <= share.iloc[2] + 0.08
    assert table["AA hunt precision (non-members)"].iloc[1] >= 2 * share.iloc[1]
    assert table["test accuracy"].iloc[1] - table["test accuracy"].iloc[2] <= 0.05  # the proxy buys little accuracy


def test_the_model_leans_on_the_proxy_once_the_genotype_is_gone(trained):
    reliance = proxy_reliance(trained)
    shift = reliance.columns[0]
    assert len(reliance) == 2 and reliance.iloc[1]["rank among the inputs"].startswith("1 of")
    assert reliance.iloc[1][shift] >= 2 * reliance.iloc[0][shift]


def test_proxy_shares_show_the_correlation(data):
    shares = proxy_shares(data)
    assert np.allclose(shares.sum(axis=1), 100, atol=0.2)
    assert shares.loc["yes", "AA"] >= 2 * shares.loc["everyone", "AA"] and rarest_value(data) == "AA"


def test_credit_framing_shows_the_same_pattern():
    credit = load_people("credit")
    table = minimisation_table(train_variants(credit))
    hunt, share = table["serious hunt precision (members)"], table["serious share (members)"]
    assert hunt.iloc[1] >= 2.5 * share.iloc[1] and hunt.iloc[2] <= share.iloc[2] + 0.08


def test_posterior_and_hunt_basics(data):
    flat = np.ones((5, 3, 2))
    assert np.allclose(posterior_through_proxy(flat, data), list(data.prior.values()))
    truth = np.random.default_rng(0).integers(0, 3, 3000)
    tied = hunt_precision(np.ones((3000, 3)), truth, column=2)
    assert abs(tied - np.mean(truth == 2)) <= 0.06  # ties are broken at random: the base rate
    perfect = hunt_precision(np.eye(3)[truth], truth, column=2)
    assert perfect == 1.0
    with pytest.raises(ValueError, match="share must be"):
        hunt_precision(np.ones((10, 3)), truth[:10], column=0, share=0)
