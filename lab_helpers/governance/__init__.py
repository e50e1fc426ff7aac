"""Lab 07: a model card whose leakage numbers the attacks compute, a privacy review, and a release gate."""

from .card import (
    ACCURACY_KEY,
    MEASURES,
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
)
from .gate import more_detailed, release_gate
from .review import PRIVACY_REVIEW, REVIEW_FACTS, review_privacy

__all__ = [
    "ACCURACY_KEY",
    "Approval",
    "Audience",
    "Candidate",
    "MEASURES",
    "Measurement",
    "ModelCard",
    "PRIVACY_REVIEW",
    "REVIEW_FACTS",
    "measure",
    "measures_for",
    "model_card",
    "more_detailed",
    "percent",
    "release_gate",
    "review_privacy",
    "run_measures",
]
