"""One face inversion run, start to finish: a target, an output control, an attacker, a budget, and the judges' verdict.

What `python -m lab_helpers invert` runs, for instructors, red teams and scripts. Judged by the kit's referees,
never by the target.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..defences.output_policies import OutputPolicy, parse_policy

if TYPE_CHECKING:  # the attacks load PyTorch: only when one runs (the command line's --help stays quick)
    from ..attacks.mi_face import Reconstructions

TARGET_KINDS = ("softmax", "mlp", "private")  # private: lab 08's recogniser of the private people (an MLP)
PRIORS = ("pca", "generator")


@dataclass(frozen=True)
class AttackEntry:
    """One attack `invert` offers: what it needs, and how to run it.

    run(model, api, prior, ids, queries, seed, progress) -> Reconstructions; `model` is the target (white-box attacks
    hold its weights), `api` the target behind the output control (every query counted), `prior` a face prior
    learned from the public people's photos (None unless `needs_prior`).
    """

    run: Callable
    needs_prior: bool = False
    needs_explanation: bool = False  # the API must explain its answers (`--output` an explanation, e.g. gradient:any)


def _white_box(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_white_box

    return invert_white_box(model, ids, progress=progress)


def _black_box(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_black_box

    rec = invert_black_box(api, ids, queries_per_person=queries, seed=seed, progress=progress, find_signal=False)
    rec.strategy = "naive: NES on the target's log-odds as the API shows its score, no adaptation"
    return rec


def _adaptive(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_adaptive

    return invert_adaptive(api, ids, queries_per_person=queries, seed=seed, progress=progress)


def _label_only(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_label_only

    return invert_label_only(api, ids, queries_per_person=queries, seed=seed, progress=progress)


def _prior_white_box(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_prior_white_box

    return invert_prior_white_box(model, prior, ids, seed=seed, progress=progress)


def _prior_black_box(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_prior_black_box

    return invert_prior_black_box(api, prior, ids, queries_per_person=queries, seed=seed, progress=progress)


def _prior_label_only(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_prior_label_only

    return invert_prior_label_only(api, prior, ids, queries_per_person=queries, seed=seed, progress=progress)


def _explanation_guided(model, api, prior, ids, queries, seed, progress):
    from ..attacks import invert_with_explanations

    return invert_with_explanations(api, ids, queries_per_person=queries, progress=progress)


# the attacks `invert` offers, by the name the command line takes
ATTACKS: dict[str, AttackEntry] = {
    "white-box": AttackEntry(_white_box),
    "black-box": AttackEntry(_black_box),
    "adaptive": AttackEntry(_adaptive),
    "label-only": AttackEntry(_label_only),
    "prior-white-box": AttackEntry(_prior_white_box, needs_prior=True),
    "prior-black-box": AttackEntry(_prior_black_box, needs_prior=True),
    "prior-label-only": AttackEntry(_prior_label_only, needs_prior=True),
    "explanation-guided": AttackEntry(_explanation_guided, needs_explanation=True),
}
PRIOR_ATTACKS = tuple(name for name, entry in ATTACKS.items() if entry.needs_prior)


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
    """The reconstructions (which carry the attack, its strategy and its queries), the judges' verdict, the control."""

    reconstructions: "Reconstructions"
    verdict: dict
    policy: OutputPolicy
    seconds: float
    explanation: object = None  # the ExplanationPolicy the API explained with, for the explanation-guided attack

    def summary(self) -> dict:
        """One JSON-ready record: the judges' verdict (recognised, template leak, visible: `judges.Verdict`), queries
        spent, people with no signal, seconds."""
        from ..judges.reconstructions import contrast_grey_levels

        rec = self.reconstructions
        output = self.policy.describe() + (f" + {self.explanation.describe()}" if self.explanation else "")
        return {"attack": rec.attack, "output": output, "strategy": rec.strategy,
                "people": [int(p) for p in rec.identities], **{k: int(v) if k == "faint" else round(float(v), 4) for k, v in self.verdict.items()},
                "contrast_grey_levels_per_person": [round(float(c), 2) for c in contrast_grey_levels(rec.images)],
                "queries_per_person": rec.queries_per_person, "queries_total": rec.total_queries,
                "stalled": rec.stalled, "seconds": round(self.seconds, 2)}


