"""Lab 07: a model card whose leakage numbers the kit computes by running the attacks.

Every leakage number is one entry in MEASURES, a list of measurement functions registered with @measure.
A measurement function takes a Candidate (a model, the data it was trained on, and what outside callers
receive) and returns a Measurement whose value grows with leakage. Labs 01-05 register theirs below;
a later lab adds its own the same way, in this module, and the model card and the release gate pick it up:

    @measure("lab04-...", "04", "face", "What is measured (higher = more leakage)",
             advice="What to change when it rises", allowed_rise=0.10, applies=None)
    def my_leak(candidate: Candidate) -> Measurement:
        ...  # run the lab's attack on candidate.model / candidate.data through candidate.policy
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..defences.output_policies import OutputPolicy

KINDS = ("face", "tabular")
ACCURACY_KEY = "utility-test-accuracy"


# ---------------------------------------------------------------- what is released, and what is measured on it

def percent(x: float) -> str:
    """0.2 -> '20%', 0.025 -> '2.5%'."""
    return f"{100 * x:.1f}".rstrip("0").rstrip(".") + "%"


@dataclass
class Candidate:
    """A release candidate: the model, the data it was trained on, and the output policy outside callers get."""

    name: str
    model: Any  # a FaceModel (lab 03) or a TabularModel (labs 01-02)
    data: Any  # the FaceData or PeopleData the model was trained on
    policy: OutputPolicy | str = "label"
    version: str = "1"
    explanation: Any = None  # the explanation outside callers get with each answer (e.g. 'gradient:any'), or None

    def __post_init__(self):
        if isinstance(self.policy, str):
            self.policy = OutputPolicy(self.policy)
        if self.explanation is not None:
            from ..defences.explanations import parse_explanation

            self.explanation = parse_explanation(self.explanation)

    @property
    def kind(self) -> str:
        """'face' or 'tabular', from the data the model was trained on."""
        from ..data.face_photos import FaceData
        from ..data.synthetic_people import PeopleData

        if isinstance(self.data, FaceData):
            return "face"
        if isinstance(self.data, PeopleData):
            return "tabular"
        raise TypeError(f"Candidate data must be FaceData (load_faces()) or PeopleData (load_people()), "
                        f"not {type(self.data).__name__}.")

    @property
    def train_accuracy(self) -> float:
        """The model's accuracy on its training data."""
        return float(self.model.train_accuracy)

    @property
    def test_accuracy(self) -> float:
        """The model's accuracy on held-out data (what users get)."""
        return float(self.model.test_accuracy)


@dataclass(frozen=True)
class Measurement:
    """One leakage number measured on a candidate (higher = more leakage), with its chance level and details.

    A measurement function returns Measurement(value, chance, details); run_measures fills in key, lab, title, seconds.
    details["unit"] = "score" shows the value as a number (e.g. an advantage) instead of a percentage.
    """

    value: float
    chance: float | None = None
    details: dict = field(default_factory=dict)
    key: str = ""
    lab: str = ""
    title: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        """'100% (chance 20%)', or '0.11 (chance 0.00)' for a score."""
        show = percent if self.unit == "share" else (lambda x: f"{x:.2f}")
        return show(self.value) + (f" (chance {show(self.chance)})" if self.chance is not None else "")

    @property
    def unit(self) -> str:
        """'share' for rates shown as percentages, 'score' for differences such as an advantage."""
        return self.details.get("unit", "share")


@dataclass(frozen=True)
class Measure:
    """A registered measurement: which lab's attack, on which kind of model, and what to change when it rises."""

    key: str
    lab: str
    kind: str
    title: str
    run: Callable[[Candidate], Measurement]
    advice: str
    allowed_rise: float
    applies: Callable[[Candidate], bool] | None = None  # None: every candidate of this kind

    def applies_to(self, candidate: Candidate) -> bool:
        """Does this measure make sense for the candidate (its kind, and the measure's own condition)?"""
        return self.kind == candidate.kind and (self.applies is None or bool(self.applies(candidate)))


MEASURES: list[Measure] = []


