"""Three attacks that a decision's explanation helps, each run with and without it at the same number of queries.

- **Attribute inference from a decision letter** (lab 02's probing loop): the attacker knows a person's record except
  the sensitive input, and holds the letter the person received (a decision, and whatever explanation the service
  gives). One query per candidate value: the candidate whose letter matches the person's is the guess.
- **Membership inference from reasons**: reasons add up to the adverse score (Shapley values' efficiency), so a
  label-only service that gives reasons gives the score; a member's score fits its own band better than a stranger's.
  Beside it, the signal Shokri et al. (2021) measured on gradient explanations: the spread (variance) of the reasons.
- **Model extraction from counterfactuals** (Aïvodji et al., 2020): each counterfactual is a second, labelled record
  just across the decision boundary; a copy trained on queries and counterfactuals agrees with the model sooner.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .probing import InferenceResult, prior_only_guess


def letter_distance(letter, candidate, i: int, j: int) -> float:
    """How far candidate notice j is from the person's letter i: a different decision is farthest of all."""
    if letter.decisions[i] != candidate.decisions[j]:
        return np.inf
    distance = float(np.abs(letter.values[i] - candidate.values[j]).sum())
    if letter.counterfactuals:
        a, b = letter.counterfactuals[i], candidate.counterfactuals[j]
        if (a is None) != (b is None):
            distance += 1.0
        elif a is not None:
            same_change = a["input"] == b["input"] and a["to"] == b["to"]
            distance += 0.0 if same_change else 1.0
    return distance


def infer_from_letters(api, known: pd.DataFrame, letters, sensitive: str, prior: dict[str, float]) -> np.ndarray:
    """For each person, the sensitive value whose letter (decision and explanation) is nearest the one they received.

    Parameters
    ----------
    api : a `DecisionAPI` under the same explanation setting as the letters.
    known : the people's records without the sensitive column.
    letters : the `Notices` the people received (what the attacker holds).
    sensitive : the sensitive column's name; prior: its values and population frequencies (ties go to the commoner).
    """
    if sensitive in known.columns:
        raise ValueError(f"The attacker must not know {sensitive!r}: drop that column from the known records.")
    values = list(prior)
    n = len(known)
    candidates = pd.concat([known.assign(**{sensitive: v}) for v in values], ignore_index=True)
    notices = api.explain(candidates)  # one query per person and candidate value
    distance = np.array([[letter_distance(letters, notices, i, k * n + i) for k in range(len(values))]
                         for i in range(n)])
    p = np.array([prior[v] for v in values])
    best = np.isclose(distance, distance.min(axis=1, keepdims=True), rtol=1e-9, atol=1e-12) | (
        np.isinf(distance) & np.isinf(distance.min(axis=1, keepdims=True)))
    return np.asarray(values, dtype=object)[np.where(best, p, -np.inf).argmax(axis=1)]


def attribute_from_letters(api, data, idx: np.ndarray, letters) -> InferenceResult:
    """The letter attack on the people `idx`, holding their `letters`: one query per person and candidate value."""
    records = data.frame[data.features].iloc[idx].reset_index(drop=True)
    if len(letters.decisions) != len(records):
        raise ValueError(f"One letter per person: {len(letters.decisions)} letters for {len(records)} people.")
    known = records.drop(columns=data.sensitive)
    before = api.queries
    guesses = infer_from_letters(api, known, letters, data.sensitive, data.prior)
    return InferenceResult(guesses, records[data.sensitive].to_numpy(object), prior_only_guess(data.prior),
                           api.queries - before)


def recovered_scores(notices) -> np.ndarray | None:
    """The adverse score each notice gives away (typical applicant's score + the sum of the reasons), or None when
    its reasons carry no numbers to add up."""
    if notices.explanation.kind != "reasons" or not notices.explanation.numbers:
        return None
    return np.clip(notices.base + notices.values.sum(axis=1), 0.0, 1.0)