def run_inversion(target: str = "softmax", regularised: bool = False, attack: str = "black-box",
                  output: str = "probabilities", queries_per_person: int = 2_000, people=None, seed: int = 0,
                  progress: bool = True, prior: str = "pca") -> InversionRun:
    """Train or load a target, put it behind an API with the output control, attack it, judge the result.

    Parameters
    ----------
    target : 'softmax', 'mlp' (lab 03's targets) or 'private' (lab 08's recogniser of the private people).
    regularised : the regularised target instead of the overfit one (softmax and mlp).
    attack : a name in `ATTACKS`; the prior-* attacks need target 'private' (the prior is learned from the public
        people's photos).
    output : the output control, as `parse_policy` spells it ('probabilities', 'rounded:2', 'label', ...); for the
        explanation-guided attack, an explanation as `parse_explanation` spells it ('gradient:any', 'saliency', ...),
        answered with the label.
    queries_per_person : the attack's budget (white-box attacks ask no API).
    people : person numbers ('0-39', '3', '1,5,9' or a list); default every person the target enrols.
    seed : fixes the attack's random choices and the control's noise.
    progress : show progress bars.
    prior : 'pca' (eigenfaces) or 'generator', for the prior-* attacks.
    """
    from ..data import load_faces
    from ..judges import closer_than_public, judge, train_evaluator
    from ..service import ModelAPI
    from ..targets import train_face_model

    if target not in TARGET_KINDS:
        raise ValueError(f"--target {target!r}: valid targets are {', '.join(TARGET_KINDS)}.")
    if attack not in ATTACKS:
        raise ValueError(f"--attack {attack!r}: valid attacks are {', '.join(ATTACKS)}.")
    entry = ATTACKS[attack]
    if entry.needs_prior and target != "private":
        raise ValueError(f"--attack {attack} needs --target private: a prior is learned from the public people, "
                         "so the target must enrol only the private ones.")
    if prior not in PRIORS:
        raise ValueError(f"--prior {prior!r}: valid priors are {', '.join(PRIORS)}.")
    if queries_per_person < 1:
        raise ValueError(f"--queries {queries_per_person}: give the queries per person, 1 or more (e.g. 2000).")
    from ..defences.explanations import EXPLANATION_METHODS, SPELLING, parse_explanation

    explanation = None
    if str(output).split("+")[0].split(":")[0] in EXPLANATION_METHODS:
        try:
            explanation, policy = parse_explanation(output), parse_policy("label")
        except ValueError as exc:
            raise ValueError(f"--output: {exc}") from None
        if not entry.needs_explanation:
            raise ValueError(f"--output {output!r} is an explanation: use --attack explanation-guided with it.")
    elif entry.needs_explanation:
        raise ValueError(f"--attack {attack} needs an explanation as --output: {SPELLING}.")
    else:
        policy = parse_policy(output)
    faces = load_faces(seed=0)
    public = None
    if target == "private":
        from ..data.face_photos import public_private_split

        faces, public = public_private_split(faces)
        model = train_face_model(faces, "mlp", regularised=True, progress=progress)
    else:
        model = train_face_model(faces, target, regularised=regularised, progress=progress)
    if people is None:
        ids = faces.people
    else:
        ids = parse_people(people) if isinstance(people, str) else np.asarray(people, dtype=np.int64)
        outside = sorted(set(ids.tolist()) - set(faces.people.tolist()))
        if outside:
            raise ValueError(f"--people: {outside} are not enrolled by this target; it enrols "
                             f"{', '.join(map(str, faces.people))}.")
    evaluator = train_evaluator(faces, progress=progress)
    if explanation is not None:
        from ..service import ExplainingAPI

        api = ExplainingAPI(model, policy, explanation, seed=seed)
    else:
        api = ModelAPI(model.predict_proba, policy, input_size=4096, seed=seed)
    face_prior = None
    if entry.needs_prior:
        from ..attacks.face_priors import fit_pca_prior, train_generator_prior

        face_prior = fit_pca_prior(public) if prior == "pca" else train_generator_prior(public, progress=progress)
    began = time.perf_counter()
    rec = entry.run(model, api, face_prior, ids, queries_per_person, seed, progress)
    seconds = time.perf_counter() - began
    verdict = judge(rec.images, rec.identities, faces, evaluator)
    scores = {key: getattr(verdict, key) for key in ("recognised_top1", "recognised_top5", "recognised_nearest",
                                                      "template_lineup", "template_correlation", "contrast_grey_levels")}
    scores["faint"] = verdict.faint
    if public is not None:
        scores["closer_than_public"] = closer_than_public(rec.images, rec.identities, faces, public, evaluator)
    return InversionRun(rec, scores, policy, seconds, explanation)


def save_reconstructions(run: InversionRun, path) -> None:
    """The .npz an instructor or a script reads back: images, person numbers, queries and signal per person."""
    rec = run.reconstructions
    np.savez_compressed(path, images=np.clip(rec.images, 0, 1).astype(np.float32), identities=rec.identities,
                        queries_per_person=rec.queries, signal=rec.signal)


def measured_once(lab: str, name: str, settings: dict, run: Callable[[], object]) -> object:
    """A measurement run once on this machine and kept (data/cache/labNN/<name>-<hash of settings>.pkl): `run()` the
    first time these settings are seen, the kept result after. Settings must name everything that decides the result
    (the model's spec key, the judge's fingerprint, the people, the budget): the attacks are seeded, so a rerun would
    give the same numbers."""
    from ..paths import cached_object

    return cached_object(f"lab{lab}", name, settings, run)
