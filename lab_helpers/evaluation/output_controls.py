"""An output control measured against the naive attacker and against the strongest adaptive attacker we built.

A defence is only as good as the strongest attack measured against it. At each output setting this runs:
- the **naive** attacker: lab 03's black-box MI-FACE as built for exact scores, which does not adapt;
- two **adaptive** attackers that know the control: MI-FACE with large probes and a search for hidden people
  (`invert_adaptive`), and the label-only boundary attack (`invert_label_only`), which needs nothing but the label
  every setting sends. The **strongest** of the two at that setting is what the control is judged by.
All go through the same query-counting `ModelAPI`, with the same budget per person, judged by the kit's referees.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..attacks.adaptive import invert_adaptive
from ..attacks.label_only import invert_label_only
from ..attacks.mi_face import Reconstructions, invert_black_box
from ..defences.output_policies import OutputPolicy
from ..judges.reconstructions import judge
from ..service.api import ModelAPI

HEADLINE = "recognised_top1"  # the judge a control is measured by: the strict evaluator's top-1
COST_BUDGETS = (200, 1_000, 2_000, 5_000, 10_000)  # queries per person of the cost curves
REFERENCE_BUDGET = 2_000  # a control's price: queries it needs to reach what exact scores give at this budget


@dataclass
class AttackOutcome:
    """One attacker at one setting: its verdict, its images, how it went about it, and its verdicts by budget."""

    name: str
    verdict: object  # judges.Verdict
    reconstructions: Reconstructions
    strategy: str
    by_budget: dict = field(default_factory=dict)  # queries per person -> judges.Verdict

    def rate(self, budget: int, judge: str = HEADLINE) -> float:
        """What one judge (a `Verdict` field, e.g. 'recognised_top1', 'template_lineup') gave at this budget."""
        return float(getattr(self.by_budget[budget], judge))

    def curve(self, judge: str = HEADLINE) -> dict[int, float]:
        """{queries per person: what `judge` gave}, for every measured budget."""
        return {b: self.rate(b, judge) for b in sorted(self.by_budget)}

    def queries_to(self, level: float, judge: str = HEADLINE) -> int | None:
        """The smallest measured budget (queries per person) at which `judge` reached `level`, or None."""
        reached = [b for b, v in self.curve(judge).items() if v >= level]
        return reached[0] if reached else None


def strength(verdict) -> tuple[float, float]:
    """How an attacker ranks attacks: recognised by the evaluator first, then by the nearest photo."""
    return (verdict.recognised_top1, verdict.recognised_nearest)


def queries_needed(curve: dict[int, float], level: float) -> float | None:
    """Queries per person at which a measured curve first reaches `level`, interpolated on a log scale between the
    budgets around it (None: not within the largest budget)."""
    points = sorted(curve.items())
    for k, (b, v) in enumerate(points):
        if v >= level:
            if k == 0:
                return float(b)
            (b0, v0) = points[k - 1]
            share = (level - v0) / (v - v0) if v > v0 else 1.0
            if share >= 1 - 1e-9:  # reached exactly at this budget
                return float(b)
            return float(np.exp(np.log(b0) + share * (np.log(b) - np.log(b0))))
    return None


def query_multiplier(curve: dict[int, float], reference: dict[int, float],
                     budget: int = REFERENCE_BUDGET) -> float | None:
    """The honest price of a control: queries per person it needs to reach what `reference` (exact scores) gave at
    `budget`, divided by `budget` (None: not reached within the curve's largest budget)."""
    needed = queries_needed(curve, reference[budget])
    return None if needed is None else needed / budget


def _outcome(name: str, rec: Reconstructions, strategy: str, faces, evaluator, budget: int) -> AttackOutcome:
    """Judge the final images and every snapshot the attack kept."""
    ids = rec.identities
    verdict = judge(rec.images, ids, faces, evaluator)
    by_budget = {int(b): judge(images, ids, faces, evaluator) for b, images in rec.snapshots.items()}
    by_budget[int(budget)] = verdict
    return AttackOutcome(name, verdict, rec, strategy, by_budget)


def label_attack(face_model, faces, evaluator, budget: int = 2_000, seed: int = 0,
                 checkpoints=COST_BUDGETS) -> AttackOutcome:
    """The boundary attack on labels alone. Every setting sends the model's own label, so one run serves them all."""
    ids = faces.people
    api = ModelAPI(face_model.predict_proba, "label", input_size=4096, seed=seed)
    rec = invert_label_only(api, ids, queries_per_person=budget, seed=seed, progress=False,
                            checkpoints=tuple(c for c in checkpoints if c < budget))
    return _outcome("adaptive labels", rec, "the boundary attack on the label alone, in the style of BREP-MI", faces, evaluator, budget)


def attack_output_setting(face_model, policy: OutputPolicy, faces, evaluator, budget: int = 2_000, seed: int = 0,
                          checkpoints=COST_BUDGETS, labels: AttackOutcome | None = None) -> dict[str, AttackOutcome]:
    """{'naive', 'adaptive scores', 'adaptive labels', 'strongest'}: each attacker's outcome at this setting.

    'strongest' is the adaptive attack the strict judges recognise more often at the end, with verdicts by budget
    that take, at each budget, the better of the two (an attacker uses whichever works).

    `labels` reuses a `label_attack` result (it is the same at every setting); without it, it is run here.
    """
    ids = faces.people
    marks = tuple(c for c in checkpoints if c < budget)

    def api() -> ModelAPI:
        return ModelAPI(face_model.predict_proba, policy, input_size=4096, seed=seed)

    naive = invert_black_box(api(), ids, queries_per_person=budget, seed=seed, progress=False, find_signal=False,
                             checkpoints=marks)
    out = {"naive": _outcome("naive", naive, "lab 03's attack as built for exact scores", faces, evaluator, budget)}
    out.update(adaptive_attacks(face_model, policy, faces, evaluator, budget, seed, checkpoints, labels))
    return out


def adaptive_attacks(face_model, policy: OutputPolicy, faces, evaluator, budget: int = 2_000, seed: int = 0,
                     checkpoints=COST_BUDGETS, labels: AttackOutcome | None = None) -> dict[str, AttackOutcome]:
    """{'adaptive scores', 'adaptive labels', 'strongest'}: the attackers that know the control, and the stronger."""
    ids = faces.people
    marks = tuple(c for c in checkpoints if c < budget)
    out = {"adaptive labels": labels or label_attack(face_model, faces, evaluator, budget, seed, checkpoints)}
    if policy.shows_scores:
        api = ModelAPI(face_model.predict_proba, policy, input_size=4096, seed=seed)
        scores = invert_adaptive(api, ids, queries_per_person=budget, seed=seed, progress=False, checkpoints=marks,
                                 scores_only=True)
        out["adaptive scores"] = _outcome("adaptive scores", scores, scores.strategy, faces, evaluator, budget)
    adaptive = list(out.values())
    strongest = max(adaptive, key=lambda o: strength(o.verdict))
    # the adaptive attacker picks whichever attack works: at each budget, the verdict of the one recognised more
    envelope = {b: max((o.by_budget[b] for o in adaptive if b in o.by_budget), key=strength)
                for b in strongest.by_budget}
    out["strongest"] = AttackOutcome(strongest.name, strongest.verdict, strongest.reconstructions,
                                     strongest.strategy, envelope)
    return out
