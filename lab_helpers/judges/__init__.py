"""Referees independent of the target: an evaluator CNN, a correlation judge and a lineup, for reconstructed faces."""

from .reconstructions import (
    as_images,
    judge,
    lineup_accuracy,
    normalise_contrast,
    train_evaluator,
    verdict_table,
)

__all__ = ["as_images", "judge", "lineup_accuracy", "normalise_contrast", "train_evaluator", "verdict_table"]
