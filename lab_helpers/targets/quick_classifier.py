"""Target models the labs attack. Lab 00 uses a small scikit-learn face classifier."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from ..data.face_photos import FaceData


@dataclass
class TrainedModel:
    """A fitted model with its accuracy on the photos it saw and on held-out photos."""

    model: Pipeline
    train_accuracy: float
    test_accuracy: float


def train_quick_face_classifier(faces: FaceData, n_components: int = 60, seed: int = 0) -> TrainedModel:
    """A face recogniser in about a second: PCA ('eigenfaces') then softmax (logistic) regression."""
    model = make_pipeline(PCA(n_components=n_components, whiten=True, random_state=seed),
                          LogisticRegression(max_iter=2000, C=1.0))
    model.fit(faces.X_train, faces.y_train)
    return TrainedModel(model, float(model.score(faces.X_train, faces.y_train)),
                        float(model.score(faces.X_test, faces.y_test)))


def confidence_scores(model: Pipeline, photo: np.ndarray) -> np.ndarray:
    """The model's full answer for one photo: a confidence score for every identity (sums to 1)."""
    photo = np.asarray(photo, dtype=np.float32)
    if photo.size != 4096:
        raise ValueError(f"Expected one 64x64 photo (4096 pixels), got shape {photo.shape}.")
    return model.predict_proba(photo.reshape(1, -1))[0]
