"""Lab 08 measured: the attacker with public faces against a recogniser of private people, and training defences.

`prior_lab()` builds the set-up once (cached models): the private and public people, the target that enrols the
private ones, the independent evaluator trained on the private people's photos, and the two priors learned from
the public photos. `judge_prior` scores reconstructions by four judges plus the nearest-public-face check;
`budget_table` runs every attack at equal budgets per person; `defence_table` retrains the target with each
training defence and attacks it again. Tables are cached in data/cache/lab08/ (the first run takes minutes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..attacks.mi_face import invert_black_box, invert_white_box
from ..attacks.label_only import invert_label_only
from ..attacks.face_priors import FacePrior, fit_pca_prior, train_generator_prior
from ..attacks.with_prior import (
    invert_prior_black_box,
    invert_prior_label_only,
    invert_prior_white_box,
    public_lookup,
)
from ..data.face_photos import FaceData, load_faces, public_private_split
from ..judges.reconstructions import Evaluator, closer_than_public, judge, train_evaluator
from ..paths import cache_dir, cache_lock, cached_rows, save_atomically
from ..service.api import ModelAPI

BUDGETS = (100, 300, 1_000, 3_000, 10_000)  # queries per person
ATTACKS = ("MI-FACE (no prior)", "eigenfaces prior", "generator prior")
TABLE_VERSION = 8  # 8: the eigenface attack is called "eigenfaces prior" (was "PCA prior")
# The largest budget the lab runs each prior attack to (the pixel attack goes to the largest of BUDGETS): both
# priors have levelled off by then (measured to 10,000 by the benchmark), and a first run of lab 08 must fit in two
# minutes on one CPU. `budget_table(lab, prior_max={...})` runs them further.
PRIOR_MAX_BUDGET = {"pca": 3_000, "generator": 1_000}


@dataclass
class PriorLab:
    """Everything lab 08 attacks and judges with."""

    private: FaceData  # the people the recogniser enrols
    public: FaceData  # the people whose photos the attacker holds
    target: object  # FaceModel enrolling the private people
    evaluator: Evaluator  # trained on the private people's photos only, independent of the target
    pca: FacePrior
    generator: FacePrior

    @property
    def people(self) -> np.ndarray:
        """The private people's Olivetti numbers."""
        return self.private.people

    def api(self, policy: str = "probabilities", model=None) -> ModelAPI:
        """A fresh query-counting API in front of the target (or another model)."""
        return ModelAPI((model or self.target).predict_proba, policy, input_size=4096)

    @cached_property
    def photo_features(self) -> tuple[np.ndarray, np.ndarray]:
        """The evaluator's features of every (public, private) photo, computed once for the closer-than-public judge."""
        return self.evaluator.photo_features(self.public.images), self.evaluator.photo_features(self.private.images)

    def prior(self, name: str) -> FacePrior:
        """'pca' or 'generator'."""
        if name not in ("pca", "generator"):
            raise ValueError(f"Unknown prior {name!r}: use 'pca' (eigenfaces) or 'generator' (the VAE).")
        return self.pca if name == "pca" else self.generator


_LABS: dict[tuple, PriorLab] = {}


def prior_lab(kind: str = "mlp", regularised: bool = True, progress: bool = True) -> PriorLab:
    """The lab 08 set-up (about half a minute on one CPU the first time; the models from data/cache/ after that)."""
    key = (kind, regularised)
    if key not in _LABS:
        from ..targets.face_classifiers import train_face_model

        faces = load_faces(seed=0)
        private, public = public_private_split(faces)
        target = train_face_model(private, kind, regularised=regularised, progress=progress)
        evaluator = train_evaluator(private, progress=progress)
        _LABS[key] = PriorLab(private, public, target, evaluator, fit_pca_prior(public),
                              train_generator_prior(public, progress=progress))
    return _LABS[key]


def judge_prior(images: np.ndarray, lab: PriorLab, identities=None) -> dict:
    """Every judge's score (shares in [0, 1]): evaluator top-1 and top-5, correlation, lineup, closer than public."""
    ids = lab.people if identities is None else np.asarray(identities)
    v = judge(images, ids, lab.private, lab.evaluator)
    return {"evaluator top-1": v.recognised_top1, "evaluator top-5": v.recognised_top5,
            "correlation top-1": v.template_correlation, "lineup": v.template_lineup,
            "closer than any public face": closer_than_public(images, ids, lab.private, lab.public, lab.evaluator,
                                                              lab.photo_features)}


def chance_levels(lab: PriorLab) -> dict:
    """What each judge gives a random guess (the closer-than-public check: about 0 for a face the attacker held)."""
    n = len(lab.people)
    return {"evaluator top-1": 1 / n, "evaluator top-5": 5 / n, "correlation top-1": 1 / n, "lineup": 0.2,
            "closer than any public face": 0.0}


