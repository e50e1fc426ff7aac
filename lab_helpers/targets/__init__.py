"""The models the labs attack: face classifiers (softmax, MLP), lab 00's quick classifier, and tabular forests."""

from __future__ import annotations

# ruff: noqa: F401 - the names under TYPE_CHECKING are exported lazily through `attach`, not unused

from typing import TYPE_CHECKING

from ..lazy import attach

# module -> the names it exports; each module loads on first use of one of its names (no work on import)
__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "faces": ["FaceModel", "FaceModelSpec", "train_face_model"],
        "quick": ["confidence_scores", "train_quick_face_classifier"],
        "tabular": [
            "LEAF_SIZES",
            "OVERFIT_LEAF",
            "REGULARISED_LEAF",
            "TabularModel",
            "make_forest",
            "train_overfit_and_regularised",
            "train_tabular_model",
        ],
    },
)

if TYPE_CHECKING:  # for editors and type checkers; at run time the names load lazily, above
    from .faces import FaceModel, FaceModelSpec, train_face_model
    from .quick import confidence_scores, train_quick_face_classifier
    from .tabular import (
        LEAF_SIZES,
        OVERFIT_LEAF,
        REGULARISED_LEAF,
        TabularModel,
        make_forest,
        train_overfit_and_regularised,
        train_tabular_model,
    )
