"""Lab 07 governance: a model card whose leakage numbers the kit computes, a pre-release privacy review,
and a release gate that reruns the attacks after retraining and blocks a release whose leakage rose.

Every leakage number is one entry in MEASURES, a list of measurement functions registered with @measure.
A measurement function takes a Candidate (a model, the data it was trained on, and what outside callers
receive) and returns a Measurement whose value grows with leakage. Labs 01-03 register theirs below;
a later lab adds its own the same way, in this module, and the model card and the release gate pick it up:

    @measure("lab04-...", "04", "face", "What is measured (higher = more leakage)",
             advice="What to change when it rises", allowed_rise=0.10, applies=None)
    def my_leak(candidate: Candidate) -> Measurement:
        ...  # run the lab's attack on candidate.model / candidate.data through candidate.policy
        return Measurement(value, chance, {"any": "details"})
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .defences import OutputPolicy

KINDS = ("face", "tabular")
REVIEW_STATUSES = ("yes", "no", "n/a")
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

    def __post_init__(self):
        if isinstance(self.policy, str):
            self.policy = OutputPolicy(self.policy)

    @property
    def kind(self) -> str:
        """'face' or 'tabular', from the data the model was trained on."""
        from .data import FaceData
        from .synthetic import PeopleData

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
    from .judges import train_evaluator

    if id(faces) not in _EVALUATORS:
        _EVALUATORS[id(faces)] = train_evaluator(faces, progress=False)
    return _EVALUATORS[id(faces)]


@measure("lab01-membership", "01", "tabular", "Membership test advantage (TPR - FPR)",
         advice="The retrained model memorises its training records: regularise (a larger min_samples_leaf, lab 01) "
                "or train with differential privacy (lab 05).", allowed_rise=0.05)
def membership_leak(candidate: Candidate) -> Measurement:
    """Lab 01's best confidence-threshold membership test against the model."""
    from .membership import membership_advantage

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
    from .probing import attribute_inference, make_api

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

    from .judges import judge
    from .mi_face import invert_white_box

    people = np.arange(candidate.data.n_people)
    rec = invert_white_box(candidate.model, people, progress=False)
    v = judge(rec.images, people, candidate.data, _evaluator(candidate.data))
    return Measurement(v.evaluator_top1, v.chance_top1, {"evaluator_top5": v.evaluator_top5, "correlation_top1": v.correlation_top1, "lineup": v.lineup})


BLACK_BOX_QUERIES = 2_000  # per person: a modest budget, a few seconds for all 40 people


@measure("lab03-black-box", "03", "face",
         f"Black-box MI-FACE through the API ({BLACK_BOX_QUERIES:,} queries per person): lineup",
         advice="Outside callers can now rebuild faces from the answers: return labels only (lab 04), and keep "
                "rate limits and monitoring in front of the API (lab 06). An output change needs approval.",
         allowed_rise=0.10)
def black_box_leak(candidate: Candidate) -> Measurement:
    """Lab 03's black-box MI-FACE through the candidate's output policy, judged by a lineup (1 of 5)."""
    import numpy as np

    from .api import ModelAPI
    from .judges import judge
    from .mi_face import invert_black_box

    people = np.arange(candidate.data.n_people)
    api = ModelAPI(candidate.model.predict_proba, candidate.policy, input_size=4096)
    rec = invert_black_box(api, people, queries_per_identity=BLACK_BOX_QUERIES, progress=False)
    v = judge(rec.images, people, candidate.data, _evaluator(candidate.data))
    return Measurement(v.lineup, v.chance_lineup, {"correlation_top1": v.correlation_top1, "evaluator_top1": v.evaluator_top1,
                        "queries": api.queries, "policy": candidate.policy.describe()})


@measure("lab05-face-membership", "05", "face", "Membership test on the face model: advantage (TPR - FPR)",
         advice="The model tells its training photos from other photos of the same people more easily: regularise, "
                "or train with differential privacy (DP-SGD, lab 05), whose guarantee bounds exactly this.", allowed_rise=0.10)
def face_membership_leak(candidate: Candidate) -> Measurement:
    """Lab 05's membership measure: lab 01's best threshold test, training photos vs held-out photos."""
    from .privacy import face_membership

    test = face_membership(candidate.model, candidate.data)
    return Measurement(test.advantage, 0.0, {"unit": "score", "tpr": test.tpr, "fpr": test.fpr})