def measure(key: str, lab: str, kind: str, title: str, advice: str, allowed_rise: float,
            applies: Callable[[Candidate], bool] | None = None):
    """Register a measurement function (candidate -> Measurement) for the model card and the release gate."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r}).")

    def register(run: Callable[[Candidate], Measurement]) -> Callable[[Candidate], Measurement]:
        entry = Measure(key, lab, kind, title, run, advice, allowed_rise, applies)
        MEASURES[:] = [m for m in MEASURES if m.key != key] + [entry]
        return run

    return register


def measures_for(kind: str | Candidate) -> list[Measure]:
    """The registered measures for a kind of model ('face', 'tabular') or for one candidate, in lab order."""
    if isinstance(kind, Candidate):
        return [m for m in measures_for(kind.kind) if m.applies_to(kind)]
    return sorted((m for m in MEASURES if m.kind == kind), key=lambda m: m.lab)


def run_measures(candidate: Candidate, measures: list[Measure] | None = None, progress: bool = True) -> dict[str, Measurement]:
    """Run every measure that applies to the candidate; key -> Measurement."""
    from tqdm.auto import tqdm

    todo = measures if measures is not None else measures_for(candidate)
    results = {}
    for m in tqdm(todo, desc=f"attacking {candidate.name}", disable=not progress, leave=False):
        start = time.perf_counter()
        result = m.run(candidate)
        results[m.key] = Measurement(float(result.value), result.chance, dict(result.details), m.key, m.lab, m.title,
                                     round(time.perf_counter() - start, 2))
    return results


# ---------------------------------------------------------------- labs 01-03: the measurements

_EVALUATORS: dict[int, Any] = {}


def _evaluator(faces):
    """The independent judge of lab 03 (trained once, ~30 s, then loaded from data/cache/)."""
    from ..judges.reconstructions import train_evaluator

    if id(faces) not in _EVALUATORS:
        _EVALUATORS[id(faces)] = train_evaluator(faces, progress=False)
    return _EVALUATORS[id(faces)]


@measure("lab01-membership", "01", "tabular", "Membership test advantage (TPR - FPR)",
         advice="The retrained model memorises its training records: regularise (a larger min_samples_leaf, lab 01) "
                "or train with differential privacy (lab 05).", allowed_rise=0.05)
def membership_leak(candidate: Candidate) -> Measurement:
    """Lab 01's best confidence-threshold membership test against the model."""
    from ..attacks.membership import membership_advantage

    test = membership_advantage(candidate.model.model, candidate.data)
    return Measurement(test.advantage, 0.0, {"unit": "score", "tpr": test.tpr, "fpr": test.fpr, "threshold": test.threshold})


def uses_sensitive_attribute(candidate: Candidate) -> bool:
    """Is the sensitive attribute one of the model's inputs (lab 02's attack tries its values as inputs)?"""
    return candidate.data.sensitive in candidate.data.features


@measure("lab02-attribute-inference", "02", "tabular",
         "Attribute inference through the API: margin over the prior (training members)",
         advice="The hidden attribute is easier to infer: regularise (lab 01), drop the attribute if the task does not "
                "need it (data minimisation, lab 05), and serve labels only (lab 04).", allowed_rise=0.05,
         applies=uses_sensitive_attribute)
def attribute_leak(candidate: Candidate) -> Measurement:
    """Lab 02's attribute inference (Fredrikson et al. 2014) through the candidate's output policy."""
    from ..attacks.probing import attribute_inference, make_api

    api = make_api(candidate.model.model, candidate.data, candidate.policy)
    members = attribute_inference(api, candidate.data, "members")
    others = attribute_inference(api, candidate.data, "non-members")
    return Measurement(members.margin, 0.0, {"unit": "score", "accuracy": members.accuracy, "prior_only": members.baseline,
                        "non_member_margin": others.margin, "queries": members.queries + others.queries,
                        "policy": candidate.policy.describe()})


@measure("lab03-white-box", "03", "face", "White-box MI-FACE (if the model file leaks): evaluator top-1",
         advice="Reconstructions from the model file itself became more recognisable: protect the file like the data, "
                "and reduce what the model encodes (data minimisation, differential privacy, lab 05).", allowed_rise=0.15)
def white_box_leak(candidate: Candidate) -> Measurement:
    """Lab 03's white-box MI-FACE on all 40 identities, judged by the independent evaluator."""
    import numpy as np

    from ..attacks.mi_face import invert_white_box
    from ..judges.reconstructions import judge

    people = candidate.data.people
    rec = invert_white_box(candidate.model, people, progress=False)
    v = judge(rec.images, people, candidate.data, _evaluator(candidate.data))
    return Measurement(v.recognised_top1, v.chance_top1, {"evaluator_top5": v.recognised_top5, "correlation_top1": v.template_correlation, "lineup": v.template_lineup})


