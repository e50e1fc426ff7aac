"""The training defences measured: DP-SGD, weight-decay and early-stopped face models, each attacked and judged.

Each model is attacked with white-box MI-FACE (judged by the independent judges) and a membership test; the
sweeps return one row per setting with the model's test accuracy beside, so the cost of a defence shows too.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..attacks.membership import (
    MembershipTest,
    best_threshold_test,
    true_label_confidence,
)
from ..data.face_photos import FaceData

if TYPE_CHECKING:
    import pandas as pd
from ..defences.dp_sgd import DELTA, EPSILONS, advantage_bound, train_private_models

WEIGHT_DECAYS = (0.0, 1e-2, 1e-1, 1.0, 3.0, 10.0)  # the weight-decay sweep (lab 03's regularised target: 1e-2)
EPOCH_BUDGETS = (3, 10, 30, 100, 300, 1000)  # the early-stopping sweep (lab 03's overfit target: 1000)


# ---------------------------------------------------------------- the measures

def face_confidences(model, faces: FaceData) -> tuple[np.ndarray, np.ndarray]:
    """(training photos', held-out photos') confidence in their true person."""
    return (true_label_confidence(model, faces.X_train, faces.y_train),
            true_label_confidence(model, faces.X_test, faces.y_test))


def face_membership(model, faces: FaceData) -> MembershipTest:
    """Lab 01's best confidence-threshold membership test: training photos vs held-out photos."""
    return best_threshold_test(*face_confidences(model, faces))


def best_advantage(member_conf: np.ndarray, nonmember_conf: np.ndarray) -> float:
    """The best threshold test's advantage (as membership.best_threshold_test), computed in one sorted pass."""
    scores = np.concatenate([member_conf, nonmember_conf])
    is_member = np.concatenate([np.ones(len(member_conf)), np.zeros(len(nonmember_conf))])
    order = np.argsort(-scores, kind="stable")
    scores, is_member = scores[order], is_member[order]
    tpr, fpr = np.cumsum(is_member) / len(member_conf), np.cumsum(1 - is_member) / len(nonmember_conf)
    last_of_ties = np.r_[scores[1:] != scores[:-1], True]  # a threshold flags every record scoring at least it
    return float(max(0.0, (tpr - fpr)[last_of_ties].max()))


def membership_noise_level(model, faces: FaceData, trials: int = 200, seed: int = 0) -> float:
    """The advantage the best-threshold test finds by luck alone: 95th percentile over shuffled member labels."""
    members, others = face_confidences(model, faces)
    pooled, rng = np.concatenate([members, others]), np.random.default_rng(seed)
    found = [best_advantage(*np.split(rng.permutation(pooled), [len(members)])) for _ in range(trials)]
    return float(np.percentile(found, 95))


def mi_face_verdict(model, faces: FaceData, evaluator, **attack):
    """White-box MI-FACE (lab 03's settings) on all 40 people, judged by lab 03's three judges."""
    from ..attacks.mi_face import invert_white_box
    from ..judges.reconstructions import judge

    people = np.arange(faces.n_people)
    return judge(invert_white_box(model, people, progress=False, **attack).images, people, faces, evaluator)


DEFENCE_ROW_VERSION = 1  # bump when the attack, the judges' settings or the row's columns change: rows are re-measured


def defence_row(model, faces: FaceData, evaluator) -> dict:
    """One sweep row: utility, MI-FACE success by each judge, and the membership test's advantage.

    A model the kit trained (its spec names its weights) is attacked once per judge and split, then its row is read
    from data/cache/lab05/ (the attack and the membership noise level are seeded: a rerun gives the same numbers).
    """
    spec = getattr(model, "spec", None)
    if spec is None or not callable(getattr(spec, "key", None)) or not hasattr(evaluator, "fingerprint"):
        return measure_defence_row(model, faces, evaluator)
    from ..paths import cached_rows

    key = {"model": f"{type(spec).__name__}:{spec.key()}", "judge": evaluator.fingerprint(), "split": faces.split_key(),
           "v": DEFENCE_ROW_VERSION}
    return dict(cached_rows("lab05", "defence-row", key, lambda: [measure_defence_row(model, faces, evaluator)])[0])


def measure_defence_row(model, faces: FaceData, evaluator) -> dict:
    """defence_row, measured now (plain floats)."""
    verdict = mi_face_verdict(model, faces, evaluator)
    return {"train accuracy": float(model.train_accuracy), "test accuracy": float(model.test_accuracy),
            "evaluator top-1": float(verdict.recognised_top1), "correlation top-1": float(verdict.template_correlation),
            "lineup": float(verdict.template_lineup), "membership advantage": float(face_membership(model, faces).advantage),
            "membership noise level": float(membership_noise_level(model, faces))}


def epsilon_sweep(faces: FaceData, evaluator, epsilons=EPSILONS, delta: float = DELTA, progress: bool = True,
                  **overrides) -> "pd.DataFrame":
    """For each target ε: ε spent (Opacus), noise, utility, MI-FACE by each judge, membership advantage, its bound."""
    import pandas as pd

    models = train_private_models(faces, epsilons, delta, progress, **overrides)
    rows = []
    for epsilon, model in models.items():
        rows.append({"target ε": epsilon, "ε spent (Opacus)": model.epsilon_spent,
                     "noise multiplier": model.noise_multiplier, **defence_row(model, faces, evaluator),
                     "DP bound on advantage": advantage_bound(model.epsilon_spent, delta),
                     "training seconds (first run)": model.train_seconds, "from cache": model.from_cache})
    return pd.DataFrame(rows).set_index("target ε")


def regularisation_sweep(faces: FaceData, evaluator, weight_decays=WEIGHT_DECAYS, epoch_budgets=EPOCH_BUDGETS,
                         progress: bool = True) -> "pd.DataFrame":
    """Lab 03's softmax target with more weight decay (300 epochs) or fewer epochs (no weight decay), each attacked."""
    import pandas as pd
    from tqdm.auto import tqdm

    from ..targets.face_classifiers import train_face_model

    jobs = [("weight decay", wd, dict(regularised=True, weight_decay=float(wd))) for wd in weight_decays]
    jobs += [("early stopping", n, dict(regularised=False, epochs=int(n))) for n in epoch_budgets]
    rows = []
    for defence, _, settings in tqdm(jobs, desc="regularised face models", disable=not progress):
        model = train_face_model(faces, "softmax", progress=False, **settings)
        rows.append({"defence": defence, "weight decay": model.spec.weight_decay, "epochs": model.spec.epochs,
                     **defence_row(model, faces, evaluator), "from cache": model.from_cache})
    return pd.DataFrame(rows)
