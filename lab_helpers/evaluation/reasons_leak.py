"""What each explanation of a credit or hiring decision hands three attackers, and what each control costs (lab 02)."""
from __future__ import annotations

import numpy as np
import pandas as pd

LETTER_SETTINGS = ("none", "reasons", "reasons+hide_sensitive", "reasons+groups", "reasons+top:3", "reasons+noisy:0.05",
                   "counterfactual", "counterfactual+actionable")
EXTRACTION_SETTINGS = ("none", "counterfactual", "counterfactual+actionable", "counterfactual+adverse_only")
BUDGETS = (10, 20, 50, 100, 200)
TABLE_VERSION = 1  # bump when an attack or a setting changes: the cached tables are then rebuilt


def _model_key(model) -> list | None:
    """What identifies a lab model for the cache (lab 01's seeded forests by leaf size), or None: do not cache."""
    leaf = getattr(model, "min_samples_leaf", None)
    if leaf is None:
        return None
    forest = model.model[-1]
    return [type(forest).__name__, int(leaf), forest.random_state, forest.n_estimators, len(model.model.steps)]


def _cached_rows(name: str, settings: dict, build) -> list[dict]:
    """Rows from data/cache/lab02/, built and saved when these settings are new (solutions/, labs/ and the tests
    share them); built every time when a model cannot be identified."""
    from ..paths import cached_rows

    if any(v is None for v in settings.get("models", {}).values()):
        return build()
    return cached_rows("lab02", name, {**settings, "v": TABLE_VERSION}, build)


def explained_letters(model, data, idx: np.ndarray, setting: str, seed: int = 0):
    """The letters the service sent the people `idx` under `setting` (not the attacker's queries)."""
    from ..service import DecisionAPI

    records = data.frame[data.features].iloc[idx].reset_index(drop=True)
    return DecisionAPI(model, data, "label", setting, seed=seed + 100).explain(records)


def reasons_utility(letters, full, names: list[str], data) -> float:
    """Share of applicants in the adverse band whose strongest reason (in the full, per-input reasons) the letter names
    first (for group reasons: the group holding it); nan for settings without reasons."""
    from ..defences.decision_reasons import REASON_GROUPS

    if letters.explanation.kind != "reasons":
        return float("nan")
    declined = np.flatnonzero(full.adverse)
    if not len(declined):
        return float("nan")
    strongest = [full.names[j] for j in full.values[declined].argmax(axis=1)]
    first = [letters.names[j] for j in letters.values[declined].argmax(axis=1)]
    if letters.explanation.groups:
        group_of = {c: g for g, cols in REASON_GROUPS[data.framing.key].items() for c in cols}
        strongest = [group_of[c] for c in strongest]
    return float(np.mean([a == b for a, b in zip(strongest, first)]))


def counterfactual_utility(letters, data) -> float:
    """Share of applicants in the adverse band given a change they can make (an input in `ACTIONABLE`); nan otherwise."""
    from ..defences.decision_reasons import ACTIONABLE

    if letters.explanation.kind != "counterfactual":
        return float("nan")
    declined = np.flatnonzero(letters.adverse)
    can = set(ACTIONABLE[data.framing.key])
    return float(np.mean([letters.counterfactuals[i] is not None and letters.counterfactuals[i]["input"] in can
                          for i in declined])) if len(declined) else float("nan")


def letter_table(models: dict, data, settings=LETTER_SETTINGS, n_people: int = 200) -> pd.DataFrame:
    """One row per model and setting: attribute inference from letters (members and non-members), membership
    inference from the same letters, and the explanation's use to the applicant.

    Parameters
    ----------
    models : {'overfit': TabularModel or fitted pipeline, ...} (lab 01's two models).
    data : their `PeopleData`.
    settings : explanation spellings (`parse_decision_explanation`).
    n_people : members and as many non-members to attack.
    """
    members, others = data.train_idx[:n_people], data.test_idx[:n_people]
    key = {"framing": data.framing.key, "models": {m: _model_key(models[m]) for m in models},
           "settings": list(settings), "n_people": n_people}
    return pd.DataFrame(_cached_rows("letters", key, lambda: _letter_rows(models, data, settings, members, others)))


