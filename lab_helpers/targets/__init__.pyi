"""What `lab_helpers.targets` exports, module by module: the one list, read at run time by `attach_stub` and by
editors and type checkers as the subpackage's stub."""

from .face_classifiers import (
    FaceModel as FaceModel,
    FaceModelSpec as FaceModelSpec,
    train_face_model as train_face_model,
)
from .quick_classifier import (
    confidence_scores as confidence_scores,
    train_quick_face_classifier as train_quick_face_classifier,
)
from .forests import (
    LEAF_SIZES as LEAF_SIZES,
    OVERFIT_LEAF as OVERFIT_LEAF,
    REGULARISED_LEAF as REGULARISED_LEAF,
    TabularModel as TabularModel,
    make_forest as make_forest,
    train_overfit_and_regularised as train_overfit_and_regularised,
    train_tabular_model as train_tabular_model,
)
