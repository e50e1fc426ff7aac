"""Decisions that must explain themselves: the reasons and the counterfactual a credit or hiring service gives.

A lender must tell a declined applicant the principal reasons; an employer may have to give "meaningful information
about the logic involved". The kit's tabular models explain a decision in two ways:

- **reasons**: how much each input pushed the applicant's *adverse score* (the model's probability of the least
  favourable band: `high` risk, `reject`) away from a typical applicant's — Shapley values, computed with Captum's
  `ShapleyValueSampling` (never by hand). Shapley values add up: the reasons sum to the score minus the typical
  applicant's score, so a service that sends only a label *and* its reasons has sent the score too.
- **counterfactual**: the smallest change to one input that would change the decision ("approved if income were 4.0
  thousand higher"), found by trying each input over a grid of changes on the model itself.

A `DecisionExplanation` says which of the two a caller gets and the controls on it:

- reasons: `groups` (one reason per group of inputs, e.g. "income and debt"), `top:K` (the K reasons that pushed
  hardest towards the adverse band, named and ranked, without numbers: what adverse-action notices give),
  `noisy:S` (Gaussian noise of S on every value, in score units), `hide_sensitive` (the sensitive input's own line
  left out of the notice);
- counterfactuals: `adverse_only` (only a declined applicant gets one, as the rules require), `actionable` (only
  inputs an applicant may change: no age, no health condition, no past late payments).

`lab_helpers.attacks.decision_reasons` measures what each setting hands three different attackers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REASON_KINDS = ("none", "reasons", "counterfactual")
REASON_CONTROLS = ("groups", "top", "noisy", "hide_sensitive")
COUNTERFACTUAL_CONTROLS = ("adverse_only", "actionable")
SPELLING = ("none | reasons[+groups][+top:K][+noisy:S][+hide_sensitive] | counterfactual[+adverse_only][+actionable]; "
            "e.g. reasons, reasons+top:3, reasons+groups, counterfactual+adverse_only+actionable")
SHAPLEY_SAMPLES = 25  # random orderings of the inputs per explanation (Captum ShapleyValueSampling's n_samples)

REASON_GROUPS = {  # framing -> group name -> its inputs (every input in exactly one group)
    "credit": {
        "income and debt": ["income_k", "debt_to_income", "loan_amount_k", "open_accounts", "loan_purpose"],
        "stability": ["years_employed", "home_owner", "has_guarantor", "self_employed"],
        "payment history": ["late_payments_2y"],
        "personal circumstances": ["age", "pharmacy_spend", "health_condition"],
    },
    "hiring": {
        "skills": ["test_score", "certifications", "languages", "degree"],
        "experience": ["years_experience", "employment_gap", "referred"],
        "terms asked for": ["salary_expectation_k", "commute_km", "relocation_ok", "remote_only"],
        "personal circumstances": ["age", "disability"],
    },
    "healthcare": {
        "body": ["age", "height_cm", "weight_kg", "sex"],
        "way of life": ["alcohol_units_week", "exercise_hours_week", "smoker"],
        "health": ["systolic_bp", "cholesterol_mmol", "family_history"],
        "medicines": ["takes_amiodarone", "takes_enzyme_inducer"],
        "genetics": ["vkorc1_genotype"],
    },
}
ACTIONABLE = {  # framing -> the inputs an applicant may change (the rest: who they are, or their past)
    "credit": ["income_k", "debt_to_income", "loan_amount_k", "open_accounts", "loan_purpose", "has_guarantor"],
    "hiring": ["certifications", "salary_expectation_k", "relocation_ok", "remote_only", "test_score", "languages"],
    "healthcare": ["alcohol_units_week", "exercise_hours_week", "smoker", "takes_amiodarone", "takes_enzyme_inducer"],
}


@dataclass(frozen=True)
class DecisionExplanation:
    """What a decision's explanation shows: nothing, reasons or a counterfactual, and the controls on it.

    Parameters
    ----------
    kind : 'none' (the decision alone), 'reasons' (Shapley values of the adverse score) or 'counterfactual'.
    groups : reasons for groups of inputs (`REASON_GROUPS`) instead of single inputs.
    top : name only this many reasons, those pushing hardest towards the adverse band, ranked, without numbers.
    noisy : add Gaussian noise with this standard deviation (score units, e.g. 0.05) to every reason's value.
    hide_sensitive : leave the sensitive input's own reason out of the notice.
    adverse_only : give a counterfactual only to an applicant the model puts in the adverse band.
    actionable : counterfactuals change only inputs an applicant may change (`ACTIONABLE`).
    """

    kind: str = "reasons"
    groups: bool = False
    top: int | None = None
    noisy: float | None = None
    hide_sensitive: bool = False
    adverse_only: bool = False
    actionable: bool = False

    def __post_init__(self):
        if self.kind not in REASON_KINDS:
            raise ValueError(f"Unknown explanation kind {self.kind!r}. Valid: {SPELLING}.")
        reason_controls = self.groups or self.top is not None or self.noisy is not None or self.hide_sensitive
        if reason_controls and self.kind != "reasons":
            raise ValueError(f"groups, top, noisy and hide_sensitive apply to reasons, not to {self.kind!r}. Valid: {SPELLING}.")
        if (self.adverse_only or self.actionable) and self.kind != "counterfactual":
            raise ValueError(f"adverse_only and actionable apply to counterfactuals, not to {self.kind!r}. Valid: {SPELLING}.")
        if self.top is not None and (not isinstance(self.top, int) or self.top < 1):
            raise ValueError(f"top must be a whole number of reasons, 1 or more (got {self.top!r}); notices give 3 or 4.")
        if self.noisy is not None and (not np.isfinite(self.noisy) or self.noisy < 0):
            raise ValueError(f"noisy must be a standard deviation of 0 or more in score units (got {self.noisy!r}); try 0.05.")

    @property
    def numbers(self) -> bool:
        """Do the reasons carry values (not only names)?"""
        return self.kind == "reasons" and self.top is None

    def spelling(self) -> str:
        """As the command line spells it, e.g. 'reasons+top:3'."""
        text = self.kind
        for name in ("groups", "hide_sensitive", "adverse_only", "actionable"):
            text += f"+{name}" if getattr(self, name) else ""
        text += f"+top:{self.top}" if self.top is not None else ""
        return text + (f"+noisy:{self.noisy:g}" if self.noisy is not None else "")

    def describe(self) -> str:
        """A short human description."""
        if self.kind == "none":
            return "the decision alone"
        if self.kind == "counterfactual":
            who = "declined applicants only" if self.adverse_only else "every applicant"
            what = "inputs the applicant may change" if self.actionable else "any input"
            return f"the smallest change to one input that flips the decision, for {who}, over {what}"
        what = "groups of inputs" if self.groups else "each input"
        extra = [f"only the top {self.top} named, without numbers" if self.top else "",
                 f"noise of sd {self.noisy:g}" if self.noisy is not None else "",
                 "the sensitive input's line left out" if self.hide_sensitive else ""]
        extra = "; ".join(e for e in extra if e)
        return f"Shapley reasons for {what}" + (f"; {extra}" if extra else "")


def parse_decision_explanation(spec: str | DecisionExplanation) -> DecisionExplanation:
    """'reasons+top:3' -> DecisionExplanation('reasons', top=3); bad values name the valid ones."""
    if isinstance(spec, DecisionExplanation):
        return spec
    kind, *parts = str(spec).strip().split("+")
    if kind not in REASON_KINDS:
        raise ValueError(f"Unknown explanation {spec!r}. Valid: {SPELLING}.")
    settings: dict = {}
    for part in parts:
        name, _, value = part.partition(":")
        if name in ("groups", "hide_sensitive", "adverse_only", "actionable") and not value:
            settings[name] = True
        elif name in ("top", "noisy") and value:
            try:
                settings[name] = int(value) if name == "top" else float(value)
            except ValueError:
                raise ValueError(f"{part!r}: {value!r} is not a {'whole number' if name == 'top' else 'number'}. "
                                 f"Valid: {SPELLING}.") from None
        else:
            raise ValueError(f"Unknown explanation control {part!r} in {spec!r}. Valid: {SPELLING}.")
    return DecisionExplanation(kind, **settings)


# ---------------------------------------------------------------- the model's inputs as numbers, for Captum

@dataclass
class TableCoder:
    """Records <-> numbers: numeric inputs as they are, categories as their index in a fixed list of values."""

    features: list[str]
    levels: dict[str, list]  # categorical input -> its values

    @classmethod
    def for_data(cls, data) -> "TableCoder":
        """The coder of a `PeopleData` table (its categories in sorted order)."""
        frame = data.frame[data.features]
        levels = {c: sorted(frame[c].unique()) for c in data.features if not pd.api.types.is_numeric_dtype(frame[c])}
        return cls(list(data.features), levels)

    def encode(self, records: pd.DataFrame) -> np.ndarray:
        """(n, inputs) float array."""
        cols = [records[c].map(self.levels[c].index).to_numpy(float) if c in self.levels else records[c].to_numpy(float)
                for c in self.features]
        return np.stack(cols, axis=1)

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        """The records the numbers stand for."""
        out = {}
        for i, c in enumerate(self.features):
            if c in self.levels:
                values = self.levels[c]
                out[c] = [values[int(round(v))] for v in codes[:, i]]
            else:
                out[c] = codes[:, i]
        return pd.DataFrame(out)


def reference_record(data) -> pd.DataFrame:
    """The typical applicant the reasons compare with: the training members' median of each number, commonest category."""
    members = data.X_train
    row = {c: (members[c].median() if pd.api.types.is_numeric_dtype(members[c]) else members[c].mode().iloc[0])
           for c in data.features}
    return pd.DataFrame([row])[data.features]


