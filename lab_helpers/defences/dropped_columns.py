"""Data minimisation as a defence: the same people with input columns removed, and a forest trained on each input set."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..data.synthetic_people import PeopleData
from ..targets.forests import REGULARISED_LEAF, TabularModel, train_tabular_model


@dataclass
class MinimisedData(PeopleData):
    """The same people and split, with some input columns removed from what the model may use."""

    dropped: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        """The model's input columns: the framing's columns minus the dropped ones."""
        return [c for c in self.framing.features if c not in self.dropped]


def minimise(data: PeopleData, drop: tuple[str, ...] | list[str] = ()) -> MinimisedData:
    """The data with the columns in drop removed from the model's inputs (a clear error for unknown names)."""
    drop = tuple([drop] if isinstance(drop, str) else drop)
    unknown = [c for c in drop if c not in data.framing.features]
    if unknown:
        raise ValueError(f"Cannot drop {unknown}: not input columns. Input columns: {data.framing.features}.")
    if len(set(drop)) >= len(data.framing.features):
        raise ValueError("Dropping every input column leaves the model nothing to learn from; keep at least one.")
    return MinimisedData(data.frame, data.framing, data.train_idx, data.test_idx, drop)


def variants(data: PeopleData) -> dict[str, tuple[str, ...]]:
    """The three input sets the lab compares: everything; no sensitive column; no sensitive column and no proxy."""
    s, p = data.sensitive, data.framing.proxy.name
    return {"all columns": (), f"without {s}": (s,), f"without {s} and {p}": (s, p)}


def proxy_shares(data: PeopleData) -> pd.DataFrame:
    """Percentage of each sensitive value among people with each proxy value, measured in the table."""
    p, s = data.framing.proxy.name, data.sensitive
    shares = pd.crosstab(data.frame[p], data.frame[s], normalize="index") * 100
    shares = shares.reindex(list(data.framing.proxy.values))
    shares.loc["everyone"] = data.frame[s].value_counts(normalize=True) * 100
    return shares[list(data.prior)].round(1)


@dataclass
class Variant:
    """One input set: the data as the model sees it and the forest trained on it."""

    data: MinimisedData
    fitted: TabularModel


def train_variants(data: PeopleData, min_samples_leaf: int = REGULARISED_LEAF, seed: int = 0) -> dict[str, Variant]:
    """A forest for each input set of `variants` (all columns; no sensitive; no sensitive and no proxy)."""
    out = {}
    for name, dropped in variants(data).items():
        used = minimise(data, dropped)
        out[name] = Variant(used, train_tabular_model(used, min_samples_leaf, name, seed))
    return out