# ---------------------------------------------------------------- the model card

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

    def to_markdown(self) -> str:
        """The card as Markdown, every number formatted from the measurements."""
        lines = [f"## Model card: {self.name} (version {self.version})", "",
                 f"**Purpose.** {self.purpose}", "", f"**Out of scope.** {self.out_of_scope}", "",
                 f"**Training data.** {self.data}", "", f"**Data classification.** {self.classification}", "",
                 "**Who receives what.**", "", "| audience | output | why |", "|---|---|---|"]
        lines += [f"| {a.who} | {a.policy.describe()} | {a.why} |" for a in self.audiences]
        lines += ["", f"**Accuracy.** {self.train_accuracy:.1%} on training data, {self.test_accuracy:.1%} on held-out data.", "",
                  f"**Leakage measured by the kit's attacks** (outside callers get: {self.external_policy.describe()}).", "",
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
                     run_measures(candidate, progress=progress), list(approvals or []), review)


# ---------------------------------------------------------------- the release gate

DETAIL_RANK = {"label": 0, "label_score": 1, "top_k": 2, "noisy": 2, "rounded": 3, "probabilities": 4}


def more_detailed(new: OutputPolicy, old: OutputPolicy) -> bool:
    """Does the new output policy tell callers more than the old one?"""
    rank_new, rank_old = DETAIL_RANK[new.kind], DETAIL_RANK[old.kind]
    if new.kind == old.kind == "rounded":
        return new.decimals > old.decimals
    if new.kind == old.kind == "top_k":
        return new.k > old.k
    if new.kind == old.kind == "noisy":
        return new.noise_scale < old.noise_scale
    return rank_new > rank_old


@dataclass
class GateCheck:
    """One number before and after retraining, and whether it got worse by more than allowed.

    direction +1: a leakage number (a rise is worse); -1: a utility number such as accuracy (a fall is worse).
    """

    key: str
    lab: str
    title: str
    before: float | None
    after: float
    allowed: float  # how much worse it may get
    advice: str
    unit: str = "share"
    direction: int = 1

    @property
    def worse_by(self) -> float | None:
        """How much worse the number got (negative: it improved); None without an approved baseline."""
        return None if self.before is None else self.direction * (self.after - self.before)

    @property
    def passed(self) -> bool:
        """Within the allowed change (a measure with no approved baseline does not pass)."""
        return self.worse_by is not None and self.worse_by <= self.allowed + 1e-9

    def _fmt(self, x: float) -> str:
        return percent(x) if self.unit == "share" else f"{x:.2f}"

    def _change(self, x: float) -> str:
        return f"{x * 100:+.1f} points".replace(".0 ", " ") if self.unit == "share" else f"{x:+.2f}"

    def row(self) -> dict:
        """One table row."""
        change = "no baseline" if self.before is None else self._change(self.after - self.before)
        return {"lab": self.lab, "check": self.title, "approved": "—" if self.before is None else self._fmt(self.before),
                "retrained": self._fmt(self.after), "change": change, "allowed": self._change(self.direction * self.allowed),
                "result": "pass" if self.passed else "BLOCK"}


@dataclass
class GateResult:
    """The release gate's verdict: every check, and what to change when it blocks."""

    baseline: str
    candidate: str
    checks: list[GateCheck]
    notes: list[str]

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[GateCheck]:
        """The checks that blocked the release."""
        return [c for c in self.checks if not c.passed]

    def table(self):
        """The checks as a DataFrame."""
        import pandas as pd

        return pd.DataFrame([c.row() for c in self.checks]).set_index("check")

    def message(self) -> str:
        """'RELEASE BLOCKED: ...' with what rose and what to change, or 'RELEASE PASSED'."""
        if self.passed:
            return (f"RELEASE PASSED: {self.candidate} against the approved {self.baseline}: no leakage measure rose, "
                    "and accuracy did not fall, by more than allowed.")
        lines = [f"RELEASE BLOCKED: {self.candidate} compared with the approved {self.baseline}."]
        for c in self.failed:
            row = c.row()
            what = (f"{c.title}: no approved baseline; measure and approve it first" if c.before is None else
                    f"{c.title} went from {row['approved']} to {row['retrained']} ({row['change']}; allowed {row['allowed']})")
            lines.append(f"- {what}.\n  What to change: {c.advice}")
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        head = "**RELEASE PASSED**" if self.passed else "**RELEASE BLOCKED**"
        first, *rest = self.message().split("\n", 1)
        body = first.split(": ", 1)[1]
        more = rest[0].replace("\n  What to change:", " *What to change:*") if rest else ""
        return f"{head}: {body}\n\n{more}"


