"""Probing a black-box model's confidence scores: which attribute moves the answer, then attribute inference.

The attack follows Fredrikson et al. (USENIX Security 2014): the attacker knows a person's other
attributes and the model's true label for them, tries every value of the hidden sensitive attribute,
and keeps the value whose answer best backs the known label, weighted by how common the value is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..data.synthetic_people import PeopleData
from ..defences.output_policies import OutputPolicy
from ..service.api import ModelAPI

# The output granularities the labs compare, most to least detailed.
OUTPUTS = (OutputPolicy("probabilities"), OutputPolicy("rounded", decimals=2), OutputPolicy("rounded", decimals=1),
           OutputPolicy("label_score"), OutputPolicy("label"))
GROUPS = ("members", "non-members")


def make_api(model, data: PeopleData, policy: OutputPolicy | str = "probabilities", **policy_params) -> ModelAPI:
    """The model behind a black-box API that takes a person's record (dict or DataFrame) and counts queries."""
    return ModelAPI(model.predict_proba, policy, columns=data.features, class_names=data.class_names, **policy_params)


def probability_shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """How much probability moved between two answers: half the summed absolute change, 0 (none) to 1 (all)."""
    return 0.5 * np.abs(np.asarray(after, float) - np.asarray(before, float)).sum(axis=-1)


def changed_values(data: PeopleData, column: str, current) -> list:
    """The values a probe tries for one attribute: every other category, or one sd down and up for a number."""
    spec = data.framing
    numeric = {c.name: c for c in spec.numeric}
    if column in numeric:
        c = numeric[column]
        tries = [float(np.clip(current - c.sd, c.low, c.high)), float(np.clip(current + c.sd, c.low, c.high))]
        return [round(t, c.decimals) if c.decimals else int(round(t)) for t in tries if t != current]
    categories = {c.name: c.values for c in (*spec.categories, spec.sensitive)} | {spec.proxy.name: spec.proxy.values}
    if column not in categories:
        raise KeyError(f"{column!r} is not an input column. Input columns: {data.features}.")
    return [v for v in categories[column] if v != current]


def probe_person(api: ModelAPI, data: PeopleData, person: pd.Series | dict, columns: list[str] | None = None) -> pd.DataFrame:
    """The probing loop for one person: baseline query, change one attribute, record the shift, repeat."""
    person = {c: person[c] for c in data.features}
    baseline = api.query(person)[0]
    rows = []
    for column in columns or data.features:
        for value in changed_values(data, column, person[column]):
            answer = api.query({**person, column: value})[0]
            rows.append({"attribute": column, "from": person[column], "to": value,
                         "shift": float(probability_shift(baseline, answer)),
                         "label": data.class_names[int(answer.argmax())]})
    return pd.DataFrame(rows)


def sensitivity_table(api: ModelAPI, data: PeopleData, people: pd.DataFrame) -> pd.DataFrame:
    """The probing loop over many people: for each attribute, the mean probability shift its changes cause."""
    people = people[data.features].reset_index(drop=True)
    start = api.queries
    baseline = api.query(people)
    rows = []
    for column in data.features:
        who, changed = [], []
        for i, current in enumerate(people[column]):
            for value in changed_values(data, column, current):
                who.append(i)
                changed.append(value)
        probes = people.iloc[who].assign(**{column: changed})  # one changed record per probe, sent as a batch
        spent = api.queries
        answers = api.query(probes)
        rows.append({"attribute": column, "mean_shift": float(probability_shift(baseline[who], answers).mean()),
                     "label_changed": float(np.mean(answers.argmax(axis=1) != baseline[who].argmax(axis=1))),
                     "queries": api.queries - spent})
    table = pd.DataFrame(rows).sort_values("mean_shift", ascending=False, ignore_index=True)
    table.attrs["queries"] = api.queries - start
    return table