BLACK_BOX_QUERIES = 5_000  # per person: a patient attacker's budget, a few seconds for all 40 people
SMALL_BUDGET = 1_000  # per person: an attacker held to 40,000 queries in all (rate limits, lab 06)
_STRONGEST: dict[str, tuple] = {}


def strongest_black_box(candidate: Candidate):
    """The strongest adaptive attack through the candidate's output policy (lab 04), run once per candidate and policy.

    Both attackers that know the control run (MI-FACE adapted to the output, and the boundary attack on labels
    alone); at each budget the one the strict evaluator recognises more counts. Returns evaluation.AttackOutcome.
    """
    from ..evaluation.output_controls import adaptive_attacks

    key = candidate.policy.describe()
    model, data, runs = _STRONGEST.get(key, (None, None, None))
    if model is not candidate.model or data is not candidate.data:  # `is`: a retrained model is a new run
        def measure() -> dict:
            return adaptive_attacks(candidate.model, candidate.policy, candidate.data, _evaluator(candidate.data),
                                    budget=BLACK_BOX_QUERIES, checkpoints=(200, SMALL_BUDGET, 2_000))

        runs = _cached_runs(candidate, measure)
        _STRONGEST.clear()  # one candidate at a time: the two budget measures share a run
        _STRONGEST[key] = (candidate.model, candidate.data, runs)
    return runs


STRONGEST_VERSION = 1  # bump when the attacks or what is kept of them change: the cached runs are measured again


def _cached_runs(candidate: Candidate, measure: Callable[[], dict]) -> dict:
    """The strongest attack's runs for a model the kit trained (its spec names its weights exactly), from
    data/cache/lab07/ when this model, output and budget were measured before (the attacks are seeded, so a rerun
    gives the same numbers); any other model is measured each time."""
    from ..paths import cached_object

    spec = getattr(candidate.model, "spec", None)
    if spec is None or not callable(getattr(spec, "key", None)):
        return measure()
    settings = {"model": spec.key(), "policy": candidate.policy.spelling(), "budget": BLACK_BOX_QUERIES,
                "small": SMALL_BUDGET, "people": [int(p) for p in candidate.data.people], "v": STRONGEST_VERSION}
    return cached_object("lab07", "strongest", settings, measure)


def _black_box_measurement(candidate: Candidate, budget: int) -> Measurement:
    """The strongest attack's recognised rate (the strict evaluator's top-1) at one budget (queries per person), with
    the second strict judge, the template leak and the contrast beside it, and how it got there."""
    runs = strongest_black_box(candidate)
    best = runs["strongest"]
    v = best.by_budget[budget]
    return Measurement(v.recognised_top1, v.chance_top1, {
        "budget": budget, "attack": best.name, "strategy": best.strategy, "nearest_photo": v.recognised_nearest,
        "template_lineup": v.template_lineup, "template_correlation": v.template_correlation,
        "contrast_grey_levels": v.contrast_grey_levels, "policy": candidate.policy.describe(),
        "attack_seconds": best.reconstructions.seconds})  # the attack's own time (the gate may read it from the cache)


@measure("lab03-black-box", "03", "face",
         f"Strongest black-box attack through the API ({BLACK_BOX_QUERIES:,} queries per person): recognised "
         "(evaluator top-1)",
         advice="A patient outside caller rebuilds faces an independent recogniser names more often: return less "
                "(labels only, lab 04), and hold each caller to fewer queries with rate limits and monitoring (lab 06).",
         allowed_rise=0.10)
def black_box_leak(candidate: Candidate) -> Measurement:
    """The strongest adaptive black-box attack of labs 03-04 at a patient attacker's budget, judged by the strict
    evaluator (recognised)."""
    return _black_box_measurement(candidate, BLACK_BOX_QUERIES)


@measure("lab04-black-box-cheap", "04", "face",
         f"Strongest black-box attack on a small budget ({SMALL_BUDGET:,} queries per person): recognised "
         "(evaluator top-1)",
         advice="The same faces now cost an attacker far fewer queries: return less (labels only, lab 04), so a rate "
                "limit (lab 06) holds the attacker below what it needs.", allowed_rise=0.10)
