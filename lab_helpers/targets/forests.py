"""Target models for the tabular labs: random forests from overfit (leaves of one record) to regularised."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from ..data.synthetic_people import PeopleData

OVERFIT_LEAF = 1  # every tree grows until each leaf holds a single training record: memorisation
REGULARISED_LEAF = 20  # every leaf must hold 20 records: the trees can only learn patterns many people share
LEAF_SIZES = (1, 2, 3, 5, 8, 12, 20, 30, 50, 80)  # the regularisation sweep, weakest to strongest


@dataclass
class TabularModel:
    """A fitted model, how strongly it was regularised, and its accuracy on members and non-members."""

    name: str
    model: Pipeline
    min_samples_leaf: int
    train_accuracy: float
    test_accuracy: float

    @property
    def gap(self) -> float:
        """The generalisation gap: training accuracy minus test accuracy."""
        return self.train_accuracy - self.test_accuracy


def make_forest(categorical: list[str], min_samples_leaf: int = 1, n_trees: int = 100, seed: int = 0) -> Pipeline:
    """A random forest that reads the raw table (categorical columns one-hot encoded)."""
    if not isinstance(min_samples_leaf, (int, np.integer)) or min_samples_leaf < 1:
        raise ValueError(f"min_samples_leaf must be a whole number, 1 or more (got {min_samples_leaf!r}); "
                         "1 lets trees memorise single records, larger values regularise.")
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), categorical), remainder="passthrough")
    forest = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=int(min_samples_leaf),
                                    random_state=seed, n_jobs=1)
    return make_pipeline(encode, forest)


def categorical_columns(data: PeopleData) -> list[str]:
    """The input columns that hold categories rather than numbers."""
    return [c for c in data.features if not pd.api.types.is_numeric_dtype(data.frame[c])]


def train_tabular_model(data: PeopleData, min_samples_leaf: int = OVERFIT_LEAF, name: str | None = None,
                        seed: int = 0) -> TabularModel:
    """Fit a forest on the training members and measure its accuracy on members and non-members."""
    model = make_forest(categorical_columns(data), min_samples_leaf, seed=seed)
    model.fit(data.X_train, data.y_train)
    return TabularModel(name or f"leaf size {min_samples_leaf}", model, int(min_samples_leaf),
                        float(model.score(data.X_train, data.y_train)), float(model.score(data.X_test, data.y_test)))


def train_overfit_and_regularised(data: PeopleData, seed: int = 0) -> dict[str, TabularModel]:
    """The two models the labs compare: {'overfit': ..., 'regularised': ...}."""
    return {"overfit": train_tabular_model(data, OVERFIT_LEAF, "overfit", seed),
            "regularised": train_tabular_model(data, REGULARISED_LEAF, "regularised", seed)}