def reason_names(data, groups: bool = False) -> list[str]:
    """The names reasons are given under: the inputs, or their groups (`REASON_GROUPS`)."""
    if not groups:
        return list(data.features)
    spec = REASON_GROUPS.get(data.framing.key)
    if spec is None or sorted(sum(spec.values(), [])) != sorted(data.features):
        raise ValueError(f"No reason groups for the {data.framing.key!r} table. Groups exist for: {', '.join(REASON_GROUPS)}.")
    return list(spec)


def shapley_reasons(model, data, records: pd.DataFrame, groups: bool = False, seed: int = 0,
                    n_samples: int = SHAPLEY_SAMPLES) -> np.ndarray:
    """Each record's Shapley values of the adverse score against `reference_record` (Captum), (n, reasons).

    The same record always gets the same reasons (the orderings are drawn from `seed`), as a service would give.
    """
    import torch
    from captum.attr import ShapleyValueSampling

    coder = TableCoder.for_data(data)
    adverse = len(data.class_names) - 1

    def adverse_score(codes: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(model.predict_proba(coder.decode(codes.detach().numpy()))[:, adverse])

    x = torch.as_tensor(coder.encode(records[data.features]), dtype=torch.float64)
    baseline = torch.as_tensor(coder.encode(reference_record(data)), dtype=torch.float64)
    mask = None
    if groups:
        index = {c: g for g, (_, cols) in enumerate(REASON_GROUPS[data.framing.key].items()) for c in cols}
        mask = torch.tensor([[index[c] for c in data.features]])
    n_reasons = len(reason_names(data, groups))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        values = ShapleyValueSampling(adverse_score).attribute(
            x, baselines=baseline, feature_mask=mask, n_samples=n_samples, perturbations_per_eval=n_reasons + 1)
    values = values.numpy()
    if groups:  # Captum gives every input its group's value; keep one column per group
        first = [data.features.index(cols[0]) for cols in REASON_GROUPS[data.framing.key].values()]
        values = values[:, first]
    return values


# ---------------------------------------------------------------- counterfactuals

COUNTERFACTUAL_STEPS = np.round(np.linspace(-3, 3, 61), 2)  # changes tried, in standard deviations of each number


def counterfactual_changes(model, data, record: pd.Series, inputs: list[str]) -> dict | None:
    """The cheapest single-input change that moves `record` across the decision (adverse <-> not), or None.

    A number's change costs its size in standard deviations; a category's change costs 1.
    Returns {'input', 'from', 'to', 'cost', 'record'} (the changed record as a one-row frame).
    """
    adverse = len(data.class_names) - 1
    members = data.X_train
    now = model.predict_proba(pd.DataFrame([record])[data.features])[0].argmax() == adverse
    rows, costs, changed = [], [], []
    for c in inputs:
        if not pd.api.types.is_numeric_dtype(members[c]):
            for value in sorted(members[c].unique()):
                if value != record[c]:
                    rows.append({**record, c: value}), costs.append(1.0), changed.append(c)
            continue
        sd, lo, hi = members[c].std(), data.frame[c].min(), data.frame[c].max()
        decimals = max(0, -int(np.floor(np.log10(sd))) + 1) if sd > 0 else 2
        for step in COUNTERFACTUAL_STEPS:
            value = float(np.round(np.clip(record[c] + step * sd, lo, hi), decimals))
            if step and value != record[c]:
                rows.append({**record, c: value}), costs.append(abs(value - record[c]) / sd), changed.append(c)
    if not rows:
        return None
    trial = pd.DataFrame(rows)[data.features]
    flips = (model.predict_proba(trial).argmax(axis=1) == adverse) != now
    if not flips.any():
        return None
    best = np.flatnonzero(flips)[np.argmin(np.asarray(costs)[flips])]
    c = changed[best]
    return {"input": c, "from": record[c], "to": trial[c].iloc[best], "cost": float(costs[best]),
            "record": trial.iloc[[best]].reset_index(drop=True)}


def counterfactual_text(change: dict | None, data) -> str:
    """'income_k 41.0 -> 52.3' as an applicant would read it."""
    if change is None:
        return "no single change found"
    return f"{change['input']}: {change['from']} -> {change['to']}"


# ---------------------------------------------------------------- what the caller receives

@dataclass
class Notices:
    """What a batch of explained decisions tells the caller.

    decisions: each record's band (a number in `class_names` order); adverse: in the adverse band?;
    names: the reasons' names; values: (n, reasons) — the shown values, 0 for a reason left out; for a `top:K`
    notice, rank points (K for the first reason named, 1 for the last, 0 for the unnamed), since it gives no numbers;
    base: the typical applicant's adverse score (the notices say what the reasons are measured from);
    counterfactuals: one change (`counterfactual_changes`) or None per record, for a counterfactual setting.
    """

    decisions: np.ndarray
    adverse: np.ndarray
    names: list[str]
    values: np.ndarray
    base: float
    explanation: DecisionExplanation
    counterfactuals: list = field(default_factory=list)

    def text(self, i: int, class_names: list[str]) -> str:
        """Notice i as a letter would put it."""
        lines = [f"Decision: {class_names[int(self.decisions[i])]}."]
        if self.explanation.kind == "reasons":
            order = np.argsort(-self.values[i], kind="stable")
            shown = [j for j in order if self.values[i, j] > 0]
            if self.explanation.top:
                lines.append("Principal reasons: " + "; ".join(self.names[j] for j in shown) + ".")
            else:
                lines.append(f"Compared with a typical applicant (adverse score {self.base:.2f}):")
                lines += [f"  {self.names[j]}: {self.values[i, j]:+.3f}"
                          for j in np.argsort(-np.abs(self.values[i]), kind="stable") if self.values[i, j] != 0]
        elif self.explanation.kind == "counterfactual":
            change = self.counterfactuals[i] if self.counterfactuals else None
            lines.append("What would change it: " + (counterfactual_text(change, None) if change else "not given"))
        return "\n".join(lines)


def controlled_reasons(values: np.ndarray, names: list[str], explanation: DecisionExplanation, sensitive: str,
                       rng: np.random.Generator) -> np.ndarray:
    """The reasons as they leave the service, after the controls (hide, noise, top K as rank points)."""
    shown = np.array(values, float, copy=True)
    if explanation.hide_sensitive and sensitive in names:
        shown[:, names.index(sensitive)] = 0.0
    if explanation.noisy:
        shown += rng.normal(0.0, explanation.noisy, shown.shape)
    if explanation.top:
        points = np.zeros_like(shown)
        order = np.argsort(-shown, axis=1, kind="stable")[:, :explanation.top]
        for i, row in enumerate(order):
            for rank, j in enumerate(row):
                if shown[i, j] > 0:  # only reasons that pushed towards the adverse band are named
                    points[i, j] = explanation.top - rank
        shown = points
    return shown
