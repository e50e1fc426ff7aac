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
    """
    import numpy as np
    import pandas as pd

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
            row[f"recognised at {b}"] = verdict.recognised_top1
            row[f"nearest photo at {b}"] = verdict.recognised_nearest
            row[f"lineup at {b}"] = verdict.template_lineup
        row["signal"] = bool(result.signal.any())
        row["utility"] = explanation_utility(getattr(model, "net", model), faces.X_test, spec)
        rows.append(row)
    return pd.DataFrame(rows).set_index("setting")
