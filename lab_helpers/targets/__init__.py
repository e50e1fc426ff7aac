"""The models the labs attack: face classifiers (softmax, MLP), lab 00's quick classifier, and tabular forests."""

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

__all__ = [
    "FaceModel",
    "FaceModelSpec",
    "LEAF_SIZES",
    "OVERFIT_LEAF",
    "REGULARISED_LEAF",
    "TabularModel",
    "confidence_scores",
    "make_forest",
    "train_face_model",
    "train_overfit_and_regularised",
    "train_quick_face_classifier",
    "train_tabular_model",
]
