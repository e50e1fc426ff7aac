"""`ModelAPI`: a model behind a black-box interface that counts queries and answers under an output policy."""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np
import pandas as pd

from ..defences.output_policies import OutputPolicy, parse_policy


@runtime_checkable
class QueryAPI(Protocol):
    """What an attack needs from a model behind an API, and all it gets: answers, counted.

    Implemented by `ModelAPI` (in process), `HttpModelAPI` (the lab 06 service over HTTP), `WatchedAPI` (a key of the
    in-process gateway a detector watches), the exam's `ServiceClient`, and the attacker's own `ProbeRouter` (several
    keys, randomised probes); every attack takes any of them.
    """

    queries: int  # inputs answered so far (one image or record = one query)

    def query(self, x: Any) -> np.ndarray:
        """Scores as the caller sees them, one row per input (withheld scores 0; a label-only answer one-hot)."""

    def answer(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """(the model's top label per input, the scores as `query` gives them)."""


class ModelAPI:
    """What an attacker outside the organisation gets: answers under a policy, and nothing else."""

    def __init__(self, predict_proba: Callable, policy: OutputPolicy | str = "probabilities", *,
                 columns: Sequence[str] | None = None, input_size: int | None = None,
                 class_names: Sequence[str] | None = None, seed: int = 0, **policy_params):
        self._predict_proba = predict_proba
        if isinstance(policy, OutputPolicy):
            self.policy = policy
        else:  # 'rounded:2' as the command line spells it, or 'rounded' with decimals=2
            self.policy = parse_policy(policy) if ":" in str(policy) else OutputPolicy(policy, **policy_params)
        self.columns = list(columns) if columns is not None else None
        self.input_size = input_size
        self.class_names = list(class_names) if class_names is not None else None
        self.queries = 0
        self._rng = np.random.default_rng(seed)

    def _check_input(self, x):
        """Inputs as the model expects them, or a clear message about what is wrong."""
        if self.columns is not None:
            frame = pd.DataFrame([x]) if isinstance(x, dict) else pd.DataFrame(x)
            missing = [c for c in self.columns if c not in frame.columns]
            if missing:
                raise ValueError(f"The query is missing column(s) {missing}. The model needs: {self.columns}.")
            return frame[self.columns]
        arr = np.asarray(x, dtype=np.float32)
        if self.input_size is not None:
            if arr.size % self.input_size or arr.ndim == 0:
                raise ValueError(f"Each query must have {self.input_size} values (e.g. a 64x64 image); got shape {arr.shape}.")
            arr = arr.reshape(-1, self.input_size)
        return arr

    def answer(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores): the model's own top label, and the scores under the policy; each row is one query."""
        inputs = self._check_input(x)
        self.queries += len(inputs)
        probabilities = np.asarray(self._predict_proba(inputs))
        return probabilities.argmax(axis=1), self.policy.apply(probabilities, self._rng)

    def query(self, x) -> np.ndarray:
        """Answer a batch of queries (one row each) with the scores under the policy."""
        return self.answer(x)[1]

    def respond(self, x) -> list[dict]:
        """The answers as a caller would read them (what an HTTP API would send back)."""
        labels, answers = self.answer(x)
        names = self.class_names or [str(i) for i in range(answers.shape[1])]
        out = []
        for top, row in zip(labels, answers):
            item = {"label": names[int(top)]}
            if self.policy.shows_scores:
                item["scores"] = {names[i]: float(s) for i, s in enumerate(row) if s > 0 or self.policy.record.every_score}
            out.append(item)
        return out

    def reset_count(self) -> None:
        """Start counting queries from zero."""
        self.queries = 0


class ExplainingAPI(ModelAPI):
    """A face model behind an API that also explains its answers: `explain` returns a map per input, counted as queries.

    Parameters
    ----------
    model : a trained face model (its network computes the maps; the caller never sees it).
    policy : the output policy of the scores, as for `ModelAPI` (default: the label only).
    explanation : what the maps show, an `ExplanationPolicy` or its spelling, e.g. 'gradient:any+coarse:8'.
    seed : the seed of the scores' and the maps' noise, when a policy adds any.
    """

    def __init__(self, model, policy: OutputPolicy | str = "label", explanation="saliency", *, seed: int = 0):
        from ..defences.explanations import parse_explanation

        super().__init__(model.predict_proba, policy, input_size=4096, seed=seed)
        self._net = getattr(model, "net", model)
        self.explanation = parse_explanation(explanation)
        self.explanations = 0  # inputs explained so far (each is also a query)
        self._map_rng = np.random.default_rng(seed + 1)

    def explain(self, x, classes=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, explained classes, maps (n, 4096)) for a batch of images; each image is one query.

        classes: the class to explain for each image; honoured only when the policy's scope is 'any' (otherwise,
        and when None, the answer's own class is explained, as the service would).
        """
        from ..defences.explanations import apply_controls, raw_maps

        images = self._check_input(x)
        labels, _ = self.answer(images)  # counts the queries
        explained = labels.copy()
        if classes is not None and self.explanation.scope == "any":
            explained = np.broadcast_to(np.asarray(classes, dtype=np.int64), labels.shape).copy()
        self.explanations += len(images)
        maps = raw_maps(self._net, images, explained, self.explanation.method)
        return labels, explained, apply_controls(maps, self.explanation, self._map_rng)


class DecisionAPI(ModelAPI):
    """A credit or hiring model behind an API whose answers explain the decision: reasons or a counterfactual.

    Parameters
    ----------
    model : a fitted tabular model (`train_tabular_model(...).model`); the caller never sees it.
    data : its `PeopleData` (the inputs' names and values, the typical applicant the reasons compare with).
    policy : the output policy of the scores, as for `ModelAPI` (default: the decision only).
    explanation : a `DecisionExplanation` or its spelling, e.g. 'reasons', 'reasons+top:3', 'counterfactual+actionable'.
    seed : the seed of the reasons' noise, when the setting adds any.
    """

    def __init__(self, model, data, policy: OutputPolicy | str = "label", explanation="reasons", *, seed: int = 0):
        from ..defences.decision_reasons import parse_decision_explanation, reason_names, reference_record

        super().__init__(model.predict_proba, policy, columns=data.features, class_names=data.class_names, seed=seed)
        self._model, self._data = model, data
        self.explanation = parse_decision_explanation(explanation)
        self.names = reason_names(data, self.explanation.groups)
        self.base = float(model.predict_proba(reference_record(data))[0, -1])
        self.explained = 0  # records explained so far (each is also a query)
        self._noise = np.random.default_rng(seed + 1)

    def explain(self, records):
        """The decision and its explanation for each record (a `Notices`); each record is one query."""
        from ..defences.decision_reasons import (ACTIONABLE, Notices, controlled_reasons, counterfactual_changes,
                                                 shapley_reasons)

        frame = self._check_input(records).reset_index(drop=True)
        labels, _ = self.answer(frame)  # counts the queries
        adverse = labels == len(self._data.class_names) - 1
        how = self.explanation
        values = np.zeros((len(frame), len(self.names)))
        changes: list = []
        if how.kind == "reasons":
            raw = shapley_reasons(self._model, self._data, frame, how.groups)
            values = controlled_reasons(raw, self.names, how, self._data.sensitive, self._noise)
        elif how.kind == "counterfactual":
            inputs = ACTIONABLE[self._data.framing.key] if how.actionable else list(self._data.features)
            changes = [None if how.adverse_only and not adverse[i] else
                       counterfactual_changes(self._model, self._data, frame.iloc[i], inputs) for i in range(len(frame))]
        self.explained += len(frame)
        return Notices(labels, adverse, list(self.names), values, self.base, how, changes)