def run_prior_attack(lab: PriorLab, attack: str, prior: str | None = None, budget: int = 1_000, model=None,
                     policy: str | None = None, seed: int = 0, progress: bool = False, checkpoints=()):
    """One attack on the private people: 'white-box', 'black-box', 'label-only' or 'public lookup'; prior None: pixels.

    Against a model the kit trained (its spec names its weights) each attack runs once per setting and is then read
    from data/cache/lab08/ (the attacks are seeded: a rerun gives the same images and counts)."""
    if attack not in ("white-box", "black-box", "label-only", "public lookup"):
        raise ValueError(f"Unknown attack {attack!r}: use white-box, black-box, label-only or public lookup.")
    plan = budget_plan(prior)
    if (attack == "black-box" and prior is not None and model is None and policy is None and seed == 0
            and not checkpoints and budget in plan and budget >= _full_start()):
        # the budget table's run passes this budget on its way to its largest: the same images, run once
        whole = run_prior_attack(lab, attack, prior, max(plan), seed=seed, progress=progress, checkpoints=plan[:-1])
        return whole if budget == max(plan) else _read_at(whole, budget)
    target = model or lab.target
    spec = getattr(target, "spec", None)

    def run():
        return _run_prior_attack(lab, attack, prior, budget, target, policy, seed, progress, checkpoints)

    if spec is None or not callable(getattr(spec, "key", None)):
        return run()
    from ..paths import cached_object

    settings = {"target": spec.key(), "attack": attack, "prior": prior, "budget": int(budget), "policy": policy,
                "seed": int(seed), "checkpoints": [int(c) for c in checkpoints], "people": lab.people.tolist(),
                "public": lab.public.split_key(), "v": ATTACK_VERSION}
    return cached_object("lab08", "attack", settings, run)


def budget_plan(prior: str | None, budgets=BUDGETS, prior_max: dict | None = None) -> tuple[int, ...]:
    """The budgets (queries per person) the budget table reads one black-box run at: all of `budgets` for the pixel
    attack, those up to PRIOR_MAX_BUDGET for a prior; the run goes to the largest and keeps its images at the others."""
    most = {**PRIOR_MAX_BUDGET, **(prior_max or {})}
    return tuple(b for b in sorted(int(b) for b in budgets) if prior is None or b <= most[prior])


def _full_start() -> float:
    """The budget from which the prior black-box attack's start (the best of a batch of random faces) no longer grows
    with the budget: from there, a longer run passes through exactly what a shorter one ends with."""
    from inspect import signature

    defaults = signature(invert_prior_black_box).parameters
    return defaults["start_cap"].default / defaults["start_share"].default


def _read_at(run, budget: int):
    """A prior black-box run as it stood when it had spent `budget` queries per person (one of its checkpoints): the
    same images and counts a run with that budget gives (the start and every step before it are the same)."""
    from dataclasses import replace

    spent = int(run.queries.max()) or 1
    return replace(run, images=run.snapshots[budget], queries=np.minimum(run.queries, budget), snapshots={},
                   seconds=run.seconds * budget / spent)


ATTACK_VERSION = 1  # bump when an attack or its prior changes: cached runs are measured again


def _run_prior_attack(lab: PriorLab, attack: str, prior: str | None, budget: int, target, policy: str | None,
                      seed: int, progress: bool, checkpoints):
    """run_prior_attack, run now."""
    ids = lab.people
    if attack == "white-box":
        return (invert_white_box(target, ids, progress=progress) if prior is None else
                invert_prior_white_box(target, lab.prior(prior), ids, seed=seed, progress=progress))
    if attack == "black-box":
        api = lab.api(policy or "probabilities", target)
        return (invert_black_box(api, ids, queries_per_person=budget, seed=seed, progress=progress,
                                 checkpoints=checkpoints) if prior is None else
                invert_prior_black_box(api, lab.prior(prior), ids, queries_per_person=budget, seed=seed, progress=progress,
                                       checkpoints=checkpoints))
    if attack == "label-only":
        api = lab.api(policy or "label", target)
        return (invert_label_only(api, ids, queries_per_person=max(budget, 300), seed=seed, progress=progress,
                                  checkpoints=checkpoints) if prior is None else
                invert_prior_label_only(api, lab.prior(prior), ids, queries_per_person=budget, seed=seed, progress=progress,
                                        checkpoints=checkpoints))
    if attack == "public lookup":
        return public_lookup(lab.api(policy or "probabilities", target), lab.public, ids)
    raise ValueError(f"Unknown attack {attack!r}: use white-box, black-box, label-only or public lookup.")


def _cached_table(name: str, settings: dict, build):
    """A table (list of row dicts) from data/cache/lab08/, built and saved when these settings are new."""
    return cached_rows("lab08", name, {**settings, "v": TABLE_VERSION}, build)