def release_gate(baseline: Candidate | ModelCard, retrained: Candidate, thresholds: dict[str, float] | None = None,
                 max_accuracy_drop: float = 0.02, progress: bool = True) -> GateResult:
    """Rerun the attacks on a retrained candidate; block if leakage rose more than allowed or accuracy fell too far.

    baseline: the approved model card (its recorded numbers are used) or the approved candidate (measured now).
    thresholds: allowed rise per measure key (defaults: each measure's allowed_rise).
    """
    thresholds = dict(thresholds or {})
    unknown = set(thresholds) - {m.key for m in MEASURES}
    if unknown:
        raise KeyError(f"Unknown measure(s) {sorted(unknown)}: thresholds are keyed by {[m.key for m in MEASURES]}.")
    if isinstance(baseline, Candidate):
        if baseline.kind != retrained.kind:
            raise ValueError(f"Compare like with like: the baseline is a {baseline.kind} model, the candidate a {retrained.kind} model.")
        before = run_measures(baseline, progress=progress)
        old_policy, old_test, old_gap = baseline.policy, baseline.test_accuracy, baseline.train_accuracy - baseline.test_accuracy
        name = f"{baseline.name} v{baseline.version}"
    else:
        if baseline.kind != retrained.kind:
            raise ValueError(f"Compare like with like: the card is for a {baseline.kind} model, the candidate is a {retrained.kind} model.")
        before, old_policy, old_test = baseline.measurements, baseline.external_policy, baseline.test_accuracy
        old_gap, name = baseline.train_accuracy - baseline.test_accuracy, f"{baseline.name} v{baseline.version} (model card)"
    after = run_measures(retrained, progress=progress)
    checks = []
    for m in measures_for(retrained):
        old = before.get(m.key)
        checks.append(GateCheck(m.key, m.lab, m.title, None if old is None else old.value, after[m.key].value,
                                thresholds.get(m.key, m.allowed_rise), m.advice, after[m.key].unit))
    checks.append(GateCheck(ACCURACY_KEY, "—", "Test accuracy (utility)", old_test, retrained.test_accuracy,
                            max_accuracy_drop, "The retrained model is less useful than the approved one: choose settings "
                            "that keep accuracy (weaker regularisation, more data) and retest.", direction=-1))
    notes = []
    if more_detailed(retrained.policy, old_policy):
        notes.append(f"Outside callers would get {retrained.policy.describe()} instead of {old_policy.describe()}: an output "
                     "change needs the privacy owner's approval before release (privacy review item 'output changes').")
    gap = retrained.train_accuracy - retrained.test_accuracy
    if gap > old_gap + 0.05:
        notes.append(f"The retrained model fits its training data much more closely than the approved one (train minus "
                     f"test accuracy {100 * gap:.0f} points against {100 * old_gap:.0f}): a sign of memorisation.")
    return GateResult(name, f"{retrained.name} v{retrained.version}", checks, notes)


# ---------------------------------------------------------------- the pre-release privacy review

@dataclass(frozen=True)
class ReviewItem:
    """One item of the privacy review: the question, why it matters for inversion, and what to do when it is 'no'."""

    key: str
    question: str
    why: str
    fix: str


