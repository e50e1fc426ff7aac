"""The pre-release privacy review: its checklist, the facts a reviewer checks each item against, and its grading."""
from __future__ import annotations

from dataclasses import dataclass

REVIEW_STATUSES = ("yes", "no", "n/a")


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
    ReviewItem("explanations", "Is an explanation sent only where it is needed: for which requests, to which roles, for the caller's own answer, under its own quota?",
               "A signed explanation of any class hands an inversion attacker the gradient, and a heat map's size leaks membership (lab 04).",
               "Explain only the caller's own answer, coarse and normalised, to the roles that need it, under a separate quota; measure it at the release gate."),
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
    "explanations": ("The kiosks show a name only, but the integrators' debug endpoint returns a signed attribution map for any identity to every partner key.", "no"),
    "periodic_review": ("The card names the privacy officer as owner and a review every six months; the last was two months ago.", "yes"),
    "separate_environments": ("Training runs in an isolated project; the production servers hold only the model file.", "yes"),
    "dataset_permissions": ("The photo bucket is readable by every engineer in the company (about 300 people).", "no"),
    "retest_after_retraining": ("The release gate below was run on version 2.", "yes"),
}
