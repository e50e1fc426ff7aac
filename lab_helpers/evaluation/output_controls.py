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

TARGET_LINEUP = 0.8  # "the attack works": the lineup picks the right person four times in five


@dataclass
class AttackOutcome:
    """One attacker at one setting: its verdict, its images, how it went about it, and its lineup by budget."""

    name: str
    verdict: object  # judges.Verdict
    reconstructions: Reconstructions
    strategy: str
    lineup_by_budget: dict = field(default_factory=dict)  # queries per person -> lineup

    def queries_to(self, lineup: float = TARGET_LINEUP) -> int | None:
        """The smallest measured budget (queries per person) at which the lineup reached `lineup`, or None."""
        reached = [b for b, v in sorted(self.lineup_by_budget.items()) if v >= lineup]
        return reached[0] if reached else None


def _outcome(name: str, rec: Reconstructions, strategy: str, faces, evaluator, budget: int) -> AttackOutcome:
    """Judge the final images and every snapshot the attack kept."""
    ids = rec.identities
    verdict = judge(rec.images, ids, faces, evaluator)
    by_budget = {int(b): judge(images, ids, faces, evaluator).template_lineup for b, images in rec.snapshots.items()}
    by_budget[int(budget)] = verdict.template_lineup
    return AttackOutcome(name, verdict, rec, strategy, by_budget)


def label_attack(face_model, faces, evaluator, budget: int = 2_000, seed: int = 0,
                 checkpoints=(200, 500, 1_000)) -> AttackOutcome:
    """The boundary attack on labels alone. Every setting sends the model's own label, so one run serves them all."""
    ids = faces.people
    api = ModelAPI(face_model.predict_proba, "label", input_size=4096, seed=seed)
    rec = invert_label_only(api, ids, queries_per_person=budget, seed=seed, progress=False,
                            checkpoints=tuple(c for c in checkpoints if c < budget))
    return _outcome("adaptive labels", rec, "the boundary attack on the label alone, in the style of BREP-MI", faces, evaluator, budget)


def attack_output_setting(face_model, policy: OutputPolicy, faces, evaluator, budget: int = 2_000, seed: int = 0,
                          checkpoints=(200, 500, 1_000), labels: AttackOutcome | None = None) -> dict[str, AttackOutcome]:
    """{'naive', 'adaptive scores', 'adaptive labels', 'strongest'}: each attacker's outcome at this setting.

    'strongest' is the adaptive attack with the higher final lineup, with a lineup-by-budget curve that takes, at
    each budget, the better of the two (an attacker uses whichever works), so "queries to 80 %" is the fewer.

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
                     checkpoints=(200, 500, 1_000), labels: AttackOutcome | None = None) -> dict[str, AttackOutcome]:
    """{'adaptive scores', 'adaptive labels', 'strongest'}: the attackers that know the control, and the stronger."""
    ids = faces.people
    marks = tuple(c for c in checkpoints if c < budget)
    out = {"adaptive labels": labels or label_attack(face_model, faces, evaluator, budget, seed, checkpoints)}
    if policy.shows_scores:
        api = ModelAPI(face_model.predict_proba, policy, input_size=4096, seed=seed)
        scores = invert_adaptive(api, ids, queries_per_person=budget, seed=seed, progress=False, checkpoints=marks)
        out["adaptive scores"] = _outcome("adaptive scores", scores, scores.strategy, faces, evaluator, budget)
    adaptive = list(out.values())
    strongest = max(adaptive, key=lambda o: o.verdict.template_lineup)
    # the adaptive attacker picks whichever attack works: at each budget, the best lineup either reached
    envelope = {b: max(o.lineup_by_budget.get(b, 0.0) for o in adaptive) for b in strongest.lineup_by_budget}
    out["strongest"] = AttackOutcome(strongest.name, strongest.verdict, strongest.reconstructions,
                                     strongest.strategy, envelope)
    return out