PRIVACY_REVIEW = (
    ReviewItem("data_classification", "Is the training data classified, and the model classified at least as high?",
               "A model can reveal its training data, so it carries the data's sensitivity.",
               "Classify the data set (sensitivity, legal category, owner) and label the model and its outputs to match."),
    ReviewItem("model_documentation", "Is there a current model card for this release: purpose, data, outputs per audience, measured leakage, approvals?",
               "Reviewers and the release gate need the approved numbers to compare against.",
               "Write or update the model card for this version, with the leakage measured on this version."),
    ReviewItem("threat_model", "Does the threat model include model inversion, with the attacks run against this release?",
               "A threat that is not modelled is not tested.",
               "Add model inversion (and membership inference) to the threat model and run the lab 02-03 attacks."),
    ReviewItem("output_changes", "Were output changes and new integrations approved by the privacy owner before going live?",
               "More output detail or a new consumer changes what the attacks can recover.",
               "Route output changes and new integrations through approval; roll back unapproved ones."),
    ReviewItem("periodic_review", "Is a periodic review scheduled, with an owner, and after every retraining?",
               "Attacks, integrations and models change after release.",
               "Name an owner and a review interval on the model card."),
    ReviewItem("separate_environments", "Are training and production environments separate, with no training data in production?",
               "A compromise of the serving stack should expose the model, not the data set.",
               "Move training into its own environment and remove training data from production."),
    ReviewItem("dataset_permissions", "Are dataset permissions restricted to named roles, with access logged?",
               "Everyone who can read the data can leak it, with or without the model.",
               "Restrict read access to the roles that train the model (least privilege) and log access."),
    ReviewItem("retest_after_retraining", "Was the release gate run on this retrained version?",
               "Every training run can memorise differently.",
               "Run release_gate(approved card, this candidate) and fix what it blocks."),
)


@dataclass
class ReviewOutcome:
    """The filled-in review: problems with the answers, items still open, and whether it is complete and clean."""

    answers: dict
    problems: list[str]
    open_items: list[ReviewItem]

    @property
    def ready(self) -> bool:
        """Every item answered properly and none open."""
        return not self.problems and not self.open_items

    def text(self) -> str:
        """The outcome as plain text."""
        lines = [f"Privacy review: {'READY for release' if self.ready else 'NOT ready'}"]
        lines += [f"  ! {p}" for p in self.problems]
        lines += [f"  open: {item.question}\n        fix: {item.fix}" for item in self.open_items]
        return "\n".join(lines)


def review_privacy(answers: dict[str, tuple[str, str]]) -> ReviewOutcome:
    """Check a filled-in review {item key: (status 'yes'|'no'|'n/a', evidence)}: every item answered, evidence for 'yes'."""
    keys = [item.key for item in PRIVACY_REVIEW]
    problems, open_items = [], []
    answers = dict(answers or {})
    for key in answers:
        if key not in keys:
            problems.append(f"{key!r} is not a review item; the items are: {', '.join(keys)}.")
    for item in PRIVACY_REVIEW:
        raw = answers.get(item.key)
        status, evidence = (raw if isinstance(raw, (tuple, list)) and len(raw) == 2 else (raw, ""))
        status = str(status).strip().lower() if status is not None else ""
        if status not in REVIEW_STATUSES:
            problems.append(f"{item.key}: answer 'yes', 'no' or 'n/a' (got {raw!r}).")
        elif status == "yes" and len(str(evidence).strip()) < 10:
            problems.append(f"{item.key}: a 'yes' needs evidence (what shows it, in a few words).")
        elif status == "no":
            open_items.append(item)
    return ReviewOutcome(answers, problems, open_items)


# The facts of lab 07's release, for the review exercise: item key -> (what the learner is told, the right status).
REVIEW_FACTS = {
    "data_classification": ("The photo set is classified Restricted (biometric personal data); version 1's model card says so.", "yes"),
    "model_documentation": ("Version 1 has a model card. Version 2 has none yet: the card still describes version 1.", "no"),
    "threat_model": ("The threat model names model theft, poisoning and model inversion; the lab 03 attacks ran on version 2 below.", "yes"),
    "output_changes": ("The kiosk team switched the kiosks to full scores for a 'match strength' display, without a change ticket.", "no"),
    "periodic_review": ("The card names the privacy officer as owner and a review every six months; the last was two months ago.", "yes"),
    "separate_environments": ("Training runs in an isolated project; the production servers hold only the model file.", "yes"),
    "dataset_permissions": ("The photo bucket is readable by every engineer in the company (about 300 people).", "no"),
    "retest_after_retraining": ("The release gate below was run on version 2.", "yes"),
}
