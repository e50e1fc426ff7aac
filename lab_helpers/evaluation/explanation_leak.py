"""What each explanation setting hands the explanation-guided attacker, and what it costs the explanation (lab 04)."""
from __future__ import annotations

LAB_SETTINGS = ("gradient:any", "gradient", "saliency:any", "gradient:any+coarse:8", "gradient:any+top_pixels:50",
                "gradient:any+noisy:1")


def explanation_table(model, faces, evaluator, settings=LAB_SETTINGS, budgets=(10, 100), people=None):
    """One row per explanation setting: the strict and template judges at each budget, and the map's utility.

    Parameters
    ----------
    model : the face model behind the API (it computes the maps; the attacker never sees it).
    faces : the face data (the judges' photos, and the held-out photos the utility is measured on).
    evaluator : the strict judge (`train_evaluator`).
    settings : explanation spellings (`parse_explanation`), e.g. 'gradient:any+coarse:8'.
    budgets : explained queries per person at which to judge the images.
    people : person numbers to attack (default: all 40).

    A model the kit trained is measured once per judge, split and settings, then read from
    data/cache/lab04/explanation-table-*.json (the attacks are seeded: a rerun gives the same numbers).
    """
    import pandas as pd

    def measure() -> list[dict]:
        return _explanation_rows(model, faces, evaluator, settings, budgets, people)

    spec = getattr(model, "spec", None)
    if spec is None or not callable(getattr(spec, "key", None)) or not hasattr(evaluator, "fingerprint"):
        return pd.DataFrame(measure()).set_index("setting")  # a model the kit did not train: measured each time
    from ..paths import cached_rows

    key = {"model": spec.key(), "judge": evaluator.fingerprint(), "split": faces.split_key(),
           "settings": list(settings), "budgets": list(budgets), "people": None if people is None else [int(p) for p in people],
           "v": EXPLANATION_TABLE_VERSION}
    return pd.DataFrame(cached_rows("lab04", "explanation-table", key, measure)).set_index("setting")


EXPLANATION_TABLE_VERSION = 1  # bump when the attack or the table's columns change: cached tables are measured again


def _explanation_rows(model, faces, evaluator, settings, budgets, people) -> list[dict]:
    """explanation_table's rows, measured (plain floats, so a table can be cached as JSON)."""
    import numpy as np

    from ..attacks import invert_with_explanations
    from ..defences.explanations import explanation_utility
    from ..judges import judge
    from ..service import ExplainingAPI

    rows = []
    for spec in settings:
        api = ExplainingAPI(model, "label", spec)
        result = invert_with_explanations(api, people, queries_per_person=max(budgets), snapshots=budgets,
                                          progress=False)
        row = {"setting": spec, "what the map is": api.explanation.describe()}
        for b in budgets:
            if not result.signal.any():
                row[f"recognised at {b}"] = row[f"nearest photo at {b}"] = row[f"lineup at {b}"] = np.nan
                continue
            verdict = judge(result.snapshots.get(b, result.images), result.identities, faces, evaluator)
            row[f"recognised at {b}"] = float(verdict.recognised_top1)
            row[f"nearest photo at {b}"] = float(verdict.recognised_nearest)
            row[f"lineup at {b}"] = float(verdict.template_lineup)
        row["signal"] = bool(result.signal.any())
        row["utility"] = float(explanation_utility(getattr(model, "net", model), faces.X_test, spec))
        rows.append(row)
    return rows


MEMBERSHIP_SETTINGS = ("saliency", "gradient", "saliency+coarse:8", "saliency+top_pixels:50", "saliency+noisy:1",
                       "saliency+normalised", "gradient+normalised")


def explanation_membership(model, faces, settings=MEMBERSHIP_SETTINGS):
    """Membership inference from explanations: how well the size of each photo's map tells training photos apart.

    Each photo is explained for the answer's own class (what a user asking "why?" gets); a photo the model was trained
    on gets a smaller map (the model is sure, so its score barely moves). The test flags a photo as a member when its
    map is smaller than a threshold, the best threshold for these photos (lab 01's test on map size instead of a score).
    Beside it, the same test on what the answer alone gives: the label (right or wrong) and the full probabilities.
    Returns a DataFrame: setting -> membership advantage (TPR - FPR), TPR, FPR.
    """
    import numpy as np
    import pandas as pd

    from ..attacks.membership import best_threshold_test
    from ..defences.explanations import apply_controls, parse_explanation, raw_maps

    net = getattr(model, "net", model)
    members, others = np.asarray(faces.X_train), np.asarray(faces.X_test)
    p_in, p_out = model.predict_proba(members), model.predict_proba(others)
    rows = {}
    for name, (a, b) in {"label only (right or wrong)": ((p_in.argmax(1) == faces.y_train) * 1.0,
                                                         (p_out.argmax(1) == faces.y_test) * 1.0),
                         "probabilities (true class's score)": (p_in[np.arange(len(p_in)), faces.y_train],
                                                                p_out[np.arange(len(p_out)), faces.y_test])}.items():
        test = best_threshold_test(a, b)
        rows[name] = {"advantage": test.advantage, "tpr": test.tpr, "fpr": test.fpr}
    for spec in settings:
        policy, rng = parse_explanation(spec), np.random.default_rng(0)
        sizes = [np.linalg.norm(apply_controls(raw_maps(net, x, p.argmax(1), policy.method), policy, rng), axis=1)
                 for x, p in ((members, p_in), (others, p_out))]
        test = best_threshold_test(1 / (1 + sizes[0]), 1 / (1 + sizes[1]))  # smaller map: more likely a member
        rows[f"label + {spec}"] = {"advantage": test.advantage, "tpr": test.tpr, "fpr": test.fpr}
    return pd.DataFrame(rows).T