def cheap_black_box_leak(candidate: Candidate) -> Measurement:
    """The same strongest attack, judged after only a small budget per person: how cheap the faces are."""
    return _black_box_measurement(candidate, SMALL_BUDGET)


PRIOR_QUERIES = 1_000  # per person, for the attacker with a public-face prior (lab 08)


def enrols_some_people(candidate: Candidate) -> bool:
    """Does the model enrol only some of the 40 people, so that the others' photos can serve as public faces?"""
    return len(candidate.data.people) < candidate.data.n_people


@measure("lab08-prior-black-box", "08", "face",
         f"Black-box attack with a public-face prior ({PRIOR_QUERIES:,} queries per person): closer than any public face",
         advice="Attackers with public photos of other people rebuild faces closer to the enrolled people than to "
                "anyone they already held: consider transfer learning from public faces (lab 08), keep outputs to "
                "labels (lab 04) and bound queries (lab 06).", allowed_rise=0.10, applies=enrols_some_people)
def prior_leak(candidate: Candidate) -> Measurement:
    """Lab 08's black-box attack through the eigenface prior of the people the model does not enrol, judged against
    the nearest public face (and by the evaluator trained on the enrolled people)."""
    import numpy as np

    from ..attacks.face_priors import fit_pca_prior
    from ..attacks.with_prior import invert_prior_black_box, invert_prior_label_only
    from ..data.face_photos import load_faces
    from ..judges.reconstructions import closer_than_public, judge, train_evaluator
    from ..service.api import ModelAPI

    data, people = candidate.data, candidate.data.people
    public = load_faces(seed=0).only(np.setdiff1d(np.arange(data.n_people), people))  # everyone not enrolled
    api = ModelAPI(candidate.model.predict_proba, candidate.policy, input_size=4096)
    if not candidate.policy.shows_scores:
        rec = invert_prior_label_only(api, fit_pca_prior(public), people, queries_per_person=PRIOR_QUERIES,
                                      progress=False)
    else:
        rec = invert_prior_black_box(api, fit_pca_prior(public), people, queries_per_person=PRIOR_QUERIES,
                                     progress=False)
    evaluator = train_evaluator(data, progress=False)
    v = judge(rec.images, people, data, evaluator)
    closer = closer_than_public(rec.images, people, data, public, evaluator)
    return Measurement(closer, 0.0, {"evaluator_top1": v.recognised_top1, "lineup": v.template_lineup, "queries": api.queries,
                                     "policy": candidate.policy.describe()})


@measure("lab05-face-membership", "05", "face", "Membership test on the face model: advantage (TPR - FPR)",
         advice="The model tells its training photos from other photos of the same people more easily: regularise, "
                "or train with differential privacy (DP-SGD, lab 05), whose guarantee bounds exactly this.", allowed_rise=0.10)
def face_membership_leak(candidate: Candidate) -> Measurement:
    """Lab 05's membership measure: lab 01's best threshold test, training photos vs held-out photos."""
    from ..evaluation.training_defences import face_membership

    test = face_membership(candidate.model, candidate.data)
    return Measurement(test.advantage, 0.0, {"unit": "score", "tpr": test.tpr, "fpr": test.fpr})


# ---------------------------------------------------------------- the model card

EXPLAINED_QUERIES = 100  # explained queries per person: a few minutes of an outside caller's time


def explains_answers(candidate: Candidate) -> bool:
    """Does the release send an explanation with each answer (lab 04 section 5)?"""
    return candidate.explanation is not None


@measure("lab04-explanations", "04", "face",
         f"Explanation-guided MI-FACE through the API ({EXPLAINED_QUERIES} explained queries per person): recognised "
         "(evaluator top-1)",
         advice="Each explanation hands the attacker a gradient: explain only the answer's own class, coarsely, to the "
                "roles that need it, under a separate quota (lab 04 section 5); a new explanation needs the privacy "
                "owner's approval like any output change.", allowed_rise=0.05, applies=explains_answers)
