"""Defences measured: each at several settings, attacked and judged, with the model's accuracy beside; one inversion run."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "inversion": ["ATTACKS", "InversionRun", "parse_people", "run_inversion", "save_reconstructions"],
        "minimisation": [
            "hunt_precision",
            "minimisation_table",
            "posterior_through_proxy",
            "proxy_reliance",
            "rarest_value",
        ],
        "prior": [
            "BUDGETS",
            "DEFENCES",
            "PriorLab",
            "budget_table",
            "chance_levels",
            "defence_table",
            "defended_model",
            "judge_prior",
            "prior_lab",
            "queries_to_match",
            "run_prior_attack",
        ],
        "output": ["TARGET_LINEUP", "AttackOutcome", "adaptive_attacks", "attack_output_setting", "label_attack"],
        "tabular": ["leaf_size_sweep"],
        "training": ["best_advantage", "epsilon_sweep", "face_membership", "regularisation_sweep"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .inversion import ATTACKS, InversionRun, parse_people, run_inversion, save_reconstructions
    from .minimisation import hunt_precision, minimisation_table, posterior_through_proxy, proxy_reliance, rarest_value
    from .output import TARGET_LINEUP, AttackOutcome, adaptive_attacks, attack_output_setting, label_attack
    from .tabular import leaf_size_sweep
    from .training import best_advantage, epsilon_sweep, face_membership, regularisation_sweep
    from .prior import (
        BUDGETS,
        DEFENCES,
        PriorLab,
        budget_table,
        chance_levels,
        defence_table,
        defended_model,
        judge_prior,
        prior_lab,
        queries_to_match,
        run_prior_attack,
    )
