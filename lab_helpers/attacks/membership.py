"""The simplest membership test: 'this record was in the training data if the model is very sure about it'."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.synthetic_people import PeopleData


@dataclass(frozen=True)
class MembershipTest:
    """A confidence threshold and how it sorts members from non-members."""

    threshold: float
    tpr: float  # share of training members flagged as members (true-positive rate)
    fpr: float  # share of non-members wrongly flagged as members (false-positive rate)

    @property
    def advantage(self) -> float:
        """Membership advantage = TPR - FPR: 0 is a coin flip, 1 tells members apart perfectly."""
        return self.tpr - self.fpr


def true_label_confidence(model, X, y: np.ndarray) -> np.ndarray:
    """The model's score for each record's true class (what an attacker who knows the label reads)."""
    y = np.asarray(y, dtype=int)
    scores = model.predict_proba(X)
    if len(scores) != len(y):
        raise ValueError(f"{len(scores)} records but {len(y)} labels: pass one label per record.")
    return scores[np.arange(len(y)), y]


def member_confidences(model, data: PeopleData) -> tuple[np.ndarray, np.ndarray]:
    """(members' confidences, non-members' confidences) on their true classes."""
    return (true_label_confidence(model, data.X_train, data.y_train),
            true_label_confidence(model, data.X_test, data.y_test))


def threshold_test(member_conf: np.ndarray, nonmember_conf: np.ndarray, threshold: float) -> MembershipTest:
    """Flag every record whose confidence is at least threshold as a member; measure TPR and FPR."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"A confidence threshold lies between 0 and 1 (got {threshold}).")
    return MembershipTest(float(threshold), float(np.mean(np.asarray(member_conf) >= threshold)),
                          float(np.mean(np.asarray(nonmember_conf) >= threshold)))


def best_threshold_test(member_conf: np.ndarray, nonmember_conf: np.ndarray) -> MembershipTest:
    """The threshold with the largest advantage: the best this simple test can do on these records."""
    candidates = np.unique(np.concatenate([member_conf, nonmember_conf]))
    tests = [threshold_test(member_conf, nonmember_conf, float(t)) for t in candidates]
    return max(tests, key=lambda t: (t.advantage, -t.threshold))


def membership_advantage(model, data: PeopleData) -> MembershipTest:
    """The best confidence-threshold membership test against a model trained on data's members."""
    return best_threshold_test(*member_confidences(model, data))