def budget_table(lab: PriorLab, budgets=BUDGETS, progress: bool = True, prior_max: dict | None = None):
    """Black-box attacks at equal budgets per person, without a prior and with each, judged: a DataFrame.

    prior_max: {prior: the largest budget it is run to} (default PRIOR_MAX_BUDGET; the pixel attack runs to them all).
    """
    prior_max = {**PRIOR_MAX_BUDGET, **(prior_max or {})}
    import pandas as pd
    from tqdm.auto import tqdm

    budgets = tuple(sorted(int(b) for b in budgets))

    def build():
        rows = []
        runs = [(name, prior) for name, prior in zip(ATTACKS, (None, "pca", "generator"))]
        for name, prior in tqdm(runs, desc="black-box attacks at each budget", disable=not progress, leave=False):
            # one run per attack at its largest budget; the smaller budgets are its images when it had spent them
            mine = budget_plan(prior, budgets, prior_max)
            rec = run_prior_attack(lab, "black-box", prior, max(mine), checkpoints=mine[:-1])
            for b in mine:
                images = rec.images if b == max(mine) else rec.snapshots[b]
                rows.append({"attack": name, "queries per person": b, **judge_prior(images, lab)})
        lookup = run_prior_attack(lab, "public lookup")
        rows.append({"attack": "public lookup (no inversion)", "queries per person": int(lookup.queries.max()),
                     **judge_prior(lookup.images, lab)})
        return rows

    settings = {"budgets": budgets, "target": lab.target.spec.key(), "people": lab.people.tolist()}
    if prior_max != PRIOR_MAX_BUDGET:
        settings["prior_max"] = prior_max
    rows = _cached_table("budgets", settings, build)
    return pd.DataFrame(rows)


def queries_without_prior(table, judge: str, prior: str = ATTACKS[1], budget: int = 1_000) -> float | None:
    """Queries per person the attack without a prior (pixel MI-FACE) needs to reach what `prior` reached at `budget`,
    by `judge`, interpolated on a log scale between the measured budgets (None: not within the largest budget).

    Divided by `budget`, it is how many times cheaper the prior makes that result for the attacker.
    """
    from .output_controls import queries_needed

    with_prior = table[(table["attack"] == prior) & (table["queries per person"] == budget)]
    if with_prior.empty:
        raise ValueError(f"The table has no {prior!r} row at {budget:,} queries per person.")
    pixels = table[table["attack"] == ATTACKS[0]]
    curve = dict(zip(pixels["queries per person"].astype(int), pixels[judge].astype(float)))
    return queries_needed(curve, float(with_prior[judge].iloc[0]) - 1e-9)


# ---------------------------------------------------------------- training defences against the prior attacker

DEFENCES = {
    "baseline (weight decay, 300 epochs)": {},
    "no weight decay (overfit)": {"regularised": False},
    "early stopping (60 epochs)": {"epochs": 60},
    "label smoothing +0.1": {"label_smoothing": 0.1},
    "label smoothing -0.05 (negative)": {"label_smoothing": -0.05},
    "transfer learning (public features, frozen)": {"transfer": True},
    "DP-SGD, ε = 10": {"dp": 10.0},
    "DP-SGD, ε = 1": {"dp": 1.0},
}


def defended_model(lab: PriorLab, setting: dict, progress: bool = False):
    """The private recogniser retrained with one training defence (cached)."""
    from ..defences.dp_sgd import train_private_model
    from ..targets.face_classifiers import train_face_model

    setting = dict(setting)
    if "dp" in setting:
        return train_private_model(lab.private, setting["dp"], progress=progress)
    regularised = setting.pop("regularised", True)
    transfer = lab.public if setting.pop("transfer", False) else None
    return train_face_model(lab.private, lab.target.spec.kind, regularised=regularised, progress=progress,
                            transfer_from=transfer, **setting)


def defence_table(lab: PriorLab, defences: dict | None = None, budget: int = 1_000, progress: bool = True):
    """Each training defence: the private people's test accuracy, and the prior attacker's success against it."""
    import pandas as pd
    from tqdm.auto import tqdm

    defences = dict(DEFENCES if defences is None else defences)

    def build():
        rows = []
        for name, setting in tqdm(defences.items(), desc="training defences, retrained and attacked",
                                  disable=not progress, leave=False):
            model = defended_model(lab, setting)
            row = {"defence": name, "test accuracy": float(model.test_accuracy)}
            black = run_prior_attack(lab, "black-box", "pca", budget, model=model)
            for judge_name, value in judge_prior(black.images, lab).items():
                row[f"black-box: {judge_name}"] = value
            white = run_prior_attack(lab, "white-box", "pca", model=model)
            for judge_name, value in judge_prior(white.images, lab).items():
                row[f"white-box: {judge_name}"] = value
            rows.append(row)
        return rows

    settings = {"defences": {k: {kk: (str(vv) if isinstance(vv, float) and math.isinf(vv) else vv)
                                 for kk, vv in v.items()} for k, v in defences.items()},
                "budget": budget, "people": lab.people.tolist(), "kind": lab.target.spec.kind}
    return pd.DataFrame(_cached_table("defences", settings, build)).set_index("defence")