def explanation_leak(candidate: Candidate) -> Measurement:
    """The explanation-guided attack of lab 04 through the candidate's outputs and explanation, by the strict judges."""
    from ..attacks.explanation_guided import invert_with_explanations
    from ..defences.explanations import explanation_utility
    from ..judges.reconstructions import judge
    from ..service.api import ExplainingAPI

    people = candidate.data.people
    api = ExplainingAPI(candidate.model, candidate.policy, candidate.explanation)
    rec = invert_with_explanations(api, people, queries_per_person=EXPLAINED_QUERIES, progress=False)
    v = judge(rec.images, people, candidate.data, _evaluator(candidate.data))
    value = v.recognised_top1 if rec.signal.any() else v.chance_top1
    return Measurement(value, v.chance_top1, {
        "explanation": candidate.explanation.describe(), "budget": EXPLAINED_QUERIES, "signal": bool(rec.signal.any()),
        "nearest_photo": v.recognised_nearest, "template_lineup": v.template_lineup, "strategy": rec.strategy,
        "utility": explanation_utility(candidate.model.net, candidate.data.X_test, candidate.explanation)})


@dataclass
class Audience:
    """Who may call the model, what they receive, and why that much."""

    who: str
    policy: OutputPolicy
    why: str


@dataclass
class Approval:
    """A sign-off on the card: role, name, decision and date."""

    role: str
    name: str
    decision: str
    date: str = ""


@dataclass
class ModelCard:
    """A model card (Mitchell et al. 2019) whose accuracy and leakage numbers were computed by the kit."""

    name: str
    version: str
    kind: str
    purpose: str
    out_of_scope: str
    data: str
    classification: str
    audiences: list[Audience]
    external_policy: OutputPolicy
    train_accuracy: float
    test_accuracy: float
    measurements: dict[str, Measurement]
    approvals: list[Approval] = field(default_factory=list)
    review: str = ""
    external_explanation: str = ""  # the explanation outside callers get with each answer (its spelling), "" for none

    def to_markdown(self) -> str:
        """The card as Markdown, every number formatted from the measurements."""
        lines = [f"## Model card: {self.name} (version {self.version})", "",
                 f"**Purpose.** {self.purpose}", "", f"**Out of scope.** {self.out_of_scope}", "",
                 f"**Training data.** {self.data}", "", f"**Data classification.** {self.classification}", "",
                 "**Who receives what.**", "", "| audience | output | why |", "|---|---|---|"]
        lines += [f"| {a.who} | {a.policy.describe()} | {a.why} |" for a in self.audiences]
        lines += ["", f"**Accuracy.** {self.train_accuracy:.1%} on training data, {self.test_accuracy:.1%} on held-out data.", "",
                  f"**Leakage measured by the kit's attacks** (outside callers get: {self.external_policy.describe()}"
                  + (f", with an explanation: {self.external_explanation}" if self.external_explanation else "")
                  + ").", "",
                  "| lab | attack | result |", "|---|---|---|"]
        lines += [f"| {m.lab} | {m.title} | {m.describe()} |" for m in self.measurements.values()]
        lines += ["", "**Approvals.**", ""]
        lines += [f"- {a.role}: {a.name} — {a.decision}" + (f" ({a.date})" if a.date else "") for a in self.approvals] or ["- none yet"]
        if self.review:
            lines += ["", f"**Review.** {self.review}"]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_json(self) -> dict:
        """The card as plain data (for saving beside the model)."""
        doc = asdict(self)
        doc["external_policy"] = asdict(self.external_policy)
        for a, raw in zip(self.audiences, doc["audiences"]):
            raw["policy"] = asdict(a.policy)
        return doc

    def save(self, path: Path | str) -> Path:
        """Write the card as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path | str) -> "ModelCard":
        """Read a card written by save()."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        doc["external_policy"] = OutputPolicy(**doc["external_policy"])
        doc["audiences"] = [Audience(a["who"], OutputPolicy(**a["policy"]), a["why"]) for a in doc["audiences"]]
        doc["approvals"] = [Approval(**a) for a in doc["approvals"]]
        doc["measurements"] = {k: Measurement(**m) for k, m in doc["measurements"].items()}
        return cls(**doc)


def model_card(candidate: Candidate, purpose: str, out_of_scope: str, data: str, classification: str,
               audiences: list[Audience], approvals: list[Approval] | None = None, review: str = "",
               progress: bool = True) -> ModelCard:
    """A model card for a candidate, its accuracy and leakage measured now by every registered measure."""
    return ModelCard(candidate.name, candidate.version, candidate.kind, purpose, out_of_scope, data, classification,
                     list(audiences), candidate.policy, candidate.train_accuracy, candidate.test_accuracy,
                     run_measures(candidate, progress=progress), list(approvals or []), review,
                     candidate.explanation.spelling() if candidate.explanation is not None else "")
