"""Data minimisation on the synthetic patients: drop the sensitive column, then find what its proxy still leaks.

The attacker (as in lab 02) knows a person's everyday attributes and the model's true label for them, and
queries the model. Here the attacker knows neither the sensitive value nor the proxy (both are medical
history); for every candidate sensitive value it averages the model's answer over the proxy values that
value makes likely (the data card's published table), so a model that only takes the proxy still answers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..attacks.probing import GROUPS, group_rows, make_api, pick_best, prior_only_guess
from ..data.synthetic_people import PeopleData
from ..defences.dropped_columns import MinimisedData, Variant


def label_scores_over_hidden(api, data: PeopleData, used: list[str], idx: np.ndarray) -> np.ndarray:
    """The answer's score for each person's known label under every (sensitive, proxy) candidate, (n, S, P).

    Only the hidden columns the model takes are varied, so a model that takes neither costs one query a person.
    """
    s, p = data.sensitive, data.framing.proxy.name
    s_values, p_values = list(data.prior), list(data.framing.proxy.values)
    known = data.frame.iloc[idx].drop(columns=[s, p, data.framing.target]).reset_index(drop=True)
    labels, rows = data.labels(idx), np.arange(len(idx))
    s_try = s_values if s in used else s_values[:1]
    p_try = p_values if p in used else p_values[:1]
    scores = np.empty((len(idx), len(s_try), len(p_try)))
    for i, sv in enumerate(s_try):
        for j, pv in enumerate(p_try):
            scores[:, i, j] = api.query(known.assign(**{s: sv, p: pv}))[rows, labels]
    return np.broadcast_to(scores, (len(idx), len(s_values), len(p_values)))


def posterior_through_proxy(label_scores: np.ndarray, data: PeopleData) -> np.ndarray:
    """The attacker's belief in each sensitive value: prior x sum over proxy values of P(proxy | value) x score."""
    prior = np.array(list(data.prior.values()))
    given = np.array([data.framing.proxy.given[v] for v in data.prior])  # (values, proxy values), from the data card
    weight = prior * (np.asarray(label_scores) * given[None]).sum(axis=2)
    return weight / np.maximum(weight.sum(axis=1, keepdims=True), 1e-300)


def rarest_value(data: PeopleData) -> str:
    """The least common sensitive value (e.g. the AA genotype): the one an attacker would hunt for."""
    return min(data.prior, key=data.prior.get)


def hunt_precision(belief: np.ndarray, truth: np.ndarray, column: int, share: float = 0.1, seed: int = 0) -> float:
    """Of the share of people the attacker is surest hold the value in column, how many really do (ties: random)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be between 0 and 1 (got {share}); 0.1 flags the top 10 %.")
    order = np.random.default_rng(seed).permutation(len(belief))
    top = order[np.argsort(-belief[order, column], kind="stable")][: max(1, int(round(share * len(belief))))]
    return float(np.mean(np.asarray(truth)[top] == column))


@dataclass
class ProxyAttack:
    """The attack's beliefs about one group, and what they are worth against the truth."""

    belief: np.ndarray  # (people, sensitive values)
    truth: np.ndarray  # (people,) index of the true value
    prior: np.ndarray
    queries: int

    @property
    def accuracy(self) -> float:
        """Share of people whose sensitive value the attack's top guess gets right."""
        return float(np.mean(pick_best(self.belief, self.prior) == self.truth))

    def hunt(self, column: int, share: float = 0.1) -> float:
        """Precision of the attacker's list of the people it is surest hold the value in column."""
        return hunt_precision(self.belief, self.truth, column, share)


def attack_through_proxy(model, data: MinimisedData, group: str = "members") -> ProxyAttack:
    """Attribute inference when the attacker knows neither the sensitive value nor the proxy."""
    idx = group_rows(data, group)
    api = make_api(model, data)
    belief = posterior_through_proxy(label_scores_over_hidden(api, data, data.features, idx), data)
    truth = data.frame[data.sensitive].iloc[idx].map(list(data.prior).index).to_numpy()
    return ProxyAttack(belief, truth, np.array(list(data.prior.values())), api.queries)


def minimisation_table(trained: dict[str, Variant], share: float = 0.1) -> pd.DataFrame:
    """For each input set: test accuracy, the attack's top-guess accuracy, and its hunt for the rarest value."""
    data = next(iter(trained.values())).data
    rare = rarest_value(data)
    column, common = list(data.prior).index(rare), list(data.prior).index(prior_only_guess(data.prior))
    rows = []
    for name, variant in trained.items():
        attacks = {g: attack_through_proxy(variant.fitted.model, variant.data, g) for g in GROUPS}
        members = attacks["members"]
        rows.append({"model inputs": name, "test accuracy": variant.fitted.test_accuracy,
                     "attack accuracy (members)": members.accuracy,
                     "prior only (members)": float(np.mean(members.truth == common)),
                     f"{rare} hunt precision (members)": members.hunt(column, share),
                     f"{rare} hunt precision (non-members)": attacks["non-members"].hunt(column, share),
                     f"{rare} share (members)": float(np.mean(members.truth == column)),
                     "queries per person": members.queries // len(members.truth)})
    return pd.DataFrame(rows).set_index("model inputs")


def proxy_reliance(trained: dict[str, Variant], n_people: int = 300) -> pd.DataFrame:
    """How much each model's answer moves when the proxy changes, and its rank among the model's inputs."""
    from ..attacks.probing import sensitivity_table

    rows = []
    for name, variant in trained.items():
        proxy = variant.data.framing.proxy.name
        if proxy not in variant.data.features:
            continue
        people = variant.data.frame.iloc[variant.data.train_idx[:n_people]]
        table = sensitivity_table(make_api(variant.fitted.model, variant.data), variant.data, people)
        rank = int(table.index[table["attribute"] == proxy][0]) + 1
        shift = float(table["mean_shift"].iloc[rank - 1])
        rows.append({"model inputs": name, f"mean shift when {proxy} changes": shift, "rank among the inputs": f"{rank} of {len(table)}", "top input": table["attribute"].iloc[0]})
    return pd.DataFrame(rows).set_index("model inputs")