def _letter_rows(models: dict, data, settings, members, others) -> list[dict]:
    from tqdm.auto import tqdm

    from ..attacks.decision_reasons import attribute_from_letters, membership_advantage, membership_signal
    from ..service import DecisionAPI

    rows = []
    for name, setting in tqdm([(m, s) for m in models for s in settings], desc="explained letters"):
        model = getattr(models[name], "model", models[name])
        row = {"model": name, "setting": setting}
        signals, spreads = {}, {}
        for group, idx in (("members", members), ("non-members", others)):
            letters = explained_letters(model, data, idx, setting)
            api = DecisionAPI(model, data, "label", setting)
            result = attribute_from_letters(api, data, idx, letters)
            row[f"attribute, {group}"] = result.accuracy
            row[f"prior only, {group}"] = result.baseline
            row[f"queries per person"] = result.queries / len(idx)
            signals[group] = membership_signal(letters, data.labels(idx), len(data.class_names))
            spreads[group] = membership_signal(letters, data.labels(idx), len(data.class_names), "spread")
            if group == "members":
                full = explained_letters(model, data, idx, "reasons") if setting != "reasons" else letters
                row["utility"] = (reasons_utility(letters, full, full.names, data)
                                  if letters.explanation.kind == "reasons" else counterfactual_utility(letters, data))
        row["membership advantage"] = membership_advantage(signals["members"], signals["non-members"])
        numbers = letters.explanation.kind == "reasons" and letters.explanation.numbers
        row["membership advantage, spread"] = (membership_advantage(spreads["members"], spreads["non-members"])
                                               if numbers else float("nan"))
        rows.append(row)
    return rows


def extraction_table(model, data, settings=EXTRACTION_SETTINGS, budgets=BUDGETS, draws: int = 5,
                     pool_size: int = 500, n_eval: int = 1000, quotas: tuple = ()) -> pd.DataFrame:
    """Model extraction: the copy's balanced agreement with the model's decision, per setting and query budget.

    The attacker's pool is `pool_size` non-members (realistic applications it made up); the copy is judged on
    `n_eval` other non-members. Each cell is the mean over `draws` random draws of the budget from the pool.
    quotas: explanation quotas per key to measure too, each as a row 'counterfactual, quota Q' (only the first Q
    queries explained, the rest plain answers).
    """
    key = {"framing": data.framing.key, "models": {"target": _model_key(model)}, "settings": list(settings),
           "budgets": list(budgets), "draws": draws, "pool": pool_size, "eval": n_eval, "quotas": list(quotas)}
    rows = _cached_rows("extraction", key,
                        lambda: _extraction_rows(model, data, settings, budgets, draws, pool_size, n_eval, quotas))
    return pd.DataFrame(rows).set_index("setting")


def _extraction_rows(model, data, settings, budgets, draws, pool_size, n_eval, quotas=()) -> list[dict]:
    from tqdm.auto import tqdm

    from ..attacks.decision_reasons import copy_decisions, decision_agreement
    from ..service import DecisionAPI

    model = getattr(model, "model", model)
    pool = data.frame[data.features].iloc[data.test_idx[:pool_size]]
    held_out = data.frame[data.features].iloc[data.test_idx[pool_size:pool_size + n_eval]]
    rows = []
    runs = [(s, None) for s in settings] + [("counterfactual", int(q)) for q in quotas]
    for setting, quota in tqdm(runs, desc="copying the decision"):
        row = {"setting": setting if quota is None else f"{setting}, quota {quota}"}
        for budget in budgets:
            scores = []
            for draw in range(draws):
                copy = copy_decisions(DecisionAPI(model, data, "label", setting), pool, budget, seed=draw,
                                      explained=quota)
                scores.append(decision_agreement(copy, model, data, held_out))
            row[f"agreement at {budget}"] = float(np.mean(scores))
        rows.append(row)
    return rows