def membership_signal(notices, labels: np.ndarray, n_classes: int, statistic: str = "score") -> np.ndarray:
    """How member-like each record looks (higher: more likely a training member).

    statistic 'score': how well the adverse score the reasons add up to fits the record's true band (1 - the score
    for a favourable band, the score for the adverse band); without numbers, whether the decision is right (1 or 0).
    'spread': minus the variance of the reasons (Shokri et al.: a member's explanation is flatter).
    """
    if statistic == "spread":
        return -np.var(notices.values, axis=1)
    if statistic != "score":
        raise ValueError(f"Unknown statistic {statistic!r}: 'score' or 'spread'.")
    scores = recovered_scores(notices)
    if scores is None:
        return (notices.decisions == labels).astype(float)
    adverse = labels == n_classes - 1
    return np.where(adverse, scores, 1.0 - scores)


def membership_advantage(member_signal: np.ndarray, other_signal: np.ndarray) -> float:
    """The best threshold's true-positive rate minus false-positive rate (lab 01's membership advantage)."""
    cuts = np.unique(np.concatenate([member_signal, other_signal]))
    best = 0.0
    for c in cuts:
        best = max(best, float(np.mean(member_signal >= c) - np.mean(other_signal >= c)))
    return best


@dataclass
class DecisionCopy:
    """A copy of the model's decision (adverse or not), trained on what the attacker's queries returned."""

    surrogate: object  # a fitted scikit-learn pipeline, or None when every answer was the same decision
    queries: int
    records: int  # records it learned from: the queries plus the counterfactuals returned
    constant: bool = False

    def predict_adverse(self, records: pd.DataFrame) -> np.ndarray:
        """The copy's decision for each record (True: adverse)."""
        if self.surrogate is None:
            return np.full(len(records), bool(self.constant))
        return self.surrogate.predict(records).astype(bool)


def copy_decisions(api, pool: pd.DataFrame, budget: int, seed: int = 0, explained: int | None = None) -> DecisionCopy:
    """Model extraction: `budget` records drawn from the attacker's own pool, their decisions, and any counterfactuals.

    The copy is a logistic regression on the one-hot-encoded, scaled inputs: the attacker does not know the model's kind.
    explained: an explanation quota — only the first this many queries come with their explanation, the rest are
    plain answers (None: every query is explained).
    """
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if not 1 <= budget <= len(pool):
        raise ValueError(f"budget must be between 1 and the pool's {len(pool)} records (got {budget}).")
    rng = np.random.default_rng(seed)
    asked = pool.iloc[rng.choice(len(pool), budget, replace=False)].reset_index(drop=True)
    before = api.queries
    cut = budget if explained is None else min(budget, int(explained))
    notices = api.explain(asked.iloc[:cut]) if cut else None
    plain = api.answer(asked.iloc[cut:])[0] if cut < budget else np.zeros(0, int)
    adverse = np.concatenate([notices.adverse if notices is not None else np.zeros(0, bool),
                              plain == len(api.class_names) - 1])
    frames, decisions = [asked], [adverse]
    flipped = [(i, c) for i, c in enumerate(notices.counterfactuals if notices is not None else []) if c is not None]
    if flipped:
        frames.append(pd.concat([c["record"] for _, c in flipped], ignore_index=True)[asked.columns])
        decisions.append(~adverse[[i for i, _ in flipped]])
    X, y = pd.concat(frames, ignore_index=True), np.concatenate(decisions)
    if len(set(y)) < 2:
        return DecisionCopy(None, api.queries - before, len(X), constant=bool(y[0]))
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical), (StandardScaler(), numeric))
    surrogate = make_pipeline(encode, LogisticRegression(max_iter=2000)).fit(X, y)
    return DecisionCopy(surrogate, api.queries - before, len(X))


def decision_agreement(copy: DecisionCopy, model, data, records: pd.DataFrame) -> float:
    """Balanced agreement of the copy with the model's adverse decision on `records` (0.5: no better than a coin)."""
    from sklearn.metrics import balanced_accuracy_score

    truth = model.predict_proba(records[data.features]).argmax(axis=1) == len(data.class_names) - 1
    return float(balanced_accuracy_score(truth, copy.predict_adverse(records[data.features])))
