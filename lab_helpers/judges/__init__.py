"""Referees independent of the target: an evaluator CNN, a correlation judge and a lineup, for reconstructed faces."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "reconstructions": [
            "Evaluator",
            "Verdict",
            "as_images",
            "closer_than_public",
            "correlation_top1",
            "judge",
            "lineup_accuracy",
            "normalise_contrast",
            "similarity_to_people",
            "train_evaluator",
            "verdict_table",
        ],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .reconstructions import (
        Evaluator,
        Verdict,
        as_images,
        closer_than_public,
        correlation_top1,
        judge,
        lineup_accuracy,
        normalise_contrast,
        similarity_to_people,
        train_evaluator,
        verdict_table,
    )
