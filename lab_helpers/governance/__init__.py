"""Lab 07: a model card whose leakage numbers the attacks compute, a privacy review, and a release gate."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "card": [
            "ACCURACY_KEY",
            "BLACK_BOX_QUERIES",
            "MEASURES",
            "SMALL_BUDGET",
            "Approval",
            "Audience",
            "Candidate",
            "Measurement",
            "ModelCard",
            "measure",
            "measures_for",
            "model_card",
            "percent",
            "run_measures",
            "strongest_black_box",
        ],
        "gate": ["more_detailed", "release_gate"],
        "review": ["PRIVACY_REVIEW", "REVIEW_FACTS", "review_privacy"],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .card import (
        ACCURACY_KEY,
        BLACK_BOX_QUERIES,
        MEASURES,
        SMALL_BUDGET,
        Approval,
        Audience,
        Candidate,
        Measurement,
        ModelCard,
        measure,
        measures_for,
        model_card,
        percent,
        run_measures,
        strongest_black_box,
    )
    from .gate import more_detailed, release_gate
    from .review import PRIVACY_REVIEW, REVIEW_FACTS, review_privacy
