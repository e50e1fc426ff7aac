"""Lab 01's regularisation measured: a forest at each leaf size, its accuracy and a membership test's advantage."""
from __future__ import annotations

import pandas as pd

from ..attacks.membership import membership_advantage
from ..data.synthetic_people import PeopleData
from ..targets.forests import LEAF_SIZES, train_tabular_model


def leaf_size_sweep(data: PeopleData, leaf_sizes: tuple[int, ...] = LEAF_SIZES, seed: int = 0) -> pd.DataFrame:
    """For each leaf size: train and test accuracy, generalisation gap and membership advantage."""
    from tqdm.auto import tqdm

    rows = []
    for leaf in tqdm(leaf_sizes, desc="training one forest per leaf size"):
        fitted = train_tabular_model(data, leaf, seed=seed)
        test = membership_advantage(fitted.model, data)
        rows.append({"min_samples_leaf": leaf, "train_accuracy": fitted.train_accuracy,
                     "test_accuracy": fitted.test_accuracy, "gap": fitted.gap, "advantage": test.advantage})
    return pd.DataFrame(rows)
