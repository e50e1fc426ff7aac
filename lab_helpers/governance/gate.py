"""The release gate: a retrained model ships only if no leakage measure rose beyond its allowance over the approved card."""
from __future__ import annotations

from dataclasses import dataclass

from ..defences.output_policies import OutputPolicy
from .card import (
    ACCURACY_KEY,
    MEASURES,
    Candidate,
    ModelCard,
    measures_for,
    percent,
    run_measures,
)

# ---------------------------------------------------------------- the release gate

OUTPUT_KEY = "output-change"  # the gate's change-control check on what outside callers get


def more_detailed(new: OutputPolicy, old: OutputPolicy) -> bool:
    """Does the new output policy tell callers more than the old one? (each kind's detail rank, `OUTPUT_KINDS`)"""
    return new.tells_more_than(old)


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
    unit: str = "share"  # share (a percentage), score (a number), or output (the policy outside callers get)
    direction: int = 1
    shown: tuple[str, str] = ()  # for unit "output": the approved and the retrained policy, in words

    @property
    def worse_by(self) -> float | None:
        """How much worse the number got (negative: it improved); None without an approved baseline."""
        return None if self.before is None else self.direction * (self.after - self.before)

    @property
    def passed(self) -> bool:
        """Within the allowed change (a measure with no approved baseline does not pass)."""
        return self.worse_by is not None and self.worse_by <= self.allowed + 1e-9

    def _fmt(self, x: float) -> str:
        if self.unit == "output":
            return self.shown[0] if x == self.before else self.shown[1]
        return percent(x) if self.unit == "share" else f"{x:.2f}"

    def _change(self, x: float) -> str:
        if self.unit == "output":
            return "more detail" if x > 0 else "no more detail"
        return f"{x * 100:+.1f} points".replace(".0 ", " ") if self.unit == "share" else f"{x:+.2f}"

    def row(self) -> dict:
        """One table row."""
        change = "no baseline" if self.before is None else self._change(self.after - self.before)
        allowed = "none without approval" if self.unit == "output" else self._change(self.direction * self.allowed)
        return {"lab": self.lab, "check": self.title, "approved": "—" if self.before is None else self._fmt(self.before),
                "retrained": self._fmt(self.after), "change": change, "allowed": allowed,
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
        old_explanation = baseline.explanation.spelling() if baseline.explanation is not None else ""
        name = f"{baseline.name} v{baseline.version}"
    else:
        if baseline.kind != retrained.kind:
            raise ValueError(f"Compare like with like: the card is for a {baseline.kind} model, the candidate is a {retrained.kind} model.")
        before, old_policy, old_test = baseline.measurements, baseline.external_policy, baseline.test_accuracy
        old_explanation = baseline.external_explanation
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
    if old_policy is not None:  # change control: outside callers get no more detail than was approved
        new_explanation = retrained.explanation.spelling() if retrained.explanation is not None else ""
        explained = bool(new_explanation) and new_explanation != old_explanation  # an explanation added or changed

        def said(policy, explanation):
            return policy.describe() + (f" with an explanation ({explanation})" if explanation else "")

        checks.append(GateCheck(OUTPUT_KEY, "04", "Output to outside callers (change control)", 0.0,
                                1.0 if more_detailed(retrained.policy, old_policy) or explained else 0.0, 0.0,
                                f"Outside callers would get {said(retrained.policy, new_explanation)} instead of the "
                                f"approved {said(old_policy, old_explanation)}. The measured leakage alone may barely "
                                "move (labels already feed the boundary attack), but an output change needs the privacy "
                                "owner's approval before release (privacy review item 'output changes'): keep the "
                                "approved output, or record the change on a new, approved model card and gate against "
                                "that.", "output",
                                shown=(said(old_policy, old_explanation), said(retrained.policy, new_explanation))))
    notes = []
    gap = retrained.train_accuracy - retrained.test_accuracy
    if gap > old_gap + 0.05:
        notes.append(f"The retrained model fits its training data much more closely than the approved one (train minus "
                     f"test accuracy {100 * gap:.0f} points against {100 * old_gap:.0f}): a sign of memorisation.")
    return GateResult(name, f"{retrained.name} v{retrained.version}", checks, notes)
