"""One face inversion run, start to finish: a target, an output control, an attacker, a budget, and the judges' verdict.

What `python -m lab_helpers invert` runs, for instructors, red teams and scripts. Judged by the kit's referees,
never by the target.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..attacks.mi_face import Reconstructions
from ..defences.output import OutputPolicy, parse_policy

ATTACKS = ("white-box", "black-box", "adaptive", "label-only")
TARGET_KINDS = ("softmax", "mlp")


def parse_people(spec: str, n_people: int = 40) -> np.ndarray:
    """'0-39', '3', '1,5,9' or '0-9,20' -> person numbers, or a clear error naming the valid range."""
    people: list[int] = []
    for part in str(spec).replace(" ", "").split(","):
        lo, dash, hi = part.partition("-")
        try:
            chunk = range(int(lo), int(hi) + 1) if dash else [int(lo)]
        except ValueError:
            raise ValueError(f"--people {spec!r}: use person numbers from 0 to {n_people - 1}, e.g. 0-39, 3 or 1,5,9.") from None
        people.extend(chunk)
    if not people or min(people) < 0 or max(people) >= n_people:
        raise ValueError(f"--people {spec!r}: person numbers run from 0 to {n_people - 1}.")
    return np.array(sorted(set(people)), dtype=np.int64)


@dataclass
class InversionRun:
    """The reconstructions, the verdict of each judge, and what the run cost."""

    reconstructions: Reconstructions
    verdict: dict
    policy: OutputPolicy
    attack: str
    strategy: str
    seconds: float
    shared_queries: int = 0  # queries not spent on one person (the adaptive attacker's look at the control)

    def summary(self) -> dict:
        """One JSON-ready record: the judges' verdict, queries spent, people with no signal, seconds."""
        rec = self.reconstructions
        return {"attack": self.attack, "output": self.policy.describe(), "strategy": self.strategy,
                "people": [int(p) for p in rec.identities], **{k: round(float(v), 4) for k, v in self.verdict.items()},
                "queries_per_person": int(rec.queries.max()),
                "queries_total": int(rec.queries.sum()) + self.shared_queries,
                "stalled": rec.stalled, "seconds": round(self.seconds, 2)}


def run_inversion(target: str = "softmax", regularised: bool = False, attack: str = "black-box",
                  output: str = "probabilities", queries: int = 2_000, people="0-39", seed: int = 0,
                  progress: bool = True) -> InversionRun:
    """Train or load a target, put it behind an API with the output control, attack it, judge the result."""
    from ..data import load_faces
    from ..judges import judge, train_evaluator
    from ..service import ModelAPI
    from ..targets import train_face_model

    if target not in TARGET_KINDS:
        raise ValueError(f"--target {target!r}: valid targets are {', '.join(TARGET_KINDS)}.")
    if attack not in ATTACKS:
        raise ValueError(f"--attack {attack!r}: valid attacks are {', '.join(ATTACKS)}.")
    if queries < 1:
        raise ValueError(f"--queries {queries}: give the queries per person, 1 or more (e.g. 2000).")
    policy = parse_policy(output)
    ids = parse_people(people) if isinstance(people, str) else np.asarray(people, dtype=np.int64)
    faces = load_faces(seed=0)
    model = train_face_model(faces, target, regularised=regularised, progress=progress)
    evaluator = train_evaluator(faces, progress=progress)
    api = ModelAPI(model.predict_proba, policy, input_size=4096, seed=seed)
    began = time.perf_counter()
    strategy, shared = "", 0
    if attack == "white-box":
        from ..attacks import invert_white_box

        rec, strategy = invert_white_box(model, ids, progress=progress), "gradients of the model itself (no API)"
    elif attack == "black-box":
        from ..attacks import invert_black_box

        rec = invert_black_box(api, ids, queries_per_identity=queries, seed=seed, progress=progress, find_signal=False)
        strategy = "naive: NES on the target's log-score as the API shows it, no adaptation"
    elif attack == "adaptive":
        from ..attacks.adaptive import invert_adaptive

        result = invert_adaptive(api, ids, queries_per_identity=queries, seed=seed, progress=progress)
        rec, strategy = result.reconstructions, f"saw {result.observed.describe()}; {result.strategy}"
        shared = result.observed.queries
    else:
        from ..attacks.label_only import invert_label_only

        rec = invert_label_only(api, ids, queries_per_identity=queries, seed=seed, progress=progress)
        strategy = "labels only: boundary attack"
    seconds = time.perf_counter() - began
    verdict = judge(rec.images, rec.identities, faces, evaluator)
    scores = {"lineup": verdict.lineup, "correlation_top1": verdict.correlation_top1,
              "evaluator_top1": verdict.evaluator_top1, "evaluator_top5": verdict.evaluator_top5}
    return InversionRun(rec, scores, policy, attack, strategy, seconds, shared)


def save_reconstructions(run: InversionRun, path) -> None:
    """The .npz an instructor or a script reads back: images, person numbers, queries and signal per person."""
    rec = run.reconstructions
    np.savez_compressed(path, images=np.clip(rec.images, 0, 1).astype(np.float32), identities=rec.identities,
                        queries_per_identity=rec.queries, signal=rec.signal)