def score_candidates(label_scores: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Each candidate value's score: the answer's score for the known label times the value's prior."""
    return np.asarray(label_scores, float) * np.asarray(prior, float)


def pick_best(scores: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Index of the best-scoring candidate in each row; ties go to the more common value."""
    scores = np.asarray(scores, float)
    best = np.isclose(scores, scores.max(axis=1, keepdims=True), rtol=1e-12, atol=0.0)
    return np.where(best, np.asarray(prior, float), -np.inf).argmax(axis=1)


def candidate_label_scores(api: ModelAPI, known: pd.DataFrame, labels: np.ndarray, sensitive: str,
                           values: list) -> np.ndarray:
    """One query per person and candidate value; the answer's score for the person's known label, (people, values)."""
    if sensitive in known.columns:
        raise ValueError(f"The attacker must not know {sensitive!r}: drop that column from the known records.")
    candidates = pd.concat([known.assign(**{sensitive: v}) for v in values], ignore_index=True)
    answers = api.query(candidates).reshape(len(values), len(known), -1)
    return answers[:, np.arange(len(known)), np.asarray(labels, int)].T


def infer_sensitive(api: ModelAPI, known: pd.DataFrame, labels: np.ndarray, sensitive: str, prior: dict[str, float],
                    score_fn: Callable = score_candidates) -> np.ndarray:
    """Fredrikson's attack: try each sensitive value in every known record, keep the one best backing the label."""
    values, p = list(prior), np.array(list(prior.values()), float)
    label_scores = candidate_label_scores(api, known, labels, sensitive, values)
    scores = np.asarray(score_fn(label_scores, p), float)
    if scores.shape != label_scores.shape:
        raise ValueError(f"The scoring step must return one score per person and candidate value, shape "
                         f"{label_scores.shape}; it returned shape {scores.shape}.")
    return np.asarray(values, dtype=object)[pick_best(scores, p)]


@dataclass
class InferenceResult:
    """The attack's guesses for a group of people, the truth, and what the attack cost."""

    guesses: np.ndarray
    truth: np.ndarray
    prior_guess: str
    queries: int

    @property
    def accuracy(self) -> float:
        """Share of people whose sensitive value the attack guessed right."""
        return float(np.mean(self.guesses == self.truth))

    @property
    def baseline(self) -> float:
        """Accuracy of guessing the most common value for everyone (the prior alone, no model)."""
        return float(np.mean(self.truth == self.prior_guess))

    @property
    def margin(self) -> float:
        """How far the attack beats the prior-only baseline (percentage points / 100)."""
        return self.accuracy - self.baseline


def group_rows(data: PeopleData, group: str, n_people: int | None = None) -> np.ndarray:
    """Row numbers of the first n_people training members or non-members."""
    if group not in GROUPS:
        raise ValueError(f"Unknown group {group!r}. Valid groups: {', '.join(GROUPS)}.")
    idx = data.train_idx if group == "members" else data.test_idx
    return idx[:n_people]


def prior_only_guess(prior: dict[str, float]) -> str:
    """The value a guesser without the model picks for everyone: the most common one."""
    return max(prior, key=prior.get)


def attribute_inference(api: ModelAPI, data: PeopleData, group: str = "members", n_people: int | None = None,
                        score_fn: Callable = score_candidates) -> InferenceResult:
    """Run the attack through api on training members or non-members and compare with the truth."""
    idx = group_rows(data, group, n_people)
    known = data.frame[data.features].iloc[idx].drop(columns=data.sensitive)
    before = api.queries
    guesses = infer_sensitive(api, known, data.labels(idx), data.sensitive, data.prior, score_fn)
    return InferenceResult(guesses, data.frame[data.sensitive].iloc[idx].to_numpy(object),
                           prior_only_guess(data.prior), api.queries - before)


def attack_table(models: dict, data: PeopleData, outputs: tuple[OutputPolicy, ...] = OUTPUTS,
                 n_people: int | None = None) -> pd.DataFrame:
    """Attribute inference for every model, output granularity and group, with the prior-only baseline."""
    from tqdm.auto import tqdm

    rows = []
    jobs = [(name, policy, group) for name in models for policy in outputs for group in GROUPS]
    for name, policy, group in tqdm(jobs, desc="attacking"):
        model = getattr(models[name], "model", models[name])
        result = attribute_inference(make_api(model, data, policy), data, group, n_people)
        rows.append({"model": name, "output": policy.describe(), "people": group, "accuracy": result.accuracy,
                     "prior_only": result.baseline, "margin": result.margin, "queries": result.queries})
    return pd.DataFrame(rows)


def candidate_table(api: ModelAPI, data: PeopleData, idx: np.ndarray) -> pd.DataFrame:
    """For a few people: the known label and, per candidate value, the answer's score for that label."""
    known = data.frame[data.features].iloc[idx].drop(columns=data.sensitive)
    scores = candidate_label_scores(api, known, data.labels(idx), data.sensitive, list(data.prior))
    table = pd.DataFrame(scores, columns=[f"answer if {v}" for v in data.prior], index=pd.Index(idx, name="row"))
    table.insert(0, f"known {data.framing.target}", data.frame[data.framing.target].iloc[idx].to_numpy())
    table[f"true {data.sensitive} (hidden)"] = data.frame[data.sensitive].iloc[idx].to_numpy()
    return table


def attack_result(table: pd.DataFrame, model: str, output: str, people: str = "members", column: str = "margin") -> float:
    """One number from attack_table's result, e.g. the members' margin on the overfit model's label-only output."""
    rows = table[(table["model"] == model) & (table["output"] == output) & (table["people"] == people)]
    if len(rows) != 1:
        raise KeyError(f"No single result for model={model!r}, output={output!r}, people={people!r}. "
                       f"Models: {sorted(set(table['model']))}; outputs: {list(dict.fromkeys(table['output']))}.")
    return float(rows[column].iloc[0])
